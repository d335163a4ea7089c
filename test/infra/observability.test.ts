import { App, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { METRIC, METRIC_NAMESPACE } from '#core/observability/metric-names';
import { ACCESS_LOG_FIELDS, OtpGateStack, type OtpGateStackProps } from '#lib/otpgate-stack';
import { routes } from '#lib/routes';

/** Operators' view of the stack: tracing, access log, dashboard, alarms, and the AWS Solutions checks. */

const newApp = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

function synth(props: Partial<OtpGateStackProps> = {}) {
  const stack = new OtpGateStack(newApp(), 'Ops', { senderEmail: 'codes@mail.example.org', defaultCountryCode: '+91', twilioSecretName: 'otpgate/twilio', ...props });
  return { stack, template: Template.fromStack(stack) };
}

const withEmail = synth({ alarmEmail: 'ops@example.org' });
const plain = synth();
const logicalId = (stack: Stack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);

/** A Fn::Join'ed JSON document (the dashboard body) as an object, each token replaced by a marker. */
const joinedJson = (value: unknown): any => {
  if (typeof value === 'string') return JSON.parse(value);
  const [, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'TOKEN')).join(''));
};

describe('tracing', () => {
  test('every function traces actively (X-Ray) and tells the code to load the tracer; logs and metrics name the stack as service', () => {
    plain.template.allResourcesProperties('AWS::Lambda::Function', {
      TracingConfig: { Mode: 'Active' },
      Environment: { Variables: Match.objectLike({ OTPGATE_TRACING: 'active', POWERTOOLS_SERVICE_NAME: 'Ops' }) },
    });
  });

  test('tracing can be turned off: no tracing mode, no tracer in the code, no X-Ray permission', () => {
    const { template } = synth({ tracing: false });
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.TracingConfig).toBeUndefined();
      expect(fn.Properties.Environment.Variables.OTPGATE_TRACING).toBeUndefined();
    }
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain('xray:');
  });
});

describe('API access log', () => {
  test('the default stage writes one JSON line per request to its own log group, kept 30 days', () => {
    const { stack, template } = plain;
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]!;
    const logGroupId = logicalId(stack, stack.node.findChild('ApiAccessLogs'));
    expect(stage.Properties.AccessLogSettings.DestinationArn).toEqual({ 'Fn::GetAtt': [logGroupId, 'Arn'] });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    expect(template.findResources('AWS::Logs::LogGroup')[logGroupId]?.Properties.RetentionInDays).toBe(30);

    const line = JSON.parse(stage.Properties.AccessLogSettings.Format) as Record<string, string>;
    expect(line).toEqual(ACCESS_LOG_FIELDS);
    expect(line).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey', status: '$context.status', responseLatency: '$context.responseLatency' });
    // Nothing that could carry a code, a token or a key: no header, body or query string.
    expect(Object.values(line).join(' ')).not.toMatch(/header|body|querystring|authorizer/i);
  });

  test('per-route API metrics are on unless turned off', () => {
    plain.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: Match.objectLike({ DetailedMetricsEnabled: true }) });
    synth({ routeMetrics: false }).template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: Match.objectLike({ DetailedMetricsEnabled: false }),
    });
  });
});

interface AlarmMetric {
  Id: string;
  Expression?: string;
  MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: { Name: string; Value: unknown }[] }; Stat: string; Period: number };
}

const alarmNamed = (template: Template, name: string) => {
  const found = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find((a) => a.Properties.AlarmName === `Ops-${name}`);
  if (!found) throw new Error(`no alarm Ops-${name}`);
  return found.Properties as { Metrics: AlarmMetric[]; Threshold: number; ComparisonOperator: string; AlarmActions?: unknown[]; OKActions?: unknown[]; EvaluationPeriods: number; TreatMissingData: string };
};
const metricsOf = (alarm: { Metrics: AlarmMetric[] }) => alarm.Metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat!);
const dimensions = (stat: NonNullable<AlarmMetric['MetricStat']>) => Object.fromEntries((stat.Metric.Dimensions ?? []).map((d) => [d.Name, d.Value]));
const expressionOf = (alarm: { Metrics: AlarmMetric[] }) => alarm.Metrics.find((m) => m.Expression && (m as { ReturnData?: boolean }).ReturnData !== false)?.Expression;

describe('alarms', () => {
  const { stack, template } = withEmail;
  const topicRef = { Ref: logicalId(stack, stack.node.findChild('Monitoring').node.findChild('AlarmTopic')) };

  test('all notify one SNS topic (alarm and recovery); the alarm email is subscribed to it, only when set', () => {
    for (const name of ['Api5xxRate', 'DeliveryFailureRate', 'DynamoDbThrottles', 'SpendCapReached', 'SmsConversionCollapse']) {
      const alarm = alarmNamed(template, name);
      expect(alarm.AlarmActions).toEqual([topicRef]);
      expect(alarm.OKActions).toEqual([topicRef]);
      expect(alarm.TreatMissingData).toBe('notBreaching');
    }
    template.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmName: 'Ops-LambdaThrottles', AlarmActions: [topicRef] });
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.org', TopicArn: topicRef });
    plain.template.resourceCountIs('AWS::SNS::Subscription', 0);
    plain.template.resourceCountIs('AWS::SNS::Topic', 1);
  });

  test('5xx rate: 5xx / requests of the API, 5 % in 2 of 3 five-minute periods, once there are 20 requests', () => {
    const alarm = alarmNamed(template, 'Api5xxRate');
    expect(expressionOf(alarm)).toBe('IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)');
    expect(metricsOf(alarm).map((m) => [m.Metric.Namespace, m.Metric.MetricName, m.Period]).sort()).toEqual([
      ['AWS/ApiGateway', '5xx', 300],
      ['AWS/ApiGateway', 'Count', 300],
    ]);
    expect(alarm).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 3 });
  });

  test('delivery-failure rate: failed / (failed + delivered) CodeSends over every channel, 10 % in 15 minutes', () => {
    const alarm = alarmNamed(template, 'DeliveryFailureRate');
    const stats = metricsOf(alarm);
    expect(stats.every((m) => m.Metric.Namespace === METRIC_NAMESPACE && m.Metric.MetricName === METRIC.codeSends && m.Period === 900)).toBe(true);
    expect(stats.every((m) => dimensions(m).service === 'Ops')).toBe(true);
    const failed = stats.filter((m) => dimensions(m).outcome === 'failed').map((m) => dimensions(m).channel);
    expect(new Set(failed)).toEqual(new Set(['sms', 'whatsapp', 'email']));
    expect(stats.some((m) => dimensions(m).outcome === 'delivered')).toBe(true);
    expect(alarm).toMatchObject({ Threshold: 10, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  test('throttles: any Lambda throttle of any otpgate function, any DynamoDB throttle event of the table', () => {
    const throttled = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => /^Ops-LambdaThrottles\d$/.test(a.Properties.AlarmName));
    const functionNames = throttled.flatMap((a) => metricsOf(a.Properties).map((m) => JSON.stringify(dimensions(m).FunctionName)));
    const fns = [...routes.map((r) => r.id), 'SigningKeyRotation'].map((id) => JSON.stringify({ Ref: logicalId(stack, stack.node.findChild(id) as LambdaFunction) }));
    expect(new Set(functionNames)).toEqual(new Set(fns));
    for (const a of throttled) expect(a.Properties).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });

    const table = alarmNamed(template, 'DynamoDbThrottles');
    expect(metricsOf(table).map((m) => `${m.Metric.Namespace} ${m.Metric.MetricName}`).sort()).toEqual(['AWS/DynamoDB ReadThrottleEvents', 'AWS/DynamoDB WriteThrottleEvents']);
    expect(table.Threshold).toBe(1);
  });

  test('spend cap: any SpendCapReached for SMS, WhatsApp or email', () => {
    const alarm = alarmNamed(template, 'SpendCapReached');
    const stats = metricsOf(alarm);
    expect(stats.every((m) => m.Metric.MetricName === METRIC.spendCapReached)).toBe(true);
    expect(new Set(stats.map((m) => dimensions(m).channel))).toEqual(new Set(['sms', 'whatsapp', 'email']));
    expect(new Set(stats.map((m) => dimensions(m).cap))).toEqual(new Set(['perHour', 'perDay', 'perCountryPerHour']));
    expect(new Set(stats.filter((m) => dimensions(m).channel === 'email').map((m) => dimensions(m).cap))).toEqual(new Set(['perHour', 'perDay']));
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  test('conversion collapse: verified / delivered SMS codes over an hour below 20 %, once 50 were sent; an hour with no verification counts as 0', () => {
    const alarm = alarmNamed(template, 'SmsConversionCollapse');
    expect(expressionOf(alarm)).toBe('IF(sent >= 50, 100 * FILL(verified, 0) / sent, 100)');
    const byId = Object.fromEntries(alarm.Metrics.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat!]));
    expect(byId.sent?.Metric.MetricName).toBe(METRIC.codeSends);
    expect(dimensions(byId.sent!)).toEqual({ service: 'Ops', channel: 'sms', outcome: 'delivered' });
    expect(byId.verified?.Metric.MetricName).toBe(METRIC.verifications);
    expect(dimensions(byId.verified!)).toEqual({ service: 'Ops', channel: 'sms', outcome: 'success' });
    expect(byId.sent?.Period).toBe(3600);
    expect(alarm).toMatchObject({ Threshold: 20, ComparisonOperator: 'LessThanThreshold' });
  });

  test('thresholds are stack settings', () => {
    const { template: tuned } = synth({ alarmThresholds: { smsConversionPercent: 35, minSmsSends: 200, api5xxPercent: 2 } });
    expect(expressionOf(alarmNamed(tuned, 'SmsConversionCollapse'))).toBe('IF(sent >= 200, 100 * FILL(verified, 0) / sent, 100)');
    expect(alarmNamed(tuned, 'SmsConversionCollapse').Threshold).toBe(35);
    expect(alarmNamed(tuned, 'Api5xxRate').Threshold).toBe(2);
  });
});

describe('dashboard', () => {
  const dashboards = Object.values(withEmail.template.findResources('AWS::CloudWatch::Dashboard'));
  const body = joinedJson(dashboards[0]?.Properties.DashboardBody);
  const widgets = body.widgets as { type: string; properties: { title?: string; metrics?: unknown[][]; query?: string } }[];
  const titled = (pattern: RegExp) => {
    const found = widgets.find((w) => pattern.test(w.properties.title ?? ''));
    if (!found) throw new Error(`no widget titled ${pattern}`);
    return found;
  };
  /** The metric names a graph reads, as "Namespace MetricName". */
  const metricNames = (pattern: RegExp) =>
    (titled(pattern).properties.metrics ?? []).filter((m) => typeof m[0] === 'string' && !String(m[0]).startsWith('{') && m[0] !== '.' ).map((m) => `${m[0]} ${m[1]}`);
  const expressions = (pattern: RegExp) =>
    (titled(pattern).properties.metrics ?? []).flatMap((m) => m.filter((x) => typeof x === 'object' && x !== null && 'expression' in x).map((x) => (x as { expression: string }).expression));

  test('one dashboard, named after the stack', () => {
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]?.Properties.DashboardName).toBe('Ops-otpgate');
  });

  test('API: requests, 4xx and 5xx rates, latency p50/p99; per route: requests, latency, 4xx, 5xx', () => {
    expect(metricNames(/^API requests$/)).toEqual(['AWS/ApiGateway Count']);
    expect(expressions(/4xx \/ 5xx rate/)).toHaveLength(2);
    expect(metricNames(/^API latency/)).toEqual(['AWS/ApiGateway Latency', 'AWS/ApiGateway Latency']);
    for (const [title, metric] of [[/^Requests per route$/, 'Count'], [/^Latency per route, p99/, 'Latency'], [/^4xx per route$/, '4xx'], [/^5xx per route$/, '5xx']] as const) {
      const lines = titled(title).properties.metrics!;
      expect(lines).toHaveLength(routes.length);
      expect(lines.every((l) => l[0] === 'AWS/ApiGateway' && l[1] === metric)).toBe(true);
      expect(JSON.stringify(lines)).toContain('"Resource","/auth/{projectId}/{environment}/mobile-otp-signup"');
    }
    const withoutRoutes = joinedJson(Object.values(synth({ routeMetrics: false }).template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody);
    expect(JSON.stringify(withoutRoutes)).not.toContain('per route"');
  });

  test('Lambda: errors, throttles, duration p50 and p99 of every function; init duration from the REPORT lines', () => {
    expect(metricNames(/^Lambda errors$/)).toHaveLength(routes.length + 1);
    expect(metricNames(/^Lambda throttles$/).every((m) => m === 'AWS/Lambda Throttles')).toBe(true);
    expect(JSON.stringify(titled(/^Lambda duration p50/).properties.metrics)).toContain('"stat":"p50"');
    expect(JSON.stringify(titled(/^Lambda duration p99/).properties.metrics)).toContain('"stat":"p99"');
    const init = titled(/init duration/i);
    expect(init.type).toBe('log');
    expect(init.properties.query).toContain('@initDuration');
    expect(init.properties.query).toContain('@type = "REPORT"');
  });

  test('DynamoDB: throttle events and latency per operation', () => {
    expect(metricNames(/^DynamoDB throttles$/)).toEqual(['AWS/DynamoDB ReadThrottleEvents', 'AWS/DynamoDB WriteThrottleEvents']);
    const latency = JSON.stringify(titled(/^DynamoDB latency/).properties.metrics);
    for (const op of ['GetItem', 'UpdateItem', 'TransactWriteItems', 'Query']) expect(latency).toContain(`"Operation","${op}"`);
  });

  test('OTP: sends by channel and outcome, verifications by outcome, success rate, send-to-verify conversion, limits, spend caps, provider latency', () => {
    const sends = JSON.stringify(titled(/^Codes sent/).properties.metrics);
    for (const part of [`"${METRIC_NAMESPACE}","${METRIC.codeSends}"`, '"channel","sms"', '"outcome","failed"', '"outcome","delivered"']) expect(sends).toContain(part);
    const verifications = JSON.stringify(titled(/^Verifications, by outcome$/).properties.metrics);
    for (const outcome of ['success', 'wrong', 'expired', 'locked_out']) expect(verifications).toContain(`"outcome","${outcome}"`);
    expect(expressions(/^Verify success rate/)).toContain('100 * verified / judged');
    expect(expressions(/^Send-to-verify conversion/)[0]).toBe('IF(sent >= 50, 100 * FILL(verified, 0) / sent, 100)');
    expect(JSON.stringify(titled(/^Limit hits/).properties.metrics)).toContain(`"${METRIC.limitHits}"`);
    expect(JSON.stringify(titled(/^Spend caps reached$/).properties.metrics)).toContain(`"${METRIC.spendCapReached}"`);
    expect(JSON.stringify(titled(/^Provider latency/).properties.metrics)).toContain(`"${METRIC.providerLatency}"`);
  });

  test('SES: bounces and complaints, and the account reputation', () => {
    expect(metricNames(/^SES bounces and complaints$/)).toEqual(expect.arrayContaining(['AWS/SES Bounce', 'AWS/SES Complaint']));
    expect(metricNames(/^SES reputation/)).toEqual(['AWS/SES Reputation.BounceRate', 'AWS/SES Reputation.ComplaintRate']);
  });

  test('the alarms are on it', () => {
    expect((titled(/^Alarms$/).properties as { alarms?: unknown[] }).alarms).toHaveLength(6);
  });
});

describe('cdk-nag AwsSolutions checks', () => {
  const checked = (configure: (stack: OtpGateStack) => void = () => undefined, env?: { account: string; region: string }) => {
    const app = newApp();
    const stack = new OtpGateStack(app, 'Nag', { env, senderEmail: 'codes@mail.example.org', defaultCountryCode: '+91', twilioSecretName: 'otpgate/twilio', alarmEmail: 'ops@example.org' });
    configure(stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    return { app, stack };
  };

  test('report no finding that is not acknowledged', () => {
    const { app } = checked();
    expect(() => app.synth()).not.toThrow();
  });

  test('nor when deployed to a concrete account and region (ARNs then carry literals, not pseudo parameters)', () => {
    const { app } = checked(undefined, { account: '123456789012', region: 'eu-west-1' });
    expect(() => app.synth()).not.toThrow();
  });

  test('would report one: an SNS topic that allows plain HTTP fails the synthesis, named', () => {
    const { app } = checked((stack) => void new Topic(stack, 'Unsafe'));
    expect(() => app.synth()).toThrow(/Nag\/Unsafe[\s\S]*AwsSolutions-SNS3/);
  });

  test('every acknowledgment says why, and only the findings the issue names (plus X-Ray\'s wildcard, projects\' Twilio secrets by prefix and the alarm topic\'s key) are acknowledged', () => {
    const { stack } = checked();
    const acknowledged = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map((m) => m.data as Record<string, string>));
    // Recorded as { "<pack>::<rule>": reason }.
    const rules = acknowledged.flatMap((data) => Object.entries(data).map(([id, reason]) => ({ id: id.replace(/^AwsSolutions::/, ''), reason })));
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule.reason.length).toBeGreaterThan(40);
    const projectSecrets = 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:otpgate/Nag/projects/*]';
    expect(new Set(rules.map((r) => r.id))).toEqual(new Set(['AwsSolutions-APIG4', 'AwsSolutions-SMG4', 'AwsSolutions-IAM5[Resource::*]', 'AwsSolutions-SNS2', projectSecrets]));
    expect(rules.filter((r) => r.id === 'AwsSolutions-APIG4')).toHaveLength(routes.length);
  });
});
