import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createIdentityStore, IdentityTakenError } from '#core/store/identities';

/**
 * DynamoDB cancels transactions that overlap on an item with TransactionConflict, which DynamoDB
 * Local (serialising everything) never does; a mock forces it here.
 */

const tenant = { projectId: 'p', environment: 'dev' };
const identity = { kind: 'phone' as const, address: '+919876543211' };
const user = { userId: 'u1', mobile: identity.address, createdAt: '2026-01-01T00:00:00.000Z' };
const code = { challengeId: 'c1', userId: 'u1', channel: 'sms' as const, codeHash: 'h', expiresAt: Date.now() + 60_000, attempts: 0, maxAttempts: 5, createdAt: Date.now() };
const limits = { windowMs: 3_600_000, perWindow: 10, maxConsecutive: 100 };
const history = { sends: [Date.now()], previousSeq: 0, now: Date.now(), sendingUntil: Date.now() + 10_000 };

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });

const ddb = mockClient(DynamoDBDocumentClient);
const store = createIdentityStore(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), 'table');
afterEach(() => ddb.reset());
afterAll(() => ddb.restore());

test('a signup that conflicts with a concurrent one is run again, and then wins', async () => {
  ddb.on(TransactWriteCommand).rejectsOnce(cancelled('TransactionConflict', 'None', 'None')).resolves({});
  await expect(store.createUserWithCode(tenant, identity, user, code, history)).resolves.toBeUndefined();
  expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
});

test('a signup that conflicts and then finds the address taken is "already registered"', async () => {
  ddb.on(TransactWriteCommand).rejectsOnce(cancelled('TransactionConflict', 'None', 'None')).rejects(cancelled('ConditionalCheckFailed', 'None', 'None'));
  await expect(store.createUserWithCode(tenant, identity, user, code, history)).rejects.toBeInstanceOf(IdentityTakenError);
});

test('a verify that conflicts with another verify of the same code reads again (it may have lost)', async () => {
  ddb.on(TransactWriteCommand).rejects(cancelled('TransactionConflict', 'None'));
  await expect(store.consume(tenant, identity, code, limits, Date.now(), { kind: 'user', userId: 'u1' })).resolves.toBe('raced');
});

test('a verify whose user is no longer registered is told so', async () => {
  ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
  await expect(store.consume(tenant, identity, code, limits, Date.now(), { kind: 'user', userId: 'u1' })).resolves.toBe('no-user');
});
