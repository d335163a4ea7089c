import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Counters that span identifiers: sends per client IP, and a project's spend caps. Each is one
 * conditional ADD, so it holds across concurrent Lambda containers; windows are clock-aligned
 * (UTC hour, UTC day). Keys (pk / sk):
 *   P#<project>#IP#<ip>                        / H#<hour>  sends from one IP in one hour
 *   P#<project>#SPEND#<channel>#<day>#<shard>  / SPEND     one shard of a day's spend: d (day),
 *                                                          h<HH> (hour), c<HH><CC> (country in hour;
 *                                                          SMS and WhatsApp only)
 * Spend counters are sharded so a project is not one hot item: DynamoDB takes about 1,000 writes
 * per second per partition, and each shard is its own partition. Each shard may take only its
 * share of every cap (shares add up to the cap exactly), so no sum is ever read; a send tries the
 * shards in random order until one has room, and the cap is reached when none has.
 */

export const SPEND_SHARDS = 8;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface SpendCaps {
  readonly perHour: number;
  readonly perDay: number;
  /** None for email: an address has no country, and email costs the same everywhere. */
  readonly perCountryPerHour?: number | undefined;
}

export type SpendCap = 'perHour' | 'perDay' | 'perCountryPerHour';

/** Shard i's part of a cap split over n shards: floor(cap / n), plus one for the first cap % n shards. */
export const shareOf = (cap: number, shard: number, shards: number): number => Math.floor(cap / shards) + (shard < cap % shards ? 1 : 0);

/**
 * Always SPEND_SHARDS: a shard count derived from the caps would change when a cap changes, and
 * then a day's earlier counts would sit in shards no longer read (or be credited twice). With
 * caps below the shard count some shards have no share and always refuse; a send tries them all.
 */
export const shardCount = (_caps: SpendCaps): number => SPEND_SHARDS;

const isoHour = (now: number) => new Date(now).toISOString().slice(11, 13);
const isoDay = (now: number) => new Date(now).toISOString().slice(0, 10);

const shuffled = (n: number, random: () => number): number[] => {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
};

/**
 * A counted send that did not happen after all (refused by a later check, lost a race, not
 * delivered): its release gives the count back, so refused requests never use up a budget.
 */
export interface Taken {
  readonly ok: true;
  readonly release: () => Promise<void>;
}

export const createCounterStore = (doc: DynamoDBDocumentClient, tableName: string, random: () => number = Math.random) => {
  const giveBack = async (update: ConstructorParameters<typeof UpdateCommand>[0]): Promise<void> => {
    await doc.send(new UpdateCommand(update));
  };
  return {
  /** Counts one send from `ip` this hour; false (nothing counted) when the limit is reached. */
  async takeIpSend(projectId: string, ip: string, limit: number, now: number): Promise<Taken | { ok: false; retryAfterMs: number }> {
    const hourStart = now - (now % HOUR);
    const Key = { pk: `P#${projectId}#IP#${ip}`, sk: `H#${hourStart}` };
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key,
          UpdateExpression: 'ADD n :one SET #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(n) OR n < :limit',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':ttl': Math.floor((hourStart + 2 * HOUR) / 1000) },
        }),
      );
      return { ok: true, release: () => giveBack({ TableName: tableName, Key, UpdateExpression: 'ADD n :minus', ExpressionAttributeValues: { ':minus': -1 } }) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { ok: false, retryAfterMs: hourStart + HOUR - now };
      throw error;
    }
  },

  /**
   * Counts one message of `channel` to `country` against the project's caps. When every shard is
   * full for some cap, nothing is counted and the cap that refused is named.
   */
  async takeSpend(
    projectId: string,
    channel: string,
    country: string,
    caps: SpendCaps,
    now: number,
  ): Promise<Taken | { ok: false; cap: SpendCap; retryAfterMs: number }> {
    const shards = shardCount(caps);
    const hour = isoHour(now);
    const perCountry = caps.perCountryPerHour !== undefined;
    const names = { '#h': `h${hour}`, ...(perCountry ? { '#c': `c${hour}${country}` } : {}), '#ttl': 'ttl' };
    const refusals: Record<SpendCap, number> = { perHour: 0, perDay: 0, perCountryPerHour: 0 };
    const capped = [caps.perDay, caps.perHour, ...(perCountry ? [caps.perCountryPerHour!] : [])];
    // A shard whose share of some cap is zero can take nothing (a missing counter would pass the condition): skip it.
    const usable = shuffled(shards, random).filter((shard) => capped.every((cap) => shareOf(cap, shard, shards) > 0));
    for (const shard of usable) {
      const Key = { pk: `P#${projectId}#SPEND#${channel}#${isoDay(now)}#${shard}`, sk: 'SPEND' };
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key,
            UpdateExpression: perCountry ? 'ADD d :one, #h :one, #c :one SET #ttl = :ttl' : 'ADD d :one, #h :one SET #ttl = :ttl',
            ConditionExpression:
              '(attribute_not_exists(d) OR d < :day) AND (attribute_not_exists(#h) OR #h < :hour)' +
              (perCountry ? ' AND (attribute_not_exists(#c) OR #c < :country)' : ''),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: {
              ':one': 1,
              ':day': shareOf(caps.perDay, shard, shards),
              ':hour': shareOf(caps.perHour, shard, shards),
              ...(perCountry ? { ':country': shareOf(caps.perCountryPerHour!, shard, shards) } : {}),
              ':ttl': Math.floor((now - (now % DAY) + 2 * DAY) / 1000),
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return {
          ok: true,
          release: () =>
            giveBack({
              TableName: tableName,
              Key,
              UpdateExpression: perCountry ? 'ADD d :minus, #h :minus, #c :minus' : 'ADD d :minus, #h :minus',
              ExpressionAttributeNames: { '#h': names['#h'], ...(perCountry ? { '#c': `c${hour}${country}` } : {}) },
              ExpressionAttributeValues: { ':minus': -1 },
            }),
        };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const old = (error.Item ?? {}) as Record<string, { N?: string }>;
        const at = (name: string) => Number(old[name]?.N ?? 0);
        if (at('d') >= shareOf(caps.perDay, shard, shards)) refusals.perDay += 1;
        else if (at(`h${hour}`) >= shareOf(caps.perHour, shard, shards)) refusals.perHour += 1;
        else refusals.perCountryPerHour += 1;
      }
    }
    const cap = (Object.entries(refusals) as [SpendCap, number][]).sort((a, b) => b[1] - a[1])[0]![0];
    const retryAfterMs = cap === 'perDay' ? now - (now % DAY) + DAY - now : now - (now % HOUR) + HOUR - now;
    return { ok: false, cap, retryAfterMs };
  },
  };
};

export type CounterStore = ReturnType<typeof createCounterStore>;
