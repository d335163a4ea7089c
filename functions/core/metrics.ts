/**
 * CloudWatch metrics as Embedded Metric Format log lines: Lambda's log stream is enough for
 * CloudWatch to extract them, with no client, no permission and no extra call. Dimensions are
 * kept to the project (low cardinality); never an identifier.
 */
export const METRIC_NAMESPACE = 'otpgate';

export const emitMetric = (name: string, dimensions: Record<string, string>, fields: Record<string, string | number> = {}, value = 1): void => {
  if (process.env.LOG_LEVEL === 'silent') return;
  console.log(
    JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: [{ Name: name, Unit: 'Count' }] }],
      },
      ...fields,
      ...dimensions,
      [name]: value,
    }),
  );
};
