/**
 * AWS list prices used for the cost per million sign-in flows: us-east-1, on-demand, checked
 * against the public pricing pages (the dates are when). Change them here; the report prints them.
 */
export const PRICES = {
  checked: '2026-05',
  region: 'us-east-1',
  /** API Gateway HTTP API, first 300 million requests a month (each request up to 512 KB counts once). */
  httpApiPerMillionRequests: 1.0,
  /** Lambda, arm64 (Graviton): requests, and compute per GB-second (first 7.5 billion GB-s a month). */
  lambdaPerMillionRequests: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  /** DynamoDB on-demand (since the November 2024 price cut): per million write and read request units. */
  dynamoPerMillionWriteUnits: 0.625,
  dynamoPerMillionReadUnits: 0.125,
  /** Secrets Manager: $0.05 per 10,000 API calls (the $0.40 per secret per month is fixed, not per flow). */
  secretsManagerPerMillionCalls: 5.0,
  /** Amazon SES outbound email: $0.10 per 1,000 emails. */
  sesPerMillionEmails: 100,
  /** Twilio Programmable SMS to a US number, per segment (varies by country: India is ~$0.08). */
  twilioSmsUs: 0.0083,
  /** Twilio Verify: $0.05 per successful verification, plus the channel's own fee. */
  twilioVerifyPerVerification: 0.05,
  /** CloudWatch Logs ingestion per GB (standard class). */
  cloudWatchLogsPerGb: 0.5,
} as const;

/**
 * Assumptions the measurement cannot give, stated in the report beside the result:
 * - how often a request meets a cold start (AWS: typically under 1% of invocations in production);
 * - traffic for the periodic secret re-reads (a warm container re-reads the Twilio secret every
 *   60 s and the signing key every 5 minutes): one million flows a month, evenly spread, which is
 *   the traffic the "per million" figure describes and the worst case for those re-reads.
 */
export const ASSUMPTIONS = {
  coldStartShare: 0.01,
  flowsPerMonth: 1_000_000,
  secondsPerMonth: 30 * 86_400,
} as const;

/** Lambda bills duration in 1 ms steps. */
export const lambdaDurationCost = (ms: number, memoryMb: number): number => Math.ceil(ms) / 1000 * (memoryMb / 1024) * PRICES.lambdaArmPerGbSecond;

/** The CPU share Lambda gives a function: one full vCPU at 1,769 MB, proportionally less below. */
export const cpuShare = (memoryMb: number): number => Math.min(1, memoryMb / 1769);
