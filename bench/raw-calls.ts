import { request } from 'node:http';
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * The baseline a handler is held against: the calls its request needs, sent directly with the
 * low-level AWS SDK clients (bundled with the functions' own options) and node:http, in the same
 * order and with the same concurrency the handler used. Built into a bundle and loaded by
 * probe-invoke.mjs beside the handler.
 */

export type RawCall =
  | { readonly service: 'dynamodb'; readonly command: string; readonly input: Record<string, unknown> }
  | { readonly service: 'sesv2'; readonly input: Record<string, unknown> }
  | { readonly service: 'twilio'; readonly url: string; readonly authorization: string; readonly form: string };

/** Groups run one after the other; the calls within a group at the same time (as the handler ran them). */
export type RawPlan = readonly (readonly RawCall[])[];

const commands: Record<string, new (input: never) => unknown> = {
  GetItem: GetItemCommand,
  PutItem: PutItemCommand,
  UpdateItem: UpdateItemCommand,
  DeleteItem: DeleteItemCommand,
  TransactWriteItems: TransactWriteItemsCommand,
  Query: QueryCommand,
};

const dynamo = new DynamoDBClient({});
const ses = new SESv2Client({});

const post = (call: Extract<RawCall, { service: 'twilio' }>) =>
  new Promise<void>((resolve, reject) => {
    const req = request(call.url, { method: 'POST', headers: { authorization: call.authorization, 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode !== undefined && res.statusCode < 300 ? resolve() : reject(new Error(`twilio ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(call.form);
  });

const run = async (call: RawCall): Promise<void> => {
  if (call.service === 'twilio') return post(call);
  if (call.service === 'sesv2') {
    await ses.send(new SendEmailCommand(call.input as never));
    return;
  }
  const Command = commands[call.command];
  if (!Command) throw new Error(`raw-calls: no command ${call.command}`);
  await dynamo.send(new Command(call.input as never) as never);
};

export const replay = async (plan: RawPlan): Promise<void> => {
  for (const group of plan) await Promise.all(group.map(run));
};

/** What bench/record-sdk.ts recorded of one call (the document client's input, before marshalling). */
export interface RecordedDynamoCall {
  readonly service: string;
  readonly command: string;
  readonly input: Record<string, unknown>;
  readonly start: number;
  readonly end: number;
}

type Input = Record<string, unknown>;
const EXPRESSIONS = ['UpdateExpression', 'ProjectionExpression', 'KeyConditionExpression', 'FilterExpression', 'ConditionExpression'];
const toWire = (value: unknown) => marshall(value as Record<string, unknown>, { removeUndefinedValues: true });

/** The same call on the wire: attribute values marshalled, as the document client sends them. */
const marshalled = (input: Input): Input => {
  const out: Input = { ...input };
  for (const field of ['Item', 'Key', 'ExpressionAttributeValues', 'ExclusiveStartKey']) if (out[field] !== undefined) out[field] = toWire(out[field]);
  delete out.ReturnConsumedCapacity;
  return out;
};

/** Drops the condition (a replay must not fail on state the handler already changed) and what only it referenced. */
const unconditional = (input: Input): Input => {
  const out: Input = { ...input };
  delete out.ConditionExpression;
  delete out.ReturnValuesOnConditionCheckFailure;
  const used = EXPRESSIONS.map((name) => out[name]).filter((e): e is string => typeof e === 'string').join(' ');
  for (const field of ['ExpressionAttributeNames', 'ExpressionAttributeValues']) {
    const map = out[field] as Record<string, unknown> | undefined;
    if (map === undefined) continue;
    const kept = Object.fromEntries(Object.entries(map).filter(([name]) => new RegExp(`${name.replace(/[#:]/g, '\\$&')}(?![A-Za-z0-9_])`).test(used)));
    if (Object.keys(kept).length === 0) delete out[field];
    else out[field] = kept;
  }
  return out;
};

/** Writes go to a shadow item (same size, `RAW#` before the partition key), so a replay never touches the handler's state. */
const shadowed = (input: Input): Input => {
  const out: Input = { ...input };
  for (const field of ['Item', 'Key']) {
    const item = out[field] as Record<string, unknown> | undefined;
    if (item && typeof item.pk === 'string') out[field] = { ...item, pk: `RAW#${item.pk}` };
  }
  return out;
};

const writeReplay = (input: Input) => marshalled(unconditional(shadowed(input)));

const replayOf = (call: RecordedDynamoCall): RawCall => {
  if (call.command === 'GetItem' || call.command === 'Query') return { service: 'dynamodb', command: call.command, input: marshalled(call.input) };
  if (call.command !== 'TransactWriteItems') return { service: 'dynamodb', command: call.command, input: writeReplay(call.input) };
  const items = (call.input.TransactItems as Record<string, Input>[]).map((item) => {
    const [kind, body] = Object.entries(item)[0] as [string, Input];
    if (kind !== 'ConditionCheck') return { [kind]: writeReplay(body) };
    // The check stays a check on the real item, with a condition that always holds.
    return { ConditionCheck: { TableName: body.TableName, Key: toWire(body.Key), ConditionExpression: 'attribute_exists(pk) OR attribute_not_exists(pk)' } };
  });
  return { service: 'dynamodb', command: call.command, input: { TransactItems: items } };
};

/**
 * The raw plan of one request from what it recorded: its DynamoDB calls in order, calls that
 * overlapped in time run together (as the handler ran them), then the delivery call, if any.
 */
export const planFrom = (calls: readonly RecordedDynamoCall[], delivery?: RawCall): RawPlan => {
  const groups: { end: number; calls: RawCall[] }[] = [];
  for (const call of [...calls].filter((c) => c.service === 'dynamodb').sort((a, b) => a.start - b.start)) {
    const last = groups[groups.length - 1];
    if (last && call.start < last.end) {
      last.calls.push(replayOf(call));
      last.end = Math.max(last.end, call.end);
    } else groups.push({ end: call.end, calls: [replayOf(call)] });
  }
  return [...groups.map((g) => g.calls), ...(delivery ? [[delivery]] : [])];
};
