/** ESM all the way: middy is ESM-only, so jest runs with --experimental-vm-modules; esbuild strips types. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': '<rootDir>/test/support/esbuild-transform.cjs',
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // One DynamoDB Local, SES and Twilio endpoint for the whole run; every test makes its own project.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30_000,
};
