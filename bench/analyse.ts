import { otpFunctionSettings } from '#lib/otp-function';
import { KEY_CACHE_SECONDS } from '#core/tokens/signing-keys';
import { TWILIO_SECRET_CACHE_MS } from '#core/delivery/twilio-client';
import { ASSUMPTIONS, cpuShare, lambdaDurationCost, PRICES } from './cost';
import { TRACED, type InitSample } from './cold-init';
import type { CacheVariantRun, FirstVerifyRun, ProbeResult, RouteRun, Sample, SourceMapRun } from './functions';
import type { NodeRuntime } from './node-runtime';
import type { RecordedCall } from './record-sdk';
import { median, percentile, round } from './stats';
import type { ThroughputResult } from './throughput';

/** Turns the raw measurements into the figures BENCHMARKS.md reports and judges against the targets. */

export interface RawMeasurements {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: { readonly cores: number; readonly loadBefore: number; readonly loadAfter: number; readonly cpu: string };
  readonly node: NodeRuntime;
  readonly runtime: string;
  readonly nodeOptions: string;
  readonly rounds: number;
  readonly warm: number;
  readonly fidelity: { readonly entry: string; readonly identical: boolean; readonly cdkBytes: number };
  readonly bundles: readonly { readonly name: string; readonly bytes: number; readonly mapBytes: number }[];
  readonly floorOf: Readonly<Record<string, string>>;
  readonly coldInit: Readonly<Record<string, InitSample[]>>;
  readonly functions: readonly RouteRun[];
  readonly throughput: ThroughputResult;
  readonly cacheVariants?: readonly CacheVariantRun[];
  readonly sourceMapRuns?: readonly SourceMapRun[];
  readonly firstVerifies?: readonly FirstVerifyRun[];
  /** Cold-init processes at a time. */
  readonly parallel?: number;
}


export interface InitFigures {
  readonly name: string;
  readonly samples: number;
  readonly wallMedian: number;
  readonly wallP90: number;
  readonly cpuMedian: number;
  readonly cpuP90: number;
  readonly rssMb: number;
}

export interface ItemCount {
  readonly requests: number;
  readonly units: number;
}

/** DynamoDB use of one request, by item kind. */
export interface RequestCounts {
  readonly reads: Readonly<Record<string, ItemCount>>;
  readonly writes: Readonly<Record<string, ItemCount>>;
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly readRequests: number;
  readonly writeRequests: number;
  /** Sequential DynamoDB round trips (calls that overlapped count once). */
  readonly roundTrips: number;
}

export interface FunctionFigures {
  readonly route: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly unexpected: { readonly bundle: number; readonly sources: number };
  readonly bundle: LatencyFigures;
  readonly sources: LatencyFigures;
  readonly counts: RequestCounts;
  readonly secretsManager: { readonly coldStart: number; readonly perWarmRequest: number; readonly secretIds: readonly string[] };
  readonly logBytesPerRequest?: number;
}

export interface LatencyFigures {
  readonly initMs: number;
  readonly firstMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuP50: number;
  readonly rawP50: number;
  readonly rawP99: number;
  readonly ratioP50: number;
  readonly ratioP99: number;
  /** The median of each warm invocation's time over its own raw replay's (run right after it). */
  readonly pairedRatio: number;
}

export interface FlowCost {
  readonly flow: string;
  readonly routes: readonly string[];
  readonly perMillion: Readonly<Record<string, number>>;
  readonly total: number;
  readonly messagePerMillion: { readonly label: string; readonly cost: number };
  readonly providerLatencyNote: { readonly assumedMs: number; readonly extraPerMillion: number };
}

export interface BenchResult extends Omit<RawMeasurements, 'coldInit' | 'functions' | 'cacheVariants' | 'sourceMapRuns' | 'firstVerifies'> {
  /** The first verify after a signup (it also marks the user verified): counts only, from the sources. */
  readonly firstVerifies: readonly { readonly route: string; readonly unexpected: number; readonly counts: RequestCounts }[];
  readonly sourceMapRuns: readonly { readonly label: string; readonly route: string; readonly latency: LatencyFigures }[];
  readonly coldInit: readonly InitFigures[];
  readonly initRatios: readonly { readonly name: string; readonly floor: string; readonly cpuRatio: number; readonly wallRatio: number; readonly rssDeltaMb: number }[];
  /**
   * Each function started with OTPGATE_TRACING=active (the stack's default): its CPU against the
   * same floor, and against that floor plus what the tracer alone costs (the traced floor's CPU
   * over the plain table floor's).
   */
  readonly tracedInit: readonly { readonly name: string; readonly cpuMedian: number; readonly cpuP90: number; readonly cpuRatio: number; readonly cpuRatioWithTracerFloor: number; readonly rssDeltaMb: number }[];
  readonly tracerCpuMs: number;
  readonly functions: readonly FunctionFigures[];
  readonly costs: readonly FlowCost[];
  readonly cacheVariants: readonly { readonly variant: string; readonly route: string; readonly p50: number; readonly readsPerRequest: number; readonly readUnits: number }[];
  readonly prices: typeof PRICES;
  readonly assumptions: typeof ASSUMPTIONS;
}

const initFigures = (name: string, samples: readonly InitSample[]): InitFigures => ({
  name,
  samples: samples.length,
  wallMedian: round(median(samples.map((s) => s.wallMs))),
  wallP90: round(percentile(samples.map((s) => s.wallMs), 90)),
  cpuMedian: round(median(samples.map((s) => s.cpuMs))),
  cpuP90: round(percentile(samples.map((s) => s.cpuMs), 90)),
  rssMb: round(median(samples.map((s) => s.rss)) / 1e6),
});

/** What an item is, from its key (store/*.ts and tenancy key layouts). */
export const itemKind = (input: Record<string, unknown>): string => {
  const key = (input.Key ?? input.Item ?? {}) as { pk?: unknown; sk?: unknown };
  const pk = String(key.pk ?? '');
  const sk = String(key.sk ?? '');
  if (pk.startsWith('APPKEY#')) return 'app key';
  if (pk.startsWith('PROJECT#')) return 'project';
  if (pk.includes('#OTP#')) return 'code state';
  if (pk.includes('#ID#')) return 'identity';
  if (pk.includes('#RT#')) return 'refresh token';
  if (pk.includes('#USER#')) return sk === 'USER' ? 'user' : 'session revocation';
  if (pk.includes('#IP#')) return 'ip counter';
  if (pk.includes('#SPEND#')) return 'spend counter';
  return 'other';
};

const READS = new Set(['GetItem', 'Query', 'BatchGetItem']);

/** A transaction costs 2 write units per item of up to 1 KB (ConditionCheck items too), whatever DynamoDB Local reports. */
const countCalls = (calls: readonly RecordedCall[]): RequestCounts => {
  const reads: Record<string, { requests: number; units: number }> = {};
  const writes: Record<string, { requests: number; units: number }> = {};
  const add = (map: typeof reads, kind: string, units: number) => {
    const entry = (map[kind] ??= { requests: 0, units: 0 });
    entry.requests += 1;
    entry.units += units;
  };
  const dynamo = calls.filter((c) => c.service === 'dynamodb');
  for (const call of dynamo) {
    if (READS.has(call.command)) add(reads, itemKind(call.input), call.capacityUnits ?? (call.input.ConsistentRead ? 1 : 0.5));
    else if (call.command === 'TransactWriteItems') {
      for (const item of call.input.TransactItems as Record<string, Record<string, unknown>>[]) {
        const [kind, body] = Object.entries(item)[0]!;
        add(writes, `${itemKind(body)} (transaction ${kind})`, 2);
      }
    } else add(writes, itemKind(call.input), call.capacityUnits ?? 1);
  }
  let roundTrips = 0;
  let end = -Infinity;
  for (const call of [...dynamo].sort((a, b) => a.start - b.start)) {
    if (call.start >= end) roundTrips += 1;
    end = Math.max(end, call.end);
  }
  const sum = (map: typeof reads, field: 'requests' | 'units') => Object.values(map).reduce((s, e) => s + e[field], 0);
  return { reads, writes, readUnits: sum(reads, 'units'), writeUnits: sum(writes, 'units'), readRequests: sum(reads, 'requests'), writeRequests: dynamo.length - sum(reads, 'requests'), roundTrips };
};

/** The average over warm requests, kind by kind. */
const averageCounts = (samples: readonly Sample[]): RequestCounts => {
  const all = samples.map((s) => countCalls(s.calls ?? []));
  const n = Math.max(all.length, 1);
  const averageMap = (pick: (c: RequestCounts) => Readonly<Record<string, ItemCount>>) => {
    const out: Record<string, ItemCount> = {};
    for (const kind of new Set(all.flatMap((c) => Object.keys(pick(c))))) {
      const requests = all.reduce((s, c) => s + (pick(c)[kind]?.requests ?? 0), 0) / n;
      const units = all.reduce((s, c) => s + (pick(c)[kind]?.units ?? 0), 0) / n;
      out[kind] = { requests: round(requests, 2), units: round(units, 2) };
    }
    return out;
  };
  const avg = (pick: (c: RequestCounts) => number) => round(all.reduce((s, c) => s + pick(c), 0) / n, 2);
  return {
    reads: averageMap((c) => c.reads),
    writes: averageMap((c) => c.writes),
    readUnits: avg((c) => c.readUnits),
    writeUnits: avg((c) => c.writeUnits),
    readRequests: avg((c) => c.readRequests),
    writeRequests: avg((c) => c.writeRequests),
    roundTrips: avg((c) => c.roundTrips),
  };
};

const latency = (result: ProbeResult): LatencyFigures => {
  const warm = result.samples.slice(1);
  const p50 = median(warm.map((s) => s.ms));
  const p99 = percentile(warm.map((s) => s.ms), 99);
  const rawP50 = median(result.raw);
  const rawP99 = percentile(result.raw, 99);
  return {
    initMs: round(result.initMs),
    firstMs: round(result.samples[0]?.ms ?? Number.NaN),
    p50: round(p50, 2),
    p99: round(p99, 2),
    cpuP50: round(median(warm.map((s) => s.cpuMs)), 2),
    rawP50: round(rawP50, 2),
    rawP99: round(rawP99, 2),
    ratioP50: round(p50 / rawP50, 2),
    ratioP99: round(p99 / rawP99, 2),
    pairedRatio: round(median(result.raw.map((r, i) => (warm[i]?.ms ?? Number.NaN) / r).filter(Number.isFinite)), 2),
  };
};

/** Secrets a warm container re-reads once their cache expires (the next request after), among those its requests read. */
const rereadIntervalsSeconds = (secretIds: readonly string[]): number[] => [
  ...(secretIds.some((id) => id.includes('twilio')) ? [TWILIO_SECRET_CACHE_MS / 1000] : []),
  ...(secretIds.some((id) => id.includes('signing-key')) ? [KEY_CACHE_SECONDS] : []),
];

const FLOWS: readonly { flow: string; routes: readonly [string, string]; message: 'sms' | 'email' | 'whatsapp' }[] = [
  { flow: 'SMS sign-in: mobile-otp-login + mobile-otp-verify', routes: ['MobileOtpLogin', 'MobileOtpVerify'], message: 'sms' },
  { flow: 'Email sign-in: email-otp-login + email-otp-verify', routes: ['EmailOtpLogin', 'EmailOtpVerify'], message: 'email' },
  { flow: 'SMS verification id: send-verification-code + user/authenticate', routes: ['SendVerificationCode', 'UserAuthenticate'], message: 'sms' },
  { flow: 'WhatsApp OTP: sendOTP + verifyOTP', routes: ['WhatsappSendOtp', 'WhatsappVerifyOtp'], message: 'whatsapp' },
];

/** Twilio's own answer time, which the local endpoint does not have: used only for the sensitivity note. */
const ASSUMED_TWILIO_MS = 250;

const flowCost = (flow: (typeof FLOWS)[number], figures: readonly FunctionFigures[]): FlowCost => {
  const perMillion = { 'API Gateway HTTP API': 0, 'Lambda requests': 0, 'Lambda duration': 0, 'DynamoDB writes': 0, 'DynamoDB reads': 0, 'Secrets Manager': 0 };
  const perSecond = ASSUMPTIONS.flowsPerMonth / ASSUMPTIONS.secondsPerMonth;
  for (const routeId of flow.routes) {
    const f = figures.find((x) => x.route === routeId);
    if (!f) continue;
    const s = ASSUMPTIONS.coldStartShare;
    // Duration as measured on the bundle; a cold start (billed since August 2025) adds init and the first invocation.
    const durationMs = (1 - s) * f.bundle.p50 + s * (f.bundle.initMs + f.bundle.firstMs);
    perMillion['API Gateway HTTP API'] += PRICES.httpApiPerMillionRequests;
    perMillion['Lambda requests'] += PRICES.lambdaPerMillionRequests;
    perMillion['Lambda duration'] += lambdaDurationCost(durationMs, f.memoryMb) * 1e6;
    perMillion['DynamoDB writes'] += f.counts.writeUnits * PRICES.dynamoPerMillionWriteUnits;
    perMillion['DynamoDB reads'] += f.counts.readUnits * PRICES.dynamoPerMillionReadUnits;
    const periodic = rereadIntervalsSeconds(f.secretsManager.secretIds).reduce((sum, interval) => sum + Math.min(1, 1 / (perSecond * interval)), 0);
    perMillion['Secrets Manager'] += (s * f.secretsManager.coldStart + f.secretsManager.perWarmRequest + periodic) * PRICES.secretsManagerPerMillionCalls;
  }
  const rounded = Object.fromEntries(Object.entries(perMillion).map(([k, v]) => [k, round(v, 3)]));
  const send = figures.find((x) => x.route === flow.routes[0]);
  const extra = flow.message === 'email' || !send ? 0 : lambdaDurationCost(ASSUMED_TWILIO_MS, send.memoryMb) * 1e6;
  return {
    flow: flow.flow,
    routes: flow.routes,
    perMillion: rounded,
    total: round(Object.values(perMillion).reduce((a, b) => a + b, 0), 2),
    messagePerMillion:
      flow.message === 'email'
        ? { label: 'Amazon SES, one email', cost: PRICES.sesPerMillionEmails }
        : { label: `Twilio ${flow.message === 'sms' ? 'SMS' : 'WhatsApp'} message (US rate; varies by country)`, cost: round(PRICES.twilioSmsUs * 1e6, 0) },
    providerLatencyNote: { assumedMs: flow.message === 'email' ? 0 : ASSUMED_TWILIO_MS, extraPerMillion: round(extra, 2) },
  };
};

export const analyse = (raw: RawMeasurements): BenchResult => {
  const coldInit = Object.entries(raw.coldInit).map(([name, samples]) => initFigures(name, samples));
  const byName = new Map(coldInit.map((f) => [f.name, f]));
  const initRatios = coldInit
    .filter((f) => !f.name.startsWith('floor:') && !f.name.includes('source-maps') && !f.name.endsWith(TRACED))
    .map((f) => {
      const floorName = raw.floorOf[f.name] ?? 'floor:table+secrets';
      const floor = byName.get(floorName)!;
      return { name: f.name, floor: floorName, cpuRatio: round(f.cpuMedian / floor.cpuMedian, 2), wallRatio: round(f.wallMedian / floor.wallMedian, 2), rssDeltaMb: round(f.rssMb - floor.rssMb) };
    });

  const plainFloor = byName.get('floor:table+secrets');
  const tracedFloor = byName.get('floor:table+secrets+tracer');
  const tracerCpuMs = plainFloor && tracedFloor ? round(tracedFloor.cpuMedian - plainFloor.cpuMedian) : Number.NaN;
  const tracedInit = coldInit
    .filter((f) => f.name.endsWith(TRACED))
    .map((f) => {
      const floor = byName.get(raw.floorOf[f.name.slice(0, -TRACED.length)] ?? 'floor:table+secrets')!;
      return {
        name: f.name.slice(0, -TRACED.length),
        cpuMedian: f.cpuMedian,
        cpuP90: f.cpuP90,
        cpuRatio: round(f.cpuMedian / floor.cpuMedian, 2),
        cpuRatioWithTracerFloor: round(f.cpuMedian / (floor.cpuMedian + tracerCpuMs), 2),
        rssDeltaMb: round(f.rssMb - floor.rssMb),
      };
    });

  const functions: FunctionFigures[] = raw.functions.map((run) => {
    const settings = otpFunctionSettings(run.route);
    const warmSamples = run.sources.samples.slice(1);
    return {
      route: run.route,
      memoryMb: settings.memoryMb,
      timeoutSeconds: settings.timeoutSeconds,
      unexpected: {
        bundle: run.bundle.samples.filter((s) => s.status !== run.expectedStatus).length,
        sources: run.sources.samples.filter((s) => s.status !== run.expectedStatus).length,
      },
      bundle: latency(run.bundle),
      sources: latency(run.sources),
      counts: averageCounts(warmSamples),
      secretsManager: {
        coldStart: run.bundle.secretsManager.coldStart,
        perWarmRequest: round(run.bundle.secretsManager.warm / Math.max(run.bundle.secretsManager.warmRequests, 1), 3),
        secretIds: run.bundle.secretsManager.coldStartIds,
      },
      logBytesPerRequest: Math.round(run.bundle.logBytes / Math.max(run.bundle.samples.length, 1)),
    };
  });

  const cacheVariants = (raw.cacheVariants ?? []).map((v) => {
    const warm = v.result.samples.slice(1);
    const counts = averageCounts(warm);
    return { variant: v.variant, route: v.route, p50: round(median(warm.map((s) => s.ms)), 2), readsPerRequest: counts.readRequests, readUnits: counts.readUnits };
  });

  const firstVerifies = (raw.firstVerifies ?? []).map((v) => ({
    route: v.route,
    unexpected: v.result.samples.filter((s) => s.status !== 200).length,
    counts: averageCounts(v.result.samples.slice(1)),
  }));

  const { coldInit: _c, functions: _f, cacheVariants: _v, sourceMapRuns: _s, firstVerifies: _fv, ...rest } = raw;
  return {
    ...rest,
    sourceMapRuns: (raw.sourceMapRuns ?? []).map((run) => ({ label: run.label, route: run.route, latency: latency(run.result) })),
    coldInit,
    initRatios,
    tracedInit,
    tracerCpuMs,
    functions,
    costs: FLOWS.map((flow) => flowCost(flow, functions)),
    cacheVariants,
    firstVerifies,
    prices: PRICES,
    assumptions: ASSUMPTIONS,
  };
};

export { cpuShare };
