import { verifyAccessToken as fromPackage } from 'otpgate/verify';
import { verifyAccessToken } from '#core/tokens/verify-access-token';

test("backends import verifyAccessToken as 'otpgate/verify'", () => {
  expect(fromPackage).toBe(verifyAccessToken);
});
