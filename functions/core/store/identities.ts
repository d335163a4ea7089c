import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DeliveryChannel, Identity } from '#core/otp/identity';
import { cancelledBy, conflicted, retryOnConflict, tenantPrefix } from '#core/store/dynamo';
import type { TenantRef } from '#core/store/repository';
import { revokeAllSessionsUpdate } from '#core/store/sessions';

/**
 * Users and their identifiers' codes. Keys (pk / sk):
 *   T#<project>#<env>#ID#<kind>#<addr>  / IDENTITY  address -> user id (uniqueness); kind is phone or email
 *   T#<project>#<env>#USER#<userId>     / USER      the user
 *   T#<project>#<env>#OTP#<kind>#<addr> / OTP       the identifier's state: its one pending code (whatever
 *                                                    channel it went by) and its send and failure history
 * The send and failure history sits on the same item as the code, so a send and a verify each stay
 * one write there, and asking for a new code can never reset the failure count (NIST SP 800-63B-4).
 * Every write to it is conditional on the state it was decided from, so the limits hold across
 * any number of concurrent Lambda containers.
 *
 * A pending code's userId names a user whose identity item exists, for as long as the code is
 * pending; that lets a verify consume it in one single-item write, with no look at the identity.
 * Every write keeps it so: codes are stored with their owner in the same transaction that
 * registers the address (signup), or conditional on the state the owner was looked up after
 * (login, start: state first, then the identity, strongly consistent, then the write conditional on
 * sendSeq); and whatever removes an address (undoSignup, removeUser) clears the owner in the same
 * transaction and bumps sendSeq, so a write decided on the old owner loses its condition.
 */

export interface UserRecord {
  readonly userId: string;
  readonly mobile?: string;
  readonly email?: string;
  readonly createdAt: string;
}

export interface CodeRecord {
  readonly challengeId: string;
  /** The user the code was sent to; absent when the address had no user yet (styles that create users on verify). */
  readonly userId?: string | undefined;
  /** The user was verified when the code was stored: a verify may then use it up in one single-item write (see the header). */
  readonly ownerVerified?: boolean | undefined;
  readonly channel: DeliveryChannel;
  readonly codeHash: string;
  readonly expiresAt: number; // epoch ms; the authority on expiry
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly createdAt: number;
}

export interface IdentifierState {
  readonly code: CodeRecord | undefined;
  /** When codes were sent (epoch ms, oldest first), as far back as the longest send window. */
  readonly sends: readonly number[];
  readonly lastSentAt: number | undefined;
  /** Counts sends; every send is conditional on the count it read, so sends to one identifier are decided one at a time. */
  readonly sendSeq: number;
  /**
   * Set while a stored code's message may still be on its way (until that request's deadline);
   * cleared when its delivery ends. No other code is sent meanwhile, so the last message a user
   * receives always carries the code that is pending.
   */
  readonly sendingUntil: number | undefined;
  /**
   * The failure window: it opens with the first wrong code and lasts an hour; failCount counts the
   * wrong codes in it. A fixed window (not a sliding log) so that concurrent wrong codes are each
   * one atomic ADD, with no read-modify-write rounds under a burst of guesses.
   */
  readonly failWindowStart: number | undefined;
  readonly failCount: number;
  /** Wrong codes since the last success or operator reset, across all codes. */
  readonly consecutiveFails: number;
  /** How many users of this address were removed (removeUser): a concealing project's pseudonyms change with it. */
  readonly generation: number;
}

/** The limits a verify is decided and written under. */
export interface FailureLimits {
  readonly windowMs: number;
  readonly perWindow: number;
  readonly maxConsecutive: number;
}

/** Who an address belongs to, and whether that user has ever verified a code. */
export interface Owner {
  readonly userId: string;
  /** False only for a user created by a signup whose code was never verified (so signing up again may send a new one). */
  readonly verified: boolean;
}

/** A write of another store that must happen in the same transaction as a consume (the session a verify starts). */
export type AlongsideWrite = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** How an undone send leaves the send history: the cooldown counts from the send before it again. */
export interface SendUndo {
  readonly previousLastSentAt: number | undefined;
}

/** A withdrawal of a code that did reach the user (Twilio Verify's cancel): its cooldown stands. */
export const KEEP_COOLDOWN = 'keep-cooldown';

export class IdentityTakenError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('otpgate: identity already registered', options);
    this.name = 'IdentityTakenError';
  }
}

/** The send history a new code is stored with: the windows' send times including it, the count it was decided on, and its delivery's end. */
export interface SendHistory {
  readonly sends: readonly number[];
  readonly previousSeq: number;
  readonly now: number;
  readonly sendingUntil: number;
  /** The item outlives the usual TTL (failures are on record: the NIST ceiling must not expire). */
  readonly keepLong?: boolean;
  /** The item is never swept (a user of the address was removed: its generation must stay). */
  readonly keepForever?: boolean;
}

/** A decision was made on a state that changed meanwhile: read again and decide again. */
export type Raced = 'raced';

const identityKey = (t: TenantRef, id: Identity) => ({ pk: `${tenantPrefix(t)}#ID#${id.kind}#${id.address}`, sk: 'IDENTITY' });
const userKey = (t: TenantRef, userId: string) => ({ pk: `${tenantPrefix(t)}#USER#${userId}`, sk: 'USER' });
const stateKey = (t: TenantRef, id: Identity) => ({ pk: `${tenantPrefix(t)}#OTP#${id.kind}#${id.address}`, sk: 'OTP' });

const CODE_FIELDS = ['challengeId', 'userId', 'ownerVerified', 'channel', 'codeHash', 'expiresAt', 'attempts', 'maxAttempts', 'createdAt'] as const;

/**
 * TTL only sweeps. Two days outlive the longest window (a day of sends) and let a late verify of
 * an expired code still read "expired" for a day.
 */
const KEEP_SECONDS = 2 * 86_400;
/**
 * While wrong codes are on record the item is the lock NIST's ceiling needs (100 in a row, ever):
 * it must outlive any idle spell, or an attacker who waits for the sweep gets a fresh 100. A year
 * after the last wrong code or send it may go.
 */
const KEEP_LOCKED_SECONDS = 366 * 86_400;
/** An address whose user was removed keeps its generation for good (see IdentifierState.generation); ten years is "for good" to a TTL. */
const KEEP_FOREVER_SECONDS = 10 * 366 * 86_400;
const ttlAt = (now: number, keepLong = false, forever = false) =>
  Math.floor(now / 1000) + (forever ? KEEP_FOREVER_SECONDS : keepLong ? KEEP_LOCKED_SECONDS : KEEP_SECONDS);

const codeOf = (item: Record<string, unknown>): CodeRecord | undefined =>
  typeof item.challengeId === 'string'
    ? {
        challengeId: item.challengeId,
        ...(typeof item.userId === 'string' ? { userId: item.userId } : {}),
        ...(item.ownerVerified === true ? { ownerVerified: true } : {}),
        channel: item.channel as DeliveryChannel,
        codeHash: item.codeHash as string,
        expiresAt: item.expiresAt as number,
        attempts: item.attempts as number,
        maxAttempts: item.maxAttempts as number,
        createdAt: item.createdAt as number,
      }
    : undefined;

const numbers = (value: unknown): number[] => (Array.isArray(value) ? value.filter((n): n is number => typeof n === 'number') : []);

/** SET clauses writing a code's fields (and REMOVE userId when it has none). */
const codeUpdate = (code: CodeRecord) => {
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  for (const field of CODE_FIELDS) {
    const value = code[field];
    if (value === undefined) continue;
    sets.push(`${field} = :${field}`);
    values[`:${field}`] = value;
  }
  return { sets, removes: [...(code.userId === undefined ? ['userId'] : []), ...(code.ownerVerified === undefined ? ['ownerVerified'] : [])], values };
};

const expression = (sets: readonly string[], removes: readonly string[]) =>
  [sets.length > 0 ? `SET ${sets.join(', ')}` : '', removes.length > 0 ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' ');

export const createIdentityStore = (doc: DynamoDBDocumentClient, tableName: string) => {
  /** The update that stores a new code, conditional on no other send having happened since the state was read. */
  /** `code` undefined: only the send is recorded, a pending code stays as it is. */
  const storeCodeUpdate = (tenant: TenantRef, identity: Identity, code: CodeRecord | undefined, { sends, previousSeq, now, sendingUntil, keepLong = false, keepForever = false }: SendHistory) => {
    const { sets, removes, values } = code === undefined ? { sets: [], removes: [], values: {} } : codeUpdate(code);
    return {
      TableName: tableName,
      Key: stateKey(tenant, identity),
      UpdateExpression: expression(
        [
          ...sets,
          'sends = :sends',
          'lastSentAt = :now',
          'sendingUntil = :until',
          'sendSeq = :nextSeq',
          'failCount = if_not_exists(failCount, :zero)',
          'consecutiveFails = if_not_exists(consecutiveFails, :zero)',
          '#ttl = :ttl',
        ],
        removes,
      ),
      ConditionExpression: previousSeq === 0 ? 'attribute_not_exists(sendSeq)' : 'sendSeq = :seq',
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ...values,
        ':sends': [...sends],
        ':now': now,
        ':until': sendingUntil,
        ':zero': 0,
        ':ttl': ttlAt(now, keepLong, keepForever),
        ':nextSeq': previousSeq + 1,
        ...(previousSeq === 0 ? {} : { ':seq': previousSeq }),
      },
    };
  };

  /**
   * Clears the code and the failure history after a success, conditional on everything verify
   * decided: the same code, tries left, and the identifier not locked by failures meanwhile.
   */
  const consumeUpdate = (tenant: TenantRef, identity: Identity, code: CodeRecord, limits: FailureLimits, now: number) => ({
    TableName: tableName,
    Key: stateKey(tenant, identity),
    // A used code's message has arrived: no send needs holding off for it any more (sendingUntil).
    UpdateExpression: `SET consecutiveFails = :zero, failCount = :zero REMOVE failWindowStart, sendingUntil, ${CODE_FIELDS.join(', ')}`,
    ConditionExpression:
      'challengeId = :c AND attempts < maxAttempts AND consecutiveFails < :maxc AND (attribute_not_exists(failWindowStart) OR failWindowStart <= :windowAgo OR failCount < :perWindow)',
    ExpressionAttributeValues: {
      ':zero': 0,
      ':c': code.challengeId,
      ':maxc': limits.maxConsecutive,
      ':windowAgo': now - limits.windowMs,
      ':perWindow': limits.perWindow,
    },
  });

  /** Strongly consistent when the answer becomes a code's owner (see the header): a removal must not be read stale. */
  const findUserId = async (tenant: TenantRef, identity: Identity, options: { consistent?: boolean } = {}): Promise<string | undefined> => {
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: identityKey(tenant, identity), ConsistentRead: options.consistent ?? false }));
    return Item?.userId as string | undefined;
  };

  return {
    findUserId,

    /** The address's user and whether they ever verified a code; undefined when the address has no user. */
    async findOwner(tenant: TenantRef, identity: Identity): Promise<Owner | undefined> {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: identityKey(tenant, identity), ConsistentRead: true }));
      if (typeof Item?.userId !== 'string') return undefined;
      // Only signups mark their users unverified; an address registered otherwise (or before the mark existed) counts as verified.
      return { userId: Item.userId, verified: Item.unverified !== true };
    },

    /** The identifier's code and history, read strongly consistent: limits are decided on it. */
    async readState(tenant: TenantRef, identity: Identity): Promise<IdentifierState> {
      const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: stateKey(tenant, identity), ConsistentRead: true }));
      const item = Item ?? {};
      return {
        code: codeOf(item),
        sends: numbers(item.sends),
        lastSentAt: typeof item.lastSentAt === 'number' ? item.lastSentAt : undefined,
        sendSeq: typeof item.sendSeq === 'number' ? item.sendSeq : 0,
        sendingUntil: typeof item.sendingUntil === 'number' ? item.sendingUntil : undefined,
        failWindowStart: typeof item.failWindowStart === 'number' ? item.failWindowStart : undefined,
        failCount: typeof item.failCount === 'number' ? item.failCount : 0,
        consecutiveFails: typeof item.consecutiveFails === 'number' ? item.consecutiveFails : 0,
        generation: typeof item.userGeneration === 'number' ? item.userGeneration : 0,
      };
    },

    /**
     * Stores a new code (replacing any pending one) with the send history that includes it, unless
     * another send happened since `previousSeq` was read ('raced'). Returns the code it replaced.
     * The failure history is left as it is.
     */
    /**
     * Records a send that stores no code (a concealing project's decoy while a real code is
     * pending): the send windows, the cooldown and sendSeq move as for storeCode; the code stays.
     * Nothing is on its way, so it sets no delivery hold (a real send's hold ends with its delivery).
     */
    async recordSend(tenant: TenantRef, identity: Identity, history: SendHistory): Promise<void | Raced> {
      try {
        await doc.send(new UpdateCommand(storeCodeUpdate(tenant, identity, undefined, { ...history, sendingUntil: history.now })));
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return 'raced';
        throw error;
      }
    },

    async storeCode(
      tenant: TenantRef,
      identity: Identity,
      code: CodeRecord,
      history: SendHistory,
    ): Promise<{ replaced: CodeRecord | undefined } | Raced> {
      try {
        const { Attributes } = await doc.send(
          new UpdateCommand({ ...storeCodeUpdate(tenant, identity, code, history), ReturnValues: 'ALL_OLD' }),
        );
        return { replaced: Attributes ? codeOf(Attributes) : undefined };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return 'raced';
        throw error;
      }
    },

    /**
     * Registers the address, creates the user and stores its first code in one transaction. The
     * address is marked unverified until a code of it is verified (consume).
     */
    async createUserWithCode(tenant: TenantRef, identity: Identity, user: UserRecord, code: CodeRecord, history: SendHistory): Promise<void | Raced> {
      try {
        // A concurrent signup of the same address conflicts; run again, and the loser sees the winner's user.
        await retryOnConflict(() =>
          doc.send(
            new TransactWriteCommand({
              TransactItems: [
                {
                  Put: {
                    TableName: tableName,
                    Item: { ...identityKey(tenant, identity), userId: user.userId, createdAt: user.createdAt, unverified: true },
                    ConditionExpression: 'attribute_not_exists(pk)',
                  },
                },
                { Put: { TableName: tableName, Item: { ...userKey(tenant, user.userId), ...user }, ConditionExpression: 'attribute_not_exists(pk)' } },
                { Update: storeCodeUpdate(tenant, identity, code, history) },
              ],
            }),
          ),
        );
        return undefined;
      } catch (error) {
        if (cancelledBy(error, 0)) throw new IdentityTakenError({ cause: error });
        if (cancelledBy(error, 2) || conflicted(error)) return 'raced';
        throw error;
      }
    },

    /**
     * Undoes createUserWithCode when the first code could not be delivered, so signing up again
     * works. Only while that very code is still pending and the user has never verified: a user
     * who verified meanwhile, or was sent another code, is kept. The send windows keep the failed
     * send (it still counts against the hourly and daily limits); the cooldown counts from the
     * send before it again, since no code reached the user.
     */
    async undoSignup(tenant: TenantRef, identity: Identity, userId: string, challengeId: string, undo: SendUndo): Promise<void> {
      const lastSent = undo.previousLastSentAt === undefined ? { set: [], remove: ['lastSentAt'], values: {} } : { set: ['lastSentAt = :last'], remove: [], values: { ':last': undo.previousLastSentAt } };
      try {
        await retryOnConflict(() =>
          doc.send(
            new TransactWriteCommand({
              TransactItems: [
                {
                  Update: {
                    TableName: tableName,
                    Key: stateKey(tenant, identity),
                    // sendSeq moves on: a login that looked the user up before this cannot store a code for it after.
                    UpdateExpression: `${expression(lastSent.set, [...CODE_FIELDS, 'sendingUntil', ...lastSent.remove])} ADD sendSeq :one`,
                    ConditionExpression: 'challengeId = :c',
                    ExpressionAttributeValues: { ':c': challengeId, ':one': 1, ...lastSent.values },
                  },
                },
                {
                  Delete: {
                    TableName: tableName,
                    Key: identityKey(tenant, identity),
                    ConditionExpression: 'userId = :u AND unverified = :yes',
                    ExpressionAttributeValues: { ':u': userId, ':yes': true },
                  },
                },
                { Delete: { TableName: tableName, Key: userKey(tenant, userId) } },
              ],
            }),
          ),
        );
      } catch (error) {
        if (cancelledBy(error, 0) || cancelledBy(error, 1)) return;
        throw error;
      }
    },

    /**
     * Undoes storeCode when the new code could not be delivered: the code the user may still hold
     * comes back (or no code is pending, if there was none), unless a newer code replaced ours or
     * the user was removed meanwhile (either moved sendSeq past `seq`, the value storing ours set,
     * when given). As with undoSignup, the send windows keep the failed send and the cooldown does not.
     */
    async withdrawCode(
      tenant: TenantRef,
      identity: Identity,
      ours: string,
      replaced: CodeRecord | undefined,
      undo: SendUndo | typeof KEEP_COOLDOWN,
      seq?: number,
    ): Promise<void> {
      const back = replaced ? codeUpdate(replaced) : { sets: [], removes: [...CODE_FIELDS], values: {} };
      const lastSent =
        undo === KEEP_COOLDOWN
          ? { sets: [], removes: [] }
          : undo.previousLastSentAt === undefined
            ? { sets: [], removes: ['lastSentAt'] }
            : { sets: ['lastSentAt = :last'], removes: [] };
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: stateKey(tenant, identity),
            UpdateExpression: expression([...back.sets, ...lastSent.sets], [...back.removes, 'sendingUntil', ...lastSent.removes]),
            // `seq` is what storing ours set: a removal of the user since then must not get its code back.
            ConditionExpression: seq === undefined ? 'challengeId = :ours' : 'challengeId = :ours AND sendSeq = :seq',
            ExpressionAttributeValues: {
              ...back.values,
              ':ours': ours,
              ...(seq === undefined ? {} : { ':seq': seq }),
              ...(undo === KEEP_COOLDOWN || undo.previousLastSentAt === undefined ? {} : { ':last': undo.previousLastSentAt }),
            },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },

    /** Ends the delivery of a code (see sendingUntil), unless another code replaced it meanwhile. */
    async endDelivery(tenant: TenantRef, identity: Identity, challengeId: string): Promise<void> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: stateKey(tenant, identity),
            UpdateExpression: 'REMOVE sendingUntil',
            ConditionExpression: 'challengeId = :c',
            ExpressionAttributeValues: { ':c': challengeId },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },

    /**
     * Records one wrong code as one atomic ADD: the code's attempts, the failure window's count and
     * the consecutive count, conditional on the code still being the one judged and every limit
     * still leaving a try. Concurrent wrong codes are each counted in one write, and the condition
     * stops the count exactly at the limits. Opening a new window is conditional on the old one,
     * so only one request opens it. Returns the attempts the code has used.
     */
    async recordFailure(tenant: TenantRef, identity: Identity, state: IdentifierState & { code: CodeRecord }, limits: FailureLimits, now: number): Promise<{ attempts: number } | Raced> {
      const active = state.failWindowStart !== undefined && state.failWindowStart > now - limits.windowMs;
      const window = active
        ? { update: 'SET #ttl = :ttl ADD failCount :one, attempts :one, consecutiveFails :one', condition: 'failWindowStart = :ws AND failCount < :perWindow', values: { ':ws': state.failWindowStart, ':perWindow': limits.perWindow } }
        : {
            update: 'SET failWindowStart = :now, failCount = :one, #ttl = :ttl ADD attempts :one, consecutiveFails :one',
            condition: state.failWindowStart === undefined ? 'attribute_not_exists(failWindowStart)' : 'failWindowStart = :ws',
            values: state.failWindowStart === undefined ? { ':now': now } : { ':now': now, ':ws': state.failWindowStart },
          };
      try {
        const { Attributes } = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: stateKey(tenant, identity),
            UpdateExpression: window.update,
            ConditionExpression: `challengeId = :c AND attempts < maxAttempts AND consecutiveFails < :maxc AND ${window.condition}`,
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            // A wrong code on record keeps the item (the lock) for a year, not two days.
            ExpressionAttributeValues: { ':one': 1, ':c': state.code.challengeId, ':maxc': limits.maxConsecutive, ':ttl': ttlAt(now, true, state.generation > 0), ...window.values },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return { attempts: Number(Attributes?.attempts ?? state.code.attempts + 1) };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return 'raced';
        throw error;
      }
    },

    /**
     * Uses up a code that verified, in one write: a single-item update, or a transaction with
     * `alongside` (the session a token style starts: both happen or neither). Of concurrent
     * verifies of one code exactly one is 'consumed'; the others read again and find the code gone.
     *   code-owner: the user the code names, known verified (see the header); the code's item
     *               alone, conditional on the code still naming that user ('raced' if it was
     *               removed meanwhile)
     *   user:       a user looked up apart from the code, or one that never verified: the identity
     *               is checked in the same transaction and marked verified ('no-user' if it is gone)
     *   create:     registers the address as a new, verified user ('identity-exists' if someone
     *               did meanwhile)
     *   none:       only the code matters (styles without users)
     * A transaction is sent with an idempotency token, so the SDK may repeat one whose answer was
     * lost and learn that it was applied (aws-clients.ts): what it wrote and what it answers agree.
     */
    async consume(
      tenant: TenantRef,
      identity: Identity,
      code: CodeRecord,
      limits: FailureLimits,
      now: number,
      owner:
        | { readonly kind: 'code-owner'; readonly userId: string }
        | { readonly kind: 'user'; readonly userId: string }
        | { readonly kind: 'create'; readonly user: UserRecord }
        | { readonly kind: 'none' },
      alongside: readonly AlongsideWrite[] = [],
    ): Promise<'consumed' | 'no-user' | 'identity-exists' | Raced> {
      const update = consumeUpdate(tenant, identity, code, limits, now);
      try {
        if (owner.kind === 'none' && alongside.length === 0) {
          await doc.send(new UpdateCommand(update));
          return 'consumed';
        }
        if (owner.kind === 'code-owner') {
          const mine = {
            ...update,
            ConditionExpression: `${update.ConditionExpression} AND userId = :u`,
            ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':u': owner.userId },
          };
          if (alongside.length === 0) await doc.send(new UpdateCommand(mine));
          else await doc.send(new TransactWriteCommand({ TransactItems: [{ Update: mine }, ...alongside] }));
          return 'consumed';
        }
        const others =
          owner.kind === 'none'
            ? []
            : owner.kind === 'user'
            ? [
                {
                  Update: {
                    TableName: tableName,
                    Key: identityKey(tenant, identity),
                    UpdateExpression: 'SET verifiedAt = if_not_exists(verifiedAt, :now) REMOVE unverified',
                    ConditionExpression: 'userId = :u',
                    ExpressionAttributeValues: { ':u': owner.userId, ':now': now },
                  },
                },
              ]
            : [
                {
                  Put: {
                    TableName: tableName,
                    Item: { ...identityKey(tenant, identity), userId: owner.user.userId, createdAt: owner.user.createdAt, verifiedAt: now },
                    ConditionExpression: 'attribute_not_exists(pk)',
                  },
                },
                { Put: { TableName: tableName, Item: { ...userKey(tenant, owner.user.userId), ...owner.user }, ConditionExpression: 'attribute_not_exists(pk)' } },
              ];
        await doc.send(new TransactWriteCommand({ TransactItems: [{ Update: update }, ...others, ...alongside] }));
        return 'consumed';
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return 'raced';
        // A conflict is another verify of this code in flight: read again and see who won.
        if (cancelledBy(error, 0) || cancelledBy(error, 0, 'TransactionConflict')) return 'raced';
        if ((owner.kind === 'user' || owner.kind === 'create') && cancelledBy(error, 1)) return owner.kind === 'user' ? 'no-user' : 'identity-exists';
        if (conflicted(error)) return 'raced';
        throw error;
      }
    },

    /**
     * Removes the user an address belongs to (an operator's act; no route does it): the address and
     * the user go, and a code pending for it loses its owner in the same transaction (it stays, as
     * a code for an address with no user: verify answers user_not_found where users are required).
     * sendSeq moves on, so a login or resend decided on the old owner cannot store a code for it.
     * Its sessions are revoked in the same transaction. False when the address had no user.
     */
    async removeUser(tenant: TenantRef, identity: Identity, now: number): Promise<boolean> {
      const userId = await findUserId(tenant, identity, { consistent: true });
      if (userId === undefined) return false;
      try {
        await retryOnConflict(() =>
          doc.send(
            new TransactWriteCommand({
              TransactItems: [
                { Delete: { TableName: tableName, Key: identityKey(tenant, identity), ConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } } },
                { Delete: { TableName: tableName, Key: userKey(tenant, userId) } },
                {
                  Update: {
                    TableName: tableName,
                    Key: stateKey(tenant, identity),
                    // A new generation: a concealing project's next user of the address gets another pseudonym (kept for good).
                    UpdateExpression: 'REMOVE userId, ownerVerified ADD sendSeq :one, userGeneration :one SET #ttl = :ttl',
                    ExpressionAttributeNames: { '#ttl': 'ttl' },
                    ExpressionAttributeValues: { ':one': 1, ':ttl': ttlAt(now, false, true) },
                  },
                },
                // Every session of the user ends with it: no refresh token outlives its user.
                { Update: revokeAllSessionsUpdate(tableName, tenant, userId, now) },
              ],
            }),
          ),
        );
        return true;
      } catch (error) {
        // Removed (or re-registered) meanwhile by someone else.
        if (cancelledBy(error, 0)) return false;
        throw error;
      }
    },

    /** An operator's reset of an identifier locked by failures (the code, if any, stays). */
    async clearFailures(tenant: TenantRef, identity: Identity): Promise<boolean> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: stateKey(tenant, identity),
            UpdateExpression: 'SET consecutiveFails = :zero, failCount = :zero REMOVE failWindowStart',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':zero': 0 },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
  };
};

export type IdentityStore = ReturnType<typeof createIdentityStore>;
