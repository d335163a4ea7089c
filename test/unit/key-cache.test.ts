import { cachedKeyLookup, KEY_CACHE_TTL_MS } from '#core/tenancy/key-cache';
import type { AppKeyRecord } from '#core/store/repository';

/** The per-container APP-KEY cache: what it saves, and how long it may be wrong. */

const record: AppKeyRecord = { projectId: 'p', environment: 'dev', keyId: 'k1' };

const table = () => {
  const keys = new Map<string, AppKeyRecord>([['h1', record]]);
  const reads: string[] = [];
  return {
    keys,
    reads,
    find: async (hash: string) => {
      reads.push(hash);
      return keys.get(hash);
    },
  };
};

test('a found key is read once per TTL, and a deleted key is gone once the TTL has passed', async () => {
  const t = table();
  let clock = 1_000_000;
  const lookup = cachedKeyLookup(t.find, { now: () => clock });
  expect(await lookup('h1')).toEqual(record);
  t.keys.delete('h1'); // revoked meanwhile
  clock += KEY_CACHE_TTL_MS - 1;
  expect(await lookup('h1')).toEqual(record);
  expect(t.reads).toEqual(['h1']);
  clock += 1;
  expect(await lookup('h1')).toBeUndefined();
  expect(t.reads).toEqual(['h1', 'h1']);
});

test('an unknown key is not cached: a key that appears is found at once', async () => {
  const t = table();
  const lookup = cachedKeyLookup(t.find, { now: () => 0 });
  expect(await lookup('h2')).toBeUndefined();
  t.keys.set('h2', { ...record, keyId: 'k2' });
  expect(await lookup('h2')).toMatchObject({ keyId: 'k2' });
});

test('a flood of distinct keys does not grow the cache without bound: the oldest entries go first', async () => {
  const t = table();
  for (let i = 0; i < 1001; i += 1) t.keys.set(`x${i}`, { ...record, keyId: `x${i}` });
  const lookup = cachedKeyLookup(t.find, { now: () => 0 });
  for (let i = 0; i < 1001; i += 1) await lookup(`x${i}`);
  t.reads.length = 0;
  await lookup('x1000');
  await lookup('x0'); // pushed out by the 1001st
  expect(t.reads).toEqual(['x0']);
});
