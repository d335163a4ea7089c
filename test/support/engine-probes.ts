import type { OutgoingCode, Sender } from '#core/otp/engine';

/**
 * Tools for tests that drive the engine directly and force interleavings (never timing): a sender
 * that hands each code to the test, and a promise the test resolves when it chooses.
 */

/** A sender that hands the code to the test instead of sending it. */
export const capturing = (channel: Sender['channel'] = 'sms') => {
  const sent: OutgoingCode[] = [];
  const sender: Sender = { channel, send: async (message) => void sent.push(message) };
  return { sender, sent, last: () => sent[sent.length - 1]?.code };
};

/** A promise and the function that resolves it. */
export const deferred = <T = void>() => {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};
