/**
 * `npm run test:soak`: the long reliability runs (test/soak/), bounded to about 10 minutes on a
 * 2-core machine. Each starts its own local stack, so no global setup; one file at a time.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': '<rootDir>/test/support/esbuild-transform.cjs',
  },
  testMatch: ['<rootDir>/test/soak/**/*.soak.ts'],
  testTimeout: 600_000,
  maxWorkers: 1,
};
