/** The table's key and TTL attribute names: the CDK stack, the local stack and the repository share them. */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', ttl: 'ttl' } as const;
