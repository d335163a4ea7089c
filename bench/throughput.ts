import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { repoRoot } from '#lib/otp-function';
import { createRepository } from '#core/store/repository';
import { createProject } from '#core/tenancy/projects';
import type { LocalServices } from '../local/services';
import { startTwilioServer } from '../local/twilio-server';
import { uniqueMobile } from './events';
import { median, percentile } from './stats';

/**
 * Throughput of the local stack: the API server `npm start` runs (one process, handlers from
 * sources), on DynamoDB Local, under a fixed load: CONCURRENCY virtual users, each signing up a new
 * number and verifying the code that arrived, again and again, for a fixed time, over loopback.
 * The load generator is fetch with a bounded number of flows in flight (autocannon is not a
 * dependency). Every answer other than the expected 201/200 is an error.
 */

export const CONCURRENCY = 8;

export interface ThroughputResult {
  readonly concurrency: number;
  readonly seconds: number;
  readonly flows: number;
  readonly requests: number;
  readonly errors: number;
  readonly flowsPerSecond: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  readonly firstError?: string;
}

export const measureThroughput = async (ctx: {
  node: string;
  env: Record<string, string>;
  services: LocalServices;
  twilio: { accountSid: string; authToken: string };
  seconds: number;
  log: (line: string) => void;
}): Promise<ThroughputResult> => {
  // Our own instance of the local Twilio endpoint, so the virtual users read codes from its memory, not over HTTP.
  const twilioServer = await startTwilioServer(ctx.twilio);
  const secretsDir = mkdtempSync(join(tmpdir(), 'otpgate-bench-tp-'));
  for (const name of ['pepper', 'signing-key']) writeFileSync(join(secretsDir, name), `throughput-${name}-${'x'.repeat(40)}`);
  writeFileSync(join(secretsDir, 'twilio'), JSON.stringify({ ...ctx.twilio, from: '+15005550006' }));

  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  // Every limit on; the per-IP one high, since every request of the run comes from 127.0.0.1.
  const settings = { resendCooldownSeconds: 1, sendsPerIpPerHour: 1_000_000, smsPerHour: 1_000_000, smsPerDay: 10_000_000, sendsPerCountryPerHour: 1_000_000 };
  const project = await createProject(createRepository(doc, ctx.env.TABLE_NAME!), { projectId: 'throughput', environments: ['production'], settings });
  const appKey = project.keys[0]!.appKey;

  const { PEPPER_SECRET_ID: _p, SIGNING_KEY_SECRET_ID: _s, TWILIO_SECRET_ID: _t, ...env } = ctx.env;
  const server = spawn(ctx.node, ['--import', 'tsx', join(repoRoot, 'bench/serve-local.ts')], {
    cwd: repoRoot,
    env: { ...env, OTPGATE_SECRETS_DIR: secretsDir, TWILIO_API_BASE_URL: twilioServer.url, LOG_LEVEL: 'silent', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = /\{"port":(\d+)\}/.exec(out);
        if (line) resolve(Number(line[1]));
      });
      server.on('exit', (code) => reject(new Error(`bench: local server exited (${code})`)));
    });
    const base = `http://127.0.0.1:${port}/auth/throughput/production`;
    const headers = { 'content-type': 'application/json', 'app-key': appKey };
    const latencies: number[] = [];
    let flows = 0;
    let errors = 0;
    let firstError: string | undefined;
    const call = async (path: string, body: unknown, expected: number): Promise<boolean> => {
      const t0 = performance.now();
      try {
        const res = await fetch(`${base}/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
        const text = await res.text();
        latencies.push(performance.now() - t0);
        if (res.status === expected) return true;
        firstError ??= `${path}: ${res.status} ${text.slice(0, 200)}`;
      } catch (error) {
        firstError ??= `${path}: ${String(error)}`;
      }
      errors += 1;
      return false;
    };
    const codeFor = (to: string): string | undefined => {
      for (let i = twilioServer.messages.length - 1; i >= 0; i -= 1) {
        const m = twilioServer.messages[i]!;
        if (m.to === to) return /\b(\d{6})\b/.exec(m.body)?.[1];
      }
      return undefined;
    };

    // One untimed flow first: the handlers load on their first request (as they do under npm start).
    const warmup = uniqueMobile();
    await call('mobile-otp-signup', { country_code: '+91', mobile: warmup }, 201);
    await call('mobile-otp-verify', { mobile: warmup, otp_code: codeFor(`+91${warmup}`) ?? '000000' }, 200);
    latencies.length = 0;
    errors = 0;
    firstError = undefined;

    const t0 = performance.now();
    const deadline = t0 + ctx.seconds * 1000;
    const user = async () => {
      while (performance.now() < deadline) {
        const mobile = uniqueMobile();
        if (!(await call('mobile-otp-signup', { country_code: '+91', mobile }, 201))) continue;
        const code = codeFor(`+91${mobile}`);
        if (code === undefined) {
          errors += 1;
          firstError ??= 'no code arrived';
          continue;
        }
        if (await call('mobile-otp-verify', { mobile, otp_code: code }, 200)) flows += 1;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, user));
    const elapsed = (performance.now() - t0) / 1000;
    return {
      concurrency: CONCURRENCY,
      seconds: Math.round(elapsed * 10) / 10,
      flows,
      requests: latencies.length + errors,
      errors,
      flowsPerSecond: flows / elapsed,
      requestsPerSecond: latencies.length / elapsed,
      latencyMs: { p50: median(latencies), p99: percentile(latencies, 99) },
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    server.kill('SIGTERM');
    await twilioServer.close();
    doc.destroy();
    rmSync(secretsDir, { recursive: true, force: true });
  }
};
