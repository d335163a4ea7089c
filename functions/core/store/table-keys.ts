/**
 * The table's key and TTL attribute names, for the CDK stack and the local stack that create the
 * table. The repository writes the same names (`pk`, `sk`, `ttl`) in its key builders.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', ttl: 'ttl' } as const;
