import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmRule,
  AlarmStatusWidget,
  CompositeAlarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  LogQueryWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { CHANNELS, LIMIT_NAMES, METRIC, METRIC_NAMESPACE, VERIFY_OUTCOMES, type LimitName, type SendOutcome, type VerifyOutcome } from '#core/observability/metric-names';
import type { Route } from './routes';

/** When the alarms go off. Rates are percentages; each has a floor of traffic below which it stays quiet. */
export interface AlarmThresholds {
  /** API 5xx answers, % of requests in 5 minutes (2 of 3 periods), once there are `minRequests`. @default 5 */
  readonly api5xxPercent: number;
  /** @default 20 */
  readonly minRequests: number;
  /** Provider delivery failures, % of delivery attempts in 15 minutes, once there are `minDeliveries`. @default 10 */
  readonly deliveryFailurePercent: number;
  /** @default 10 */
  readonly minDeliveries: number;
  /**
   * SMS codes verified per SMS code delivered, % over an hour, once `minSmsSends` were delivered.
   * Real users verify most codes (typically 60-90 %); SMS pumping sends many and verifies none. @default 20
   */
  readonly smsConversionPercent: number;
  /** @default 50 */
  readonly minSmsSends: number;
}

export const defaultAlarmThresholds: AlarmThresholds = {
  api5xxPercent: 5,
  minRequests: 20,
  deliveryFailurePercent: 10,
  minDeliveries: 10,
  smsConversionPercent: 20,
  minSmsSends: 50,
};

export interface MonitoringProps {
  readonly api: HttpApi;
  /** The stage's name in API Gateway's metrics (`$default`). */
  readonly stageName: string;
  /** Route-level API metrics are emitted (the stage's detailed metrics are on). */
  readonly routeMetrics: boolean;
  readonly routes: readonly Route[];
  /** Every function, route functions by route id plus any other (the signing-key rotation). */
  readonly functions: ReadonlyMap<string, { readonly fn: IFunction; readonly logGroup: ILogGroup }>;
  readonly table: TableV2;
  readonly accessLogs: ILogGroup;
  /** The `service` dimension of otpgate's own metrics (the functions' POWERTOOLS_SERVICE_NAME). */
  readonly service: string;
  /** Subscribed to the alarm topic when set. */
  readonly alarmEmail?: string;
  readonly thresholds?: Partial<AlarmThresholds>;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * What an operator watches: one dashboard (API, functions, table, OTP outcomes, SES) and the
 * alarms that need a person, all sent to one SNS topic (an email subscription when configured).
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  readonly alarms: Record<'api5xx' | 'deliveryFailures' | 'tableThrottles' | 'spendCap' | 'smsConversion', Alarm> & { readonly lambdaThrottles: CompositeAlarm };

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const t = { ...defaultAlarmThresholds, ...props.thresholds };
    const stackName = Stack.of(this).stackName;

    this.topic = new Topic(this, 'AlarmTopic', { displayName: `otpgate alarms (${stackName})`, enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry an alarm name, a metric and a threshold, never user data. CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key would cost more than the data it protects.',
    });

    // --- otpgate's own metrics (EMF, functions/core/observability) ---
    const otp = (name: string, dimensions: Record<string, string>, statistic = 'Sum', period = FIVE_MINUTES) =>
      new Metric({ namespace: METRIC_NAMESPACE, metricName: name, dimensionsMap: { service: props.service, ...dimensions }, statistic, period });
    const sends = (channel: string, outcome: SendOutcome, period?: Duration) => otp(METRIC.codeSends, { channel, outcome }, 'Sum', period);
    const verifications = (channel: string, outcome: VerifyOutcome, period?: Duration) => otp(METRIC.verifications, { channel, outcome }, 'Sum', period);
    const limitHits = (limit: LimitName) => otp(METRIC.limitHits, { limit });
    /** The sum of several metrics, as one line (missing ones count as 0). */
    let sums = 0;
    const sum = (label: string, metrics: IMetric[], period = FIVE_MINUTES) => {
      // Ids unique across the construct: sums nest in other expressions, where ids must not repeat.
      const id = `s${(sums += 1)}m`;
      return new MathExpression({
        expression: metrics.map((_, i) => `FILL(${id}${i}, 0)`).join(' + '),
        usingMetrics: Object.fromEntries(metrics.map((m, i) => [`${id}${i}`, m])),
        label,
        period,
      });
    };
    let percents = 0;
    const percent = (label: string, part: IMetric, whole: IMetric, period = FIVE_MINUTES) => {
      const id = `p${(percents += 1)}`;
      return new MathExpression({ expression: `100 * ${id}part / ${id}whole`, usingMetrics: { [`${id}part`]: part, [`${id}whole`]: whole }, label, period });
    };

    // --- alarms ---
    const api5xx = new MathExpression({
      expression: `IF(requests >= ${t.minRequests}, 100 * FILL(errors, 0) / requests, 0)`,
      usingMetrics: { requests: props.api.metricCount({ period: FIVE_MINUTES }), errors: props.api.metricServerError({ period: FIVE_MINUTES }) },
      label: 'API 5xx %',
      period: FIVE_MINUTES,
    });
    const delivery = (outcome: SendOutcome) => CHANNELS.map((c) => sends(c, outcome, Duration.minutes(15)));
    const deliveryFailures = new MathExpression({
      expression: `IF(attempts >= ${t.minDeliveries}, 100 * failed / attempts, 0)`,
      usingMetrics: {
        failed: sum('failed', delivery('failed'), Duration.minutes(15)),
        attempts: sum('attempts', [...delivery('failed'), ...delivery('delivered')], Duration.minutes(15)),
      },
      label: 'Delivery failures %',
      period: Duration.minutes(15),
    });
    const functions = [...props.functions.values()];
    // An alarm's math may read at most 10 metrics: one alarm per 10 functions, joined by a composite.
    const throttleGroups: IMetric[] = [];
    for (let i = 0; i < functions.length; i += 10) {
      throttleGroups.push(sum('Lambda throttles', functions.slice(i, i + 10).map(({ fn }) => fn.metricThrottles({ period: FIVE_MINUTES }))));
    }
    const tableThrottles = sum('DynamoDB throttle events', [
      props.table.metric('ReadThrottleEvents', { statistic: 'Sum', period: FIVE_MINUTES }),
      props.table.metric('WriteThrottleEvents', { statistic: 'Sum', period: FIVE_MINUTES }),
    ]);
    const caps = ['perHour', 'perDay', 'perCountryPerHour'];
    const spendCap = sum('Spend caps reached (SMS, WhatsApp, email)', [
      ...['sms', 'whatsapp'].flatMap((channel) => caps.map((cap) => otp(METRIC.spendCapReached, { channel, cap }))),
      // Email has no per-country cap.
      ...['perHour', 'perDay'].map((cap) => otp(METRIC.spendCapReached, { channel: 'email', cap })),
    ]);
    const HOUR = Duration.hours(1);
    const smsConversion = new MathExpression({
      // FILL: an hour with no verification at all is the clearest pumping signal, not a gap.
      expression: `IF(sent >= ${t.minSmsSends}, 100 * FILL(verified, 0) / sent, 100)`,
      usingMetrics: { sent: sends('sms', 'delivered', HOUR), verified: verifications('sms', 'success', HOUR) },
      label: 'SMS send-to-verify conversion %',
      period: HOUR,
    });

    const alarm = (name: string, metric: IMetric, threshold: number, description: string, options: { below?: boolean; periods?: number; toAlarm?: number; notify?: boolean } = {}) => {
      const created = new Alarm(this, name, {
        alarmName: `${stackName}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: options.below ? ComparisonOperator.LESS_THAN_THRESHOLD : ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: options.periods ?? 1,
        datapointsToAlarm: options.toAlarm ?? options.periods ?? 1,
        // No traffic is no problem: each rate has its own floor of traffic.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (options.notify ?? true) {
        created.addAlarmAction(new SnsAction(this.topic));
        created.addOkAction(new SnsAction(this.topic));
      }
      return created;
    };
    const throttleDescription = 'A function was throttled: the account or a reserved concurrency limit was reached. See SCALING.md.';
    const lambdaThrottles = new CompositeAlarm(this, 'LambdaThrottles', {
      compositeAlarmName: `${stackName}-LambdaThrottles`,
      alarmDescription: throttleDescription,
      alarmRule: AlarmRule.anyOf(
        ...throttleGroups.map((metric, i) => alarm(`LambdaThrottles${i + 1}`, metric, 1, `${throttleDescription} (functions ${i * 10 + 1}-${i * 10 + 10})`, { notify: false })),
      ),
    });
    lambdaThrottles.addAlarmAction(new SnsAction(this.topic));
    lambdaThrottles.addOkAction(new SnsAction(this.topic));

    this.alarms = {
      api5xx: alarm('Api5xxRate', api5xx, t.api5xxPercent, `${t.api5xxPercent}% or more of API requests answered 5xx in 2 of 3 five-minute periods. See the functions' logs ("unexpected error", "request failed") and the delivery-failure alarm.`, { periods: 3, toAlarm: 2 }),
      deliveryFailures: alarm('DeliveryFailureRate', deliveryFailures, t.deliveryFailurePercent, `${t.deliveryFailurePercent}% or more of code deliveries failed at the provider (Twilio, SES) in 15 minutes. Logs: "code delivery failed" with the provider's error code.`),
      lambdaThrottles,
      tableThrottles: alarm('DynamoDbThrottles', tableThrottles, 1, 'DynamoDB throttled requests: a hot item or partition (an identifier, a spend-cap shard, an IP counter). See SCALING.md.'),
      spendCap: alarm('SpendCapReached', spendCap, 1, 'A project reached its SMS, WhatsApp or email spend cap; its sends are refused (429 budget_exceeded) until the window ends. A surprise here is usually SMS pumping.'),
      smsConversion: alarm('SmsConversionCollapse', smsConversion, t.smsConversionPercent, `Fewer than ${t.smsConversionPercent}% of SMS codes delivered in the last hour were verified (with at least ${t.minSmsSends} sent): the signature of SMS pumping. Check LimitHits and the per-project CodeSends; tighten allowedCountries and the spend caps.`, { below: true }),
    };

    // --- dashboard ---
    const api = props.api;
    const routeMetric = (route: Route, metricName: string, statistic: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: api.apiId, Stage: props.stageName, Method: route.method, Resource: route.path },
        statistic,
        period: FIVE_MINUTES,
        label: route.id,
      });
    const perRoute = (title: string, metricName: string, statistic: string) =>
      new GraphWidget({ title, width: 12, left: props.routes.map((route) => routeMetric(route, metricName, statistic)) });
    const perFunction = (title: string, metric: (fn: IFunction, label: string) => IMetric) =>
      new GraphWidget({ title, width: 12, left: [...props.functions].map(([id, { fn }]) => metric(fn, id)) });
    const operations = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'TransactWriteItems'];

    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `${stackName}-otpgate`, defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new TextWidget({ markdown: `# otpgate (${stackName})\nAlarms notify the stack's SNS topic (output \`AlarmTopicArn\`); otpgate's own metrics are in the \`${METRIC_NAMESPACE}\` namespace, service \`${props.service}\`. Limits and what raises them: SCALING.md.`, width: 24, height: 2 }),
      new AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'API requests', width: 8, left: [api.metricCount({ period: FIVE_MINUTES, label: 'requests' })] }),
      new GraphWidget({
        title: 'API 4xx / 5xx rate (%)',
        width: 8,
        left: [
          percent('4xx %', api.metricClientError({ period: FIVE_MINUTES }), api.metricCount({ period: FIVE_MINUTES })),
          percent('5xx %', api.metricServerError({ period: FIVE_MINUTES }), api.metricCount({ period: FIVE_MINUTES })),
        ],
      }),
      new GraphWidget({
        title: 'API latency (ms)',
        width: 8,
        left: [api.metricLatency({ statistic: 'p50', period: FIVE_MINUTES, label: 'p50' }), api.metricLatency({ statistic: 'p99', period: FIVE_MINUTES, label: 'p99' })],
      }),
    );
    if (props.routeMetrics) {
      this.dashboard.addWidgets(
        perRoute('Requests per route', 'Count', 'Sum'),
        perRoute('Latency per route, p99 (ms)', 'Latency', 'p99'),
        perRoute('4xx per route', '4xx', 'Sum'),
        perRoute('5xx per route', '5xx', 'Sum'),
      );
    }
    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: 'Requests per route and status (access log)',
        width: 12,
        logGroupNames: [props.accessLogs.logGroupName],
        queryLines: ['stats count(*) as requests by routeKey, status', 'sort requests desc'],
      }),
      new LogQueryWidget({
        title: 'Latency per route, p50 / p99 (ms, access log)',
        width: 12,
        logGroupNames: [props.accessLogs.logGroupName],
        queryLines: ['stats count(*) as requests, pct(responseLatency, 50) as p50, pct(responseLatency, 99) as p99 by routeKey', 'sort p99 desc'],
      }),
    );
    this.dashboard.addWidgets(
      perFunction('Lambda errors', (fn, label) => fn.metricErrors({ period: FIVE_MINUTES, label })),
      perFunction('Lambda throttles', (fn, label) => fn.metricThrottles({ period: FIVE_MINUTES, label })),
      perFunction('Lambda duration p50 (ms)', (fn, label) => fn.metricDuration({ statistic: 'p50', period: FIVE_MINUTES, label })),
      perFunction('Lambda duration p99 (ms)', (fn, label) => fn.metricDuration({ statistic: 'p99', period: FIVE_MINUTES, label })),
    );
    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: 'Lambda init duration (cold starts, ms)',
        width: 24,
        // Lambda reports init time only in its REPORT lines, not as a metric.
        logGroupNames: functions.map(({ logGroup }) => logGroup.logGroupName),
        queryLines: [
          'filter @type = "REPORT" and ispresent(@initDuration)',
          'stats count(*) as coldStarts, pct(@initDuration, 50) as p50, pct(@initDuration, 99) as p99, max(@initDuration) as max by @log',
          'sort p99 desc',
        ],
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'DynamoDB throttles',
        width: 12,
        left: [
          props.table.metric('ReadThrottleEvents', { statistic: 'Sum', period: FIVE_MINUTES, label: 'read throttle events' }),
          props.table.metric('WriteThrottleEvents', { statistic: 'Sum', period: FIVE_MINUTES, label: 'write throttle events' }),
        ],
      }),
      new GraphWidget({
        title: 'DynamoDB latency, average (ms)',
        width: 12,
        left: operations.map((operation) =>
          props.table.metricSuccessfulRequestLatency({ dimensionsMap: { TableName: props.table.tableName, Operation: operation }, period: FIVE_MINUTES, label: operation }),
        ),
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Codes sent, by channel and outcome',
        width: 12,
        left: CHANNELS.flatMap((channel) => (['delivered', 'failed', 'test'] as const).map((outcome) => sends(channel, outcome).with({ label: `${channel} ${outcome}` }))),
      }),
      new GraphWidget({
        title: 'Verifications, by outcome',
        width: 12,
        left: VERIFY_OUTCOMES.map((outcome) => sum(outcome, [...CHANNELS, 'none'].map((channel) => verifications(channel, outcome)))),
      }),
    );
    const verified = sum('verified', CHANNELS.map((c) => verifications(c, 'success')));
    const judged = sum('judged', CHANNELS.flatMap((c) => (['success', 'wrong', 'expired', 'locked_out'] as const).map((o) => verifications(c, o))));
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Verify success rate (%): right codes of all codes judged',
        width: 8,
        left: [new MathExpression({ expression: '100 * verified / judged', usingMetrics: { verified, judged }, label: 'success %', period: FIVE_MINUTES })],
        leftYAxis: { min: 0, max: 100 },
      }),
      new GraphWidget({
        title: 'Send-to-verify conversion (%), hourly',
        width: 8,
        left: [
          smsConversion,
          ...(['whatsapp', 'email'] as const).map((c) => percent(`${c} %`, verifications(c, 'success', HOUR), sends(c, 'delivered', HOUR), HOUR)),
        ],
        leftYAxis: { min: 0, max: 100 },
      }),
      new GraphWidget({
        title: 'Provider latency (ms)',
        width: 8,
        left: CHANNELS.flatMap((channel) => [
          otp(METRIC.providerLatency, { channel }, 'p50').with({ label: `${channel} p50` }),
          otp(METRIC.providerLatency, { channel }, 'p99').with({ label: `${channel} p99` }),
        ]),
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Limit hits (requests refused by an abuse limit)',
        width: 12,
        left: LIMIT_NAMES.map((limit) =>
          limitHits(limit).with({ label: limit }),
        ),
      }),
      new GraphWidget({ title: 'Spend caps reached', width: 12, left: [spendCap] }),
    );
    const ses = (metricName: string, statistic: string, label: string) => new Metric({ namespace: 'AWS/SES', metricName, statistic, period: FIVE_MINUTES, label });
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'SES bounces and complaints', width: 12, left: [ses('Bounce', 'Sum', 'bounces'), ses('Complaint', 'Sum', 'complaints')], right: [ses('Send', 'Sum', 'sent')] }),
      new GraphWidget({
        title: 'SES reputation (account): bounce and complaint rate',
        width: 12,
        left: [ses('Reputation.BounceRate', 'Maximum', 'bounce rate'), ses('Reputation.ComplaintRate', 'Maximum', 'complaint rate')],
      }),
    );
  }
}
