import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '#lib/otp-function';

/**
 * Cold init: a fresh Node process per sample imports one bundle (building its handler, as a
 * Lambda cold start does). Every target is sampled once per round, in a new random order each
 * round, so a noisy neighbour or a CPU frequency change lands on all of them alike. `parallel`
 * processes run at once (one per core by default): the figures judged are CPU time, which a
 * process beside it barely moves, and on a shared machine the run then gets its share of the CPU.
 */

/** The suffix of a function's cold-init target started with OTPGATE_TRACING=active. */
export const TRACED = ' (tracing)';

export interface InitTarget {
  readonly name: string;
  readonly file: string;
  readonly nodeOptions: string;
  /** Environment variables on top of Lambda's (e.g. OTPGATE_TRACING=active, as the stack deploys by default). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface InitSample {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly rss: number;
}

const shuffle = <T>(items: readonly T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

const sample = (node: string, target: InitTarget, env: Record<string, string>) =>
  new Promise<InitSample>((resolve, reject) => {
    const child = spawn(node, [join(repoRoot, 'bench/probe-init.mjs'), target.file], { env: { ...env, ...target.env, NODE_OPTIONS: target.nodeOptions } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench: cold init of ${target.name} failed:\n${stderr}`));
      const { wallMs, cpuMs, rss } = JSON.parse(stdout) as InitSample;
      resolve({ wallMs, cpuMs, rss });
    });
  });

export const measureColdInit = async (
  targets: readonly InitTarget[],
  options: { node: string; rounds: number; parallel: number; env: Record<string, string>; onRound?: (round: number) => void },
): Promise<Map<string, InitSample[]>> => {
  const samples = new Map<string, InitSample[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < options.rounds; round += 1) {
    const queue = shuffle(targets);
    const worker = async () => {
      for (let target = queue.shift(); target !== undefined; target = queue.shift()) samples.get(target.name)!.push(await sample(options.node, target, options.env));
    };
    await Promise.all(Array.from({ length: Math.max(1, options.parallel) }, worker));
    options.onRound?.(round + 1);
  }
  return samples;
};
