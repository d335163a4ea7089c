import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '#lib/otp-function';

/**
 * Cold init: a fresh Node process per sample imports one bundle (building its handler, as a
 * Lambda cold start does). Every target is sampled once per round, in a new random order each
 * round, so a noisy neighbour or a CPU frequency change lands on all of them alike.
 */

export interface InitTarget {
  readonly name: string;
  readonly file: string;
  readonly nodeOptions: string;
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

export const measureColdInit = (
  targets: readonly InitTarget[],
  options: { node: string; rounds: number; env: Record<string, string>; onRound?: (round: number) => void },
): Map<string, InitSample[]> => {
  const samples = new Map<string, InitSample[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < options.rounds; round += 1) {
    for (const target of shuffle(targets)) {
      const run = spawnSync(options.node, [join(repoRoot, 'bench/probe-init.mjs'), target.file], {
        env: { ...options.env, NODE_OPTIONS: target.nodeOptions },
        encoding: 'utf8',
      });
      if (run.status !== 0) throw new Error(`bench: cold init of ${target.name} failed:\n${run.stderr}`);
      const { wallMs, cpuMs, rss } = JSON.parse(run.stdout) as InitSample;
      samples.get(target.name)!.push({ wallMs, cpuMs, rss });
    }
    options.onRound?.(round + 1);
  }
  return samples;
};
