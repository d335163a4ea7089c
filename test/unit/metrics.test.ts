import { jest } from '@jest/globals';
import { emfMetrics } from '#core/observability/metrics';

/** The EMF lines CloudWatch turns into metrics: shape, dimensions, units, and off when silent. */

const tenant = { projectId: 'acme', environment: 'production' };

describe('emfMetrics', () => {
  let out: ReturnType<typeof jest.spyOn>;
  const saved = process.env.LOG_LEVEL;
  beforeEach(() => {
    process.env.LOG_LEVEL = 'info';
    out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    out.mockRestore();
    if (saved === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = saved;
  });
  const emitted = () => out.mock.calls.map((c: unknown[]) => JSON.parse(String(c[0])) as Record<string, any>);

  test('a send is one EMF line in the otpgate namespace, counted per channel and outcome, and per project too', () => {
    emfMetrics({ service: 'OtpGate' }).codeSend(tenant, 'sms', 'delivered');
    const [line, ...rest] = emitted();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ service: 'OtpGate', channel: 'sms', outcome: 'delivered', projectId: 'acme', CodeSends: 1 });
    const [directive] = line!._aws.CloudWatchMetrics;
    expect(directive.Namespace).toBe('otpgate');
    expect(directive.Metrics).toEqual([{ Name: 'CodeSends', Unit: 'Count' }]);
    expect(directive.Dimensions.map((set: string[]) => [...set].sort())).toEqual([
      ['channel', 'outcome', 'service'],
      ['channel', 'outcome', 'projectId', 'service'],
    ]);
    expect(typeof line!._aws.Timestamp).toBe('number');
  });

  test('verifications without a pending code count under channel "none"; limit and spend-cap hits name what refused', () => {
    const metrics = emfMetrics({ service: 'OtpGate' });
    metrics.verification(tenant, undefined, 'no_pending');
    metrics.limitHit(tenant, 'resend_cooldown');
    metrics.spendCapReached(tenant, 'sms', 'perHour');
    const [verification, limit, cap] = emitted();
    expect(verification).toMatchObject({ channel: 'none', outcome: 'no_pending', Verifications: 1 });
    expect(limit).toMatchObject({ limit: 'resend_cooldown', LimitHits: 1, projectId: 'acme' });
    expect(cap).toMatchObject({ channel: 'sms', cap: 'perHour', SpendCapReached: 1, projectId: 'acme' });
  });

  test('provider latency is in milliseconds, per channel only', () => {
    emfMetrics({ service: 'OtpGate' }).providerLatency(tenant, 'email', 212.5);
    const [line] = emitted();
    expect(line).toMatchObject({ ProviderLatency: 212.5, channel: 'email' });
    expect(line).not.toHaveProperty('projectId');
    expect(line!._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'ProviderLatency', Unit: 'Milliseconds' }]);
    expect(line!._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'channel']]);
  });

  test('events never share a line, even emitted back to back', () => {
    const metrics = emfMetrics({ service: 'OtpGate' });
    metrics.codeSend(tenant, 'sms', 'delivered');
    metrics.codeSend({ projectId: 'other', environment: 'dev' }, 'email', 'failed');
    const [first, second] = emitted();
    expect(first).toMatchObject({ projectId: 'acme', channel: 'sms', outcome: 'delivered' });
    expect(second).toMatchObject({ projectId: 'other', channel: 'email', outcome: 'failed' });
  });

  test('nothing is emitted when LOG_LEVEL is silent', () => {
    process.env.LOG_LEVEL = 'silent';
    emfMetrics().codeSend(tenant, 'sms', 'delivered');
    expect(out).not.toHaveBeenCalled();
  });
});
