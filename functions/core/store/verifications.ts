import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { deliveryAddress, emailIdentity, type DeliveryChannel, type Identity, type IdentityKind } from '#core/otp/identity';
import { tenantPrefix } from '#core/store/dynamo';
import type { TenantRef } from '#core/store/repository';

/**
 * Twilio Verify's verifications: what the Verify API shows of a verification (its status, sends
 * and dates) beside the engine's code, which stays where every style's code is (store/identities).
 * Keys (pk / sk):
 *   T#<project>#<env>#VERIFICATION#<VE sid>                       / VERIFICATION  one verification
 *   T#<project>#<env>#VERIFYTO#<VA sid>#<kind>#<address>          / VERIFYTO      the service's current verification
 *                                                                                  for an address, and the claim a
 *                                                                                  create holds on it while it sends
 * The code itself is never here: a verification names the engine's challenge its latest code
 * belongs to, and checks go through the engine with that challenge.
 */

export type VerificationStatus = 'pending' | 'approved' | 'canceled' | 'max_attempts_reached' | 'expired';

export interface SendAttempt {
  /** `VL` + 32 hex, derived from the engine's challenge id. */
  readonly sid: string;
  readonly channel: DeliveryChannel;
  readonly at: number;
}

export interface VerificationRecord {
  readonly sid: string;
  readonly serviceSid: string;
  readonly identity: Identity;
  readonly channel: DeliveryChannel;
  readonly status: VerificationStatus;
  /** The engine's challenge of the latest code sent for this verification. */
  readonly challengeId: string;
  readonly attempts: readonly SendAttempt[];
  readonly amount: string | undefined;
  readonly payee: string | undefined;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When the latest code stops working (epoch ms); decided in code, the TTL only sweeps. */
  readonly expiresAt: number;
}

/** A day past expiry: a late fetch still shows the final status, then the TTL sweeps it. */
const KEEP_SECONDS = 86_400;
const ttlFor = (expiresAt: number) => Math.floor(expiresAt / 1000) + KEEP_SECONDS;

const recordKey = (t: TenantRef, sid: string) => ({ pk: `${tenantPrefix(t)}#VERIFICATION#${sid}`, sk: 'VERIFICATION' });
const pointerKey = (t: TenantRef, serviceSid: string, id: Identity) => ({ pk: `${tenantPrefix(t)}#VERIFYTO#${serviceSid}#${id.kind}#${id.address}`, sk: 'VERIFYTO' });

const recordOf = (item: Record<string, unknown>): VerificationRecord => ({
  sid: item.sid as string,
  serviceSid: item.serviceSid as string,
  // `to` is the address as given; an email's key is derived from it again (a Gmail alias keys as its inbox).
  identity: (item.identityKind as IdentityKind) === 'email' ? emailIdentity(item.to as string) : { kind: item.identityKind as IdentityKind, address: item.to as string },
  channel: item.channel as DeliveryChannel,
  status: item.status as VerificationStatus,
  challengeId: item.challengeId as string,
  attempts: (item.attempts as SendAttempt[] | undefined) ?? [],
  amount: typeof item.amount === 'string' ? item.amount : undefined,
  payee: typeof item.payee === 'string' ? item.payee : undefined,
  createdAt: item.createdAt as number,
  updatedAt: item.updatedAt as number,
  expiresAt: item.expiresAt as number,
});

const lost = (error: unknown): boolean => error instanceof ConditionalCheckFailedException;

export const createVerificationStore = (doc: DynamoDBDocumentClient, tableName: string) => ({
  /**
   * Claims the address for one create at a time in this service (Twilio answers a second
   * concurrent one with 60212): returns the current verification's sid, or 'busy' while another
   * create holds an unexpired claim. The claim outlives any Lambda invocation, so a crashed
   * create blocks the address for at most `holdMs`.
   */
  async claim(tenant: TenantRef, serviceSid: string, identity: Identity, token: string, at: number, holdMs: number): Promise<{ currentSid: string | undefined } | 'busy'> {
    try {
      const { Attributes } = await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: pointerKey(tenant, serviceSid, identity),
          UpdateExpression: 'SET claimToken = :token, claimUntil = :until, #ttl = if_not_exists(#ttl, :ttl)',
          ConditionExpression: 'attribute_not_exists(claimUntil) OR claimUntil <= :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':token': token, ':until': at + holdMs, ':now': at, ':ttl': ttlFor(at + holdMs) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { currentSid: typeof Attributes?.sid === 'string' ? Attributes.sid : undefined };
    } catch (error) {
      if (lost(error)) return 'busy';
      throw error;
    }
  },

  /** Gives the claim up without changing the current verification (the send did not happen). */
  async release(tenant: TenantRef, serviceSid: string, identity: Identity, token: string): Promise<void> {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: pointerKey(tenant, serviceSid, identity),
          UpdateExpression: 'REMOVE claimToken, claimUntil',
          ConditionExpression: 'claimToken = :token',
          ExpressionAttributeValues: { ':token': token },
        }),
      );
    } catch (error) {
      if (!lost(error)) throw error;
    }
  },

  /** Makes `sid` the address's current verification and gives the claim up. */
  async point(tenant: TenantRef, serviceSid: string, identity: Identity, token: string, sid: string, expiresAt: number): Promise<void> {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: pointerKey(tenant, serviceSid, identity),
          UpdateExpression: 'SET sid = :sid, #ttl = :ttl REMOVE claimToken, claimUntil',
          ConditionExpression: 'claimToken = :token',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':sid': sid, ':token': token, ':ttl': ttlFor(expiresAt) },
        }),
      );
    } catch (error) {
      // Our claim ran out and another create took over: it points the address at its own verification.
      if (!lost(error)) throw error;
    }
  },

  async currentSid(tenant: TenantRef, serviceSid: string, identity: Identity): Promise<string | undefined> {
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: pointerKey(tenant, serviceSid, identity), ConsistentRead: true }));
    return typeof Item?.sid === 'string' ? Item.sid : undefined;
  },

  async find(tenant: TenantRef, sid: string): Promise<VerificationRecord | undefined> {
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: recordKey(tenant, sid), ConsistentRead: true }));
    return Item ? recordOf(Item) : undefined;
  },

  async create(tenant: TenantRef, record: VerificationRecord): Promise<void> {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...recordKey(tenant, record.sid),
          sid: record.sid,
          serviceSid: record.serviceSid,
          identityKind: record.identity.kind,
          to: deliveryAddress(record.identity),
          channel: record.channel,
          status: record.status,
          challengeId: record.challengeId,
          attempts: record.attempts,
          ...(record.amount === undefined ? {} : { amount: record.amount }),
          ...(record.payee === undefined ? {} : { payee: record.payee }),
          createdAt: record.createdAt,
          updatedAt: record.updatedAt,
          expiresAt: record.expiresAt,
          ttl: ttlFor(record.expiresAt),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  },

  /**
   * Records a further send of a verification still pending and unexpired: its latest code is now
   * `challengeId`. Undefined when it has meanwhile been approved, canceled or has expired.
   */
  async addAttempt(tenant: TenantRef, sid: string, challengeId: string, attempt: SendAttempt, expiresAt: number): Promise<VerificationRecord | undefined> {
    try {
      const { Attributes } = await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: recordKey(tenant, sid),
          UpdateExpression: 'SET challengeId = :c, channel = :channel, attempts = list_append(attempts, :attempt), updatedAt = :at, expiresAt = :exp, #ttl = :ttl',
          ConditionExpression: '#status = :pending AND expiresAt > :at',
          ExpressionAttributeNames: { '#status': 'status', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':c': challengeId,
            ':channel': attempt.channel,
            ':attempt': [attempt],
            ':at': attempt.at,
            ':exp': expiresAt,
            ':pending': 'pending',
            ':ttl': ttlFor(expiresAt),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? recordOf(Attributes) : undefined;
    } catch (error) {
      if (lost(error)) return undefined;
      throw error;
    }
  },

  /** Moves a pending verification to its final status; undefined when it was no longer pending. */
  async finish(tenant: TenantRef, sid: string, status: Exclude<VerificationStatus, 'pending'>, at: number): Promise<VerificationRecord | undefined> {
    try {
      const { Attributes } = await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: recordKey(tenant, sid),
          UpdateExpression: 'SET #status = :status, updatedAt = :at',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':status': status, ':at': at, ':pending': 'pending' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? recordOf(Attributes) : undefined;
    } catch (error) {
      if (lost(error)) return undefined;
      throw error;
    }
  },
});

export type VerificationStore = ReturnType<typeof createVerificationStore>;
