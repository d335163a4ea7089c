import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { describeError, log } from '#core/log';
import type { DeliveryChannel } from '#core/otp/identity';
import type { TenantRef } from '#core/store/repository';
import { METRIC, METRIC_NAMESPACE, type LimitName, type SendOutcome, type VerifyOutcome } from '#core/observability/metric-names';

/**
 * The engine's metrics port: what happened, in domain words. The engine calls it and knows
 * nothing of CloudWatch; tests get the no-op (or a recorder, to assert), the runtime the EMF one.
 */
export interface OtpMetrics {
  codeSend(tenant: TenantRef, channel: DeliveryChannel, outcome: SendOutcome): void;
  /** channel: the pending code's, when there is one. */
  verification(tenant: TenantRef, channel: DeliveryChannel | undefined, outcome: VerifyOutcome): void;
  limitHit(tenant: TenantRef, limit: LimitName): void;
  spendCapReached(tenant: TenantRef, channel: DeliveryChannel, cap: string): void;
  providerLatency(tenant: TenantRef, channel: DeliveryChannel, milliseconds: number): void;
}

export const noMetrics: OtpMetrics = {
  codeSend: () => undefined,
  verification: () => undefined,
  limitHit: () => undefined,
  spendCapReached: () => undefined,
  providerLatency: () => undefined,
};

export interface EmfMetricsOptions {
  /** The `service` dimension: the stack name, so two stacks in one account keep apart. */
  readonly service?: string;
  /** Emission on or off (off with LOG_LEVEL=silent, like the logs); asked on every metric. */
  readonly enabled?: () => boolean;
}

/**
 * CloudWatch metrics as Embedded Metric Format lines, built by Powertools Metrics: the function's
 * log stream is enough, with no client, no permission and no call. Each event is serialised and
 * printed at once (add, serialise, clear, all synchronous), so concurrent requests in one process
 * (the local server) never share a buffer and nothing waits for the end of a request. Printed like
 * the logs: raw on stdout in Lambda, through the console elsewhere. A metric never fails a request.
 */
export const emfMetrics = (options: EmfMetricsOptions = {}): OtpMetrics => {
  // Powertools' own warnings go to our log, except the one about a key shared by two dimension
  // sets: sends and verifications are emitted both with and without projectId on purpose (EMF allows it).
  const said = (...content: unknown[]) => String(content[0]);
  const logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (...content: unknown[]) => {
      if (!/defined as both a dimension set and dimension set/.test(said(...content))) log.warn('metrics warning', { detail: said(...content) });
    },
    error: (...content: unknown[]) => log.error('metrics error', { detail: said(...content) }),
  };
  const emf = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: options.service ?? process.env.POWERTOOLS_SERVICE_NAME ?? 'otpgate', logger });
  const enabled = options.enabled ?? (() => process.env.LOG_LEVEL !== 'silent');
  const print = (line: string) => {
    if (process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined) process.stdout.write(`${line}\n`);
    else console.log(line);
  };

  const put = (name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number, dimensions: Record<string, string>, projectId?: string) => {
    if (!enabled()) return;
    try {
      emf.addDimensions(dimensions);
      if (projectId !== undefined) emf.addDimensions({ projectId, ...dimensions });
      emf.addMetric(name, unit, value);
      print(JSON.stringify(emf.serializeMetrics()));
    } catch (error) {
      log.warn('metric not emitted', { metric: name, ...describeError(error) });
    } finally {
      emf.clearMetrics();
      emf.clearDimensions();
    }
  };

  return {
    codeSend: (tenant, channel, outcome) => put(METRIC.codeSends, MetricUnit.Count, 1, { channel, outcome }, tenant.projectId),
    verification: (tenant, channel, outcome) =>
      put(METRIC.verifications, MetricUnit.Count, 1, { channel: channel ?? 'none', outcome }, tenant.projectId),
    limitHit: (tenant, limit) => put(METRIC.limitHits, MetricUnit.Count, 1, { limit }, tenant.projectId),
    spendCapReached: (tenant, channel, cap) => put(METRIC.spendCapReached, MetricUnit.Count, 1, { channel, cap }, tenant.projectId),
    // Per channel only: latency per project would multiply metrics for no decision anyone takes on it.
    providerLatency: (_tenant, channel, milliseconds) => put(METRIC.providerLatency, MetricUnit.Milliseconds, milliseconds, { channel }),
  };
};

export interface RecordedMetric {
  readonly name: keyof OtpMetrics;
  readonly projectId: string;
  readonly args: readonly unknown[];
}

/** For tests that assert metrics: records every call. */
export const recordingMetrics = (): OtpMetrics & { readonly recorded: RecordedMetric[] } => {
  const recorded: RecordedMetric[] = [];
  const record =
    (name: keyof OtpMetrics) =>
    (tenant: TenantRef, ...args: unknown[]) =>
      void recorded.push({ name, projectId: tenant.projectId, args });
  return {
    recorded,
    codeSend: record('codeSend'),
    verification: record('verification'),
    limitHit: record('limitHit'),
    spendCapReached: record('spendCapReached'),
    providerLatency: record('providerLatency'),
  };
};
