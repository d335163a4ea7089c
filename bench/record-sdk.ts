import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Preloaded (node --import) into the probe that runs a handler from its sources: an SDK middleware
 * on every DynamoDB, Secrets Manager and SES client the handler builds records each call (the
 * service, the command, its wire input, the capacity DynamoDB says it consumed, and when it
 * started and ended). probe-invoke.mjs asks for the calls of each invocation through
 * globalThis.benchRecorder. The handler's code is untouched: the middleware is added to each
 * client's stack on its first send.
 */

export interface RecordedCall {
  readonly service: 'dynamodb' | 'secretsmanager' | 'sesv2';
  readonly command: string;
  readonly input: Record<string, unknown>;
  /** Capacity units DynamoDB reported (single-item operations); transactions are priced by their items. */
  readonly capacityUnits: number | undefined;
  readonly start: number;
  readonly end: number;
}

type Stack = { add: (middleware: unknown, options: Record<string, unknown>) => void };
type Sendable = { prototype: { send: (this: { middlewareStack: Stack; config: unknown }, ...args: unknown[]) => unknown } };

let calls: RecordedCall[] = [];
const instrumented = new WeakSet<object>();

/**
 * BENCH_EMULATE_CACHE=keys or keys,projects: answers GetItem of APP-KEY (and project) items from
 * what this container read in the last 30 s, as a cache in front of the repository would, so the
 * bench can price such a cache on the same code (a key cache lives in functions/core/http when
 * there is one; the bench then simply sees fewer reads).
 */
const emulated = new Set((process.env.BENCH_EMULATE_CACHE ?? '').split(',').filter(Boolean));
const cache = new Map<string, { at: number; output: Record<string, unknown> }>();
const cacheKeyOf = (command: string, input: Record<string, unknown>): string | undefined => {
  if (command !== 'GetItem') return undefined;
  const pk = String((input.Key as { pk?: unknown } | undefined)?.pk ?? '');
  if ((emulated.has('keys') && pk.startsWith('APPKEY#')) || (emulated.has('projects') && pk.startsWith('PROJECT#'))) return pk;
  return undefined;
};

const middlewareFor = (service: RecordedCall['service']) => (next: (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>, context: { commandName?: string }) =>
  async function benchRecorder(args: { input: Record<string, unknown> }) {
    const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
    // Ask DynamoDB what the call cost; the handler never reads ConsumedCapacity, so its behaviour is the same.
    if (service === 'dynamodb') args.input = { ...args.input, ReturnConsumedCapacity: 'TOTAL' };
    const input = structuredClone(args.input);
    const cacheKey = cacheKeyOf(command, input);
    const hit = cacheKey === undefined ? undefined : cache.get(cacheKey);
    if (hit && performance.now() - hit.at < 30_000) return { output: structuredClone(hit.output) };
    const start = performance.now();
    try {
      const result = await next(args);
      if (cacheKey !== undefined) cache.set(cacheKey, { at: performance.now(), output: structuredClone(result.output) });
      const consumed = result.output.ConsumedCapacity as { CapacityUnits?: number } | undefined;
      calls.push({ service, command, input, capacityUnits: Array.isArray(consumed) ? undefined : consumed?.CapacityUnits, start, end: performance.now() });
      return result;
    } catch (error) {
      calls.push({ service, command, input, capacityUnits: undefined, start, end: performance.now() });
      throw error;
    }
  };

const instrument = (client: Sendable, service: RecordedCall['service']) => {
  const send = client.prototype.send;
  client.prototype.send = function sendRecorded(...args) {
    // The document client shares its stack with the client it wraps: one middleware per stack.
    if (!instrumented.has(this.middlewareStack)) {
      instrumented.add(this.middlewareStack);
      // Serialize step, before the serializer: the document client has marshalled its input by then.
      this.middlewareStack.add(middlewareFor(service), { step: 'serialize', priority: 'high', name: 'benchRecorder' });
    }
    return send.apply(this, args);
  };
};

instrument(DynamoDBClient as unknown as Sendable, 'dynamodb');
instrument(DynamoDBDocumentClient as unknown as Sendable, 'dynamodb');
instrument(SecretsManagerClient as unknown as Sendable, 'secretsmanager');
instrument(SESv2Client as unknown as Sendable, 'sesv2');

(globalThis as { benchRecorder?: unknown }).benchRecorder = {
  take(): RecordedCall[] {
    const taken = calls;
    calls = [];
    return taken;
  },
};
