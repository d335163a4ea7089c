import type { LocalServices } from '../../local/services';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { otpgateServices?: LocalServices }).otpgateServices?.stop();
}
