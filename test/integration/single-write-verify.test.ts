import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { createEngine, type Sender, type Tenant } from '#core/otp/engine';
import { emailIdentity, phoneIdentity } from '#core/otp/identity';
import { runtime } from '#core/runtime';
import { createIdentityStore, type IdentityStore } from '#core/store/identities';
import { resolveSettings } from '#core/tenancy/settings';
import { capturing, deferred } from '../support/engine-probes';
import { newTenant, relaxedLimits, uniqueEmail, uniqueIndianMobile } from '../support/harness';

/**
 * A successful verify is one single-item DynamoDB write: the code's own state item, conditional
 * on the code still being pending and still naming the user it was sent to. That holds only if
 * no code can name a user whose address is gone; these tests pin every way that could happen,
 * against DynamoDB Local, including the interleavings of a login with a removal.
 */

const table = process.env.TABLE_NAME!;
let tenant: Tenant;

/** A document client that records the write operations it sends. */
const countingClient = () => {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  const writes: string[] = [];
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '';
      if (!/^(Get|Query|Scan|BatchGet)/.test(name)) writes.push(name.replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'countWrites' },
  );
  return { doc, writes };
};


const engineWith = (identities: IdentityStore) => {
  const rt = runtime();
  return createEngine({ identities, counters: rt.counters, pepper: rt.pepper });
};

beforeAll(async () => {
  const created = await newTenant();
  tenant = { projectId: created.projectId, environment: created.environment, settings: resolveSettings(relaxedLimits, '+91', created.environment) };
});

test('verifying a verified user\'s code is one write, to the code\'s own item (no identity check, no transaction)', async () => {
  const { doc, writes } = countingClient();
  const engine = engineWith(createIdentityStore(doc, table));
  const { sender, last } = capturing();
  const identity = phoneIdentity(`+91${uniqueIndianMobile()}`);
  const { userId } = await engine.signup(tenant, identity, sender);
  await engine.verify(tenant, identity, last()!);
  await engine.login(tenant, identity, sender);

  writes.length = 0;
  await expect(engine.verify(tenant, identity, last()!)).resolves.toMatchObject({ userId });
  expect(writes).toEqual(['UpdateItem']);
  doc.destroy();
});

test('the code a signup sent verifies in one write too: a transaction that also marks the user verified', async () => {
  const { doc, writes } = countingClient();
  const store = createIdentityStore(doc, table);
  const engine = engineWith(store);
  const { sender, last } = capturing('email');
  const identity = emailIdentity(uniqueEmail());
  const { userId } = await engine.signup(tenant, identity, sender);
  await expect(store.findOwner(tenant, identity)).resolves.toEqual({ userId, verified: false });

  writes.length = 0;
  await expect(engine.verify(tenant, identity, last()!)).resolves.toMatchObject({ userId });
  expect(writes).toEqual(['TransactWriteItems']);
  await expect(store.findOwner(tenant, identity)).resolves.toEqual({ userId, verified: true });
  doc.destroy();
});

test('a verify that starts a session writes the code and the session in one transaction: both or neither', async () => {
  const { doc, writes } = countingClient();
  const engine = engineWith(createIdentityStore(doc, table));
  const { sender, last } = capturing();
  const identity = phoneIdentity(`+91${uniqueIndianMobile()}`);
  await engine.signup(tenant, identity, sender);
  await engine.verify(tenant, identity, last()!);
  await engine.login(tenant, identity, sender);
  const marker = { pk: `test#single-write#${identity.address}`, sk: `session#${Date.now()}` };
  const alongside = () => [{ Put: { TableName: table, Item: marker, ConditionExpression: 'attribute_not_exists(pk)' } }];

  writes.length = 0;
  await engine.verify(tenant, identity, last()!, { alongside });
  expect(writes).toEqual(['TransactWriteItems']);
  const { Item } = await doc.send(new GetCommand({ TableName: table, Key: marker }));
  expect(Item).toEqual(marker);

  // A session write that fails takes the code's use back with it: the code still verifies.
  await engine.login(tenant, { ...identity }, sender).catch(() => undefined);
  const code = last()!;
  const failing = () => [{ Put: { TableName: table, Item: marker, ConditionExpression: 'attribute_not_exists(pk)' } }];
  await expect(engine.verify(tenant, identity, code, { alongside: failing })).rejects.toThrow();
  await expect(engine.verify(tenant, identity, code)).resolves.toMatchObject({ challengeId: expect.any(String) });
  doc.destroy();
});

test('a user removed after the code was sent gets no token, and the code goes nowhere else', async () => {
  const engine = engineWith(runtime().identities);
  const { sender, last } = capturing();
  const identity = phoneIdentity(`+91${uniqueIndianMobile()}`);
  const { userId } = await engine.signup(tenant, identity, sender);
  await engine.login(tenant, identity, sender);

  await expect(runtime().identities.removeUser(tenant, identity, Date.now())).resolves.toBe(true);
  await expect(engine.verify(tenant, identity, last()!)).rejects.toMatchObject({ code: 'user_not_found' });
  // Where the first verification creates the user, the code's holder becomes a new user, never the removed one.
  await expect(engine.verify(tenant, identity, last()!, { unknownUser: 'create' })).resolves.toMatchObject({ userId: expect.not.stringMatching(userId) });
});

test('a login that looked the user up just before a failed signup was undone stores and sends nothing', async () => {
  const rt = runtime();
  const identity = phoneIdentity(`+91${uniqueIndianMobile()}`);
  // The login is held right after it looked the owner up; the signup's delivery fails while it waits.
  const lookedUp = deferred();
  const resume = deferred();
  let hold = false;
  const identities: IdentityStore = {
    ...rt.identities,
    findOwner: async (...args) => {
      const found = await rt.identities.findOwner(...args);
      if (hold) {
        hold = false;
        lookedUp.resolve();
        await resume.promise;
      }
      return found;
    },
  };
  const engine = engineWith(identities);
  const signupSending = deferred();
  const signupDelivery = deferred();
  const failingSignup: Sender = {
    channel: 'sms',
    send: async () => {
      signupSending.resolve();
      await signupDelivery.promise;
      throw new Error('provider down');
    },
  };
  const login = capturing();

  const signup = engine.signup(tenant, identity, failingSignup);
  await signupSending.promise; // the signup's user and code are stored, its delivery in flight
  hold = true;
  const loggingIn = engine.login(tenant, identity, login.sender);
  await lookedUp.promise; // the login has seen the user
  signupDelivery.resolve();
  await expect(signup).rejects.toMatchObject({ code: 'delivery_failed' }); // and the signup is undone
  resume.resolve();

  // It read the state while the signup's message was on its way, so it meets that delivery's hold (resend_too_soon);
  // without the hold, its write would lose to the undo (sendSeq moved) and the next round find no user. Either way:
  const refused = await loggingIn.then(() => undefined, (error: { code?: string }) => error.code);
  expect(['resend_too_soon', 'user_not_found']).toContain(refused);
  expect(login.last()).toBeUndefined();
  const state = await rt.identities.readState(tenant, identity);
  expect(state.code).toBeUndefined();
});

test('a resend that fails after the user was removed does not bring back the removed user\'s code', async () => {
  const rt = runtime();
  const engine = engineWith(rt.identities);
  const identity = phoneIdentity(`+91${uniqueIndianMobile()}`);
  const first = capturing();
  await engine.signup(tenant, identity, first.sender);
  const held = first.last()!;

  const delivery = deferred();
  const sending = deferred();
  const failingResend: Sender = {
    channel: 'sms',
    send: async () => {
      sending.resolve();
      await delivery.promise;
      throw new Error('provider down');
    },
  };
  const resend = engine.login(tenant, identity, failingResend);
  await sending.promise; // the resend's code is stored, its delivery in flight
  await rt.identities.removeUser(tenant, identity, Date.now());
  delivery.resolve();
  await expect(resend).rejects.toMatchObject({ code: 'delivery_failed' });

  const state = await rt.identities.readState(tenant, identity);
  expect(state.code?.userId).toBeUndefined();
  await expect(engine.verify(tenant, identity, held)).rejects.toMatchObject({ status: 401 });
});
