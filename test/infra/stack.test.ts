import { App, Duration, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { OtpGateStack, type OtpGateStackProps } from '#lib/otpgate-stack';
import { routes, type Capability, type Route } from '#lib/routes';

const senderEmail = 'codes@mail.example.org';
const twilioSecretName = 'otpgate/twilio';

interface Synth {
  stack: OtpGateStack;
  template: Template;
}

function synth(props: Partial<OtpGateStackProps> = {}): Synth {
  // Skipping bundling keeps the test fast; the function construct's settings are still in the template.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new OtpGateStack(app, 'Test', { senderEmail, defaultCountryCode: '+91', ...props });
  return { stack, template: Template.fromStack(stack) };
}

const withoutTwilio = synth();
const withTwilio = synth({ twilioSecretName, publicBaseUrl: 'https://auth.example.org' });

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

function logicalId({ stack }: Synth, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

function functionFor(synthed: Synth, route: Route): LambdaFunction {
  return synthed.stack.node.findChild(route.id) as LambdaFunction;
}

function lambdaResource(synthed: Synth, route: Route) {
  const id = logicalId(synthed, functionFor(synthed, route));
  const resource = synthed.template.findResources('AWS::Lambda::Function')[id];
  if (!resource) throw new Error(`no AWS::Lambda::Function ${id} for route ${route.id}`);
  return resource;
}

function environmentOf(synthed: Synth, route: Route): Record<string, unknown> {
  return lambdaResource(synthed, route).Properties.Environment.Variables;
}

/** Every inline policy statement attached to the execution role of the function serving `route`. */
function statementsFor(synthed: Synth, route: Route): Statement[] {
  const role = functionFor(synthed, route).role;
  if (!role) throw new Error(`route ${route.id} has no role`);
  const roleRef = { Ref: logicalId(synthed, role) };
  return Object.values(synthed.template.findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((r: unknown) => JSON.stringify(r) === JSON.stringify(roleRef)))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

function actionsFor(synthed: Synth, route: Route): string[] {
  return statementsFor(synthed, route).flatMap((s) => [s.Action].flat());
}

/** Whether any statement of the route's role names the resource with this logical id or this literal. */
function touches(synthed: Synth, route: Route, needle: string): boolean {
  return JSON.stringify(statementsFor(synthed, route).map((s) => s.Resource)).includes(needle);
}

function secretId(synthed: Synth, constructId: string): string {
  return logicalId(synthed, synthed.stack.node.findChild(constructId));
}

const routeNamed = (id: string): Route => {
  const route = routes.find((r) => r.id === id);
  if (!route) throw new Error(`no route ${id} in lib/routes.ts`);
  return route;
};
const needs = (route: Route, capability: Capability) => route.needs.includes(capability);

describe('functions and routes come from the route table', () => {
  const { template } = withoutTwilio;

  test('one Lambda function per route plus the signing-key rotation, and no helper functions (log retention, custom resources)', () => {
    template.resourceCountIs('AWS::Lambda::Function', routes.length + 1);
  });

  test.each(routes)('$method $path is routed to the $id function', (route) => {
    const routeResources = template.findResources('AWS::ApiGatewayV2::Route', {
      Properties: { RouteKey: `${route.method} ${route.path}` },
    });
    expect(Object.keys(routeResources)).toHaveLength(1);

    const target = JSON.stringify(Object.values(routeResources)[0]?.Properties.Target);
    const [integrationId, integration] = Object.entries(template.findResources('AWS::ApiGatewayV2::Integration'))
      .find(([id]) => target.includes(`"${id}"`)) ?? [];
    expect(integrationId).toBeDefined();
    expect(integration?.Properties.IntegrationUri).toEqual({
      'Fn::GetAtt': [logicalId(withoutTwilio, functionFor(withoutTwilio, route)), 'Arn'],
    });
  });

  test('the verification-id style is served at its documents\' paths, with no project in them', () => {
    for (const routeKey of ['POST /v1/send-verification-code', 'POST /v1/user/authenticate']) {
      withoutTwilio.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey });
    }
  });

  test("the Twilio Verify style is served at Twilio's paths, exactly as Twilio writes them (HTTP API paths are case-sensitive)", () => {
    for (const routeKey of [
      'POST /v2/Services/{ServiceSid}/Verifications',
      'POST /v2/Services/{ServiceSid}/VerificationCheck',
      'GET /v2/Services/{ServiceSid}/Verifications/{Sid}',
      'POST /v2/Services/{ServiceSid}/Verifications/{Sid}',
    ]) {
      withoutTwilio.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey });
    }
  });

  test('no routes beyond the table', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Route', routes.length);
  });

  test('every function runs Node.js 24 on arm64 with the fixed defaults, without source-mapped stack traces (BENCHMARKS.md)', () => {
    template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 256,
    });
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment?.Variables?.NODE_OPTIONS).toBeUndefined();
    }
  });

  test.each(routes)('$id has the timeout its work needs: 10 s when it delivers a code, else 5 s', (route) => {
    expect(lambdaResource(withoutTwilio, route).Properties.Timeout).toBe(route.needs.some((n) => n.startsWith('send:')) ? 10 : 5);
  });

  test.each(routes)('$id gets the shared configuration in its environment', (route) => {
    expect(environmentOf(withoutTwilio, route)).toMatchObject({
      TABLE_NAME: { Ref: expect.any(String) },
      DEFAULT_COUNTRY_CODE: '+91',
      SENDER_EMAIL: senderEmail,
    });
    expect(environmentOf(withoutTwilio, route)).not.toHaveProperty('PUBLIC_BASE_URL');
    expect(environmentOf(withTwilio, route)).toMatchObject({ PUBLIC_BASE_URL: 'https://auth.example.org' });
  });

  test('every function logs to its own log group with a retention (the other log group is the API access log)', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', routes.length + 2);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const logGroupIds = Object.keys(template.findResources('AWS::Logs::LogGroup')).filter((id) => !id.startsWith('ApiAccessLogs'));
    const used = Object.values(template.findResources('AWS::Lambda::Function')).map((fn) => fn.Properties.LoggingConfig.LogGroup.Ref);
    expect(used).toHaveLength(routes.length + 1);
    expect(new Set(used)).toEqual(new Set(logGroupIds));
  });

  test('no role has an AWS managed policy; each function may write logs to its own log group only', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    for (const route of routes) {
      const logs = statementsFor(withoutTwilio, route).filter((s) => [s.Action].flat().some((a) => a.startsWith('logs:')));
      const own = lambdaResource(withoutTwilio, route).Properties.LoggingConfig.LogGroup.Ref;
      expect(logs).toEqual([expect.objectContaining({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [own, 'Arn'] } })]);
    }
  });
});

describe('table', () => {
  test('pk/sk keys, TTL on `ttl`, point-in-time recovery, on-demand', () => {
    withoutTwilio.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      Replicas: [Match.objectLike({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      })],
    });
  });

  test('survives stack deletion', () => {
    withoutTwilio.template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('secrets', () => {
  test('pepper and signing key are generated by Secrets Manager, never written into the template', () => {
    const { template } = withoutTwilio;
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    template.allResourcesProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
      SecretString: Match.absent(),
    });
    template.allResources('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
  });

  test('the signing key rotates every 90 days through the rotation function, and not on every deploy', () => {
    const { template } = withoutTwilio;
    const rotation = withoutTwilio.stack.node.findChild('SigningKeyRotation') as LambdaFunction;
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: secretId(withoutTwilio, 'SigningKeySeed') },
      RotationLambdaARN: { 'Fn::GetAtt': [logicalId(withoutTwilio, rotation), 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(90 days)' },
      RotateImmediatelyOnUpdate: false,
    });
    synth({ signingKeyRotation: Duration.days(30) }).template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  test('the rotation function is built like every other one and only Secrets Manager of this account may invoke it', () => {
    const { template } = withoutTwilio;
    const rotation = withoutTwilio.stack.node.findChild('SigningKeyRotation') as LambdaFunction;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Description: Match.stringLikeRegexp('rotates the token signing key'),
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [logicalId(withoutTwilio, rotation), 'Arn'] },
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
  });

  test('the rotation function can rewrite the signing key and nothing else', () => {
    const rotation = withoutTwilio.stack.node.findChild('SigningKeyRotation') as LambdaFunction;
    const roleRef = JSON.stringify({ Ref: logicalId(withoutTwilio, rotation.role!) });
    const statements = Object.values(withoutTwilio.template.findResources('AWS::IAM::Policy'))
      .filter((policy) => policy.Properties.Roles.some((r: unknown) => JSON.stringify(r) === roleRef))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const onResources = statements.filter((s) => s.Resource !== '*' && ![s.Action].flat().some((a) => a.startsWith('logs:')));
    expect(onResources).toEqual([
      expect.objectContaining({
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
        Resource: { Ref: secretId(withoutTwilio, 'SigningKeySeed') },
      }),
    ]);
    // GetRandomPassword (added by the rotation construct) and X-Ray's writes support no resource; nothing else may be unscoped.
    expect(statements.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat()).sort()).toEqual(
      ['secretsmanager:GetRandomPassword', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
    );
  });

  test('without a Twilio secret the stack warns that SMS will fail', () => {
    Annotations.fromStack(withoutTwilio.stack).hasWarning('*', Match.stringLikeRegexp('otpgate:twilioSecretName'));
    Annotations.fromStack(withTwilio.stack).hasNoWarning('*', Match.stringLikeRegexp('otpgate:twilioSecretName'));
  });
});

describe('least privilege: each function gets exactly what its route needs', () => {
  const pepperOf = (s: Synth) => secretId(s, 'OtpPepper');
  const signingKeyOf = (s: Synth) => secretId(s, 'SigningKeySeed');

  test('Jwks reads keys but cannot write, send email or read the pepper', () => {
    const jwks = routeNamed('Jwks');
    const actions = actionsFor(withTwilio, jwks);
    expect(actions).toContain('dynamodb:GetItem');
    expect(actions).toContain('secretsmanager:GetSecretValue');
    expect(actions).not.toContain('dynamodb:PutItem');
    expect(actions).not.toContain('ses:SendEmail');
    expect(touches(withTwilio, jwks, pepperOf(withTwilio))).toBe(false);
    expect(touches(withTwilio, jwks, twilioSecretName)).toBe(false);
    expect(environmentOf(withTwilio, jwks)).not.toHaveProperty('PEPPER_SECRET_ID');
  });

  test('logins may read the signing key (a login carrying otp_code is a verify); the verification-id routes split sending and signing', () => {
    for (const id of ['MobileOtpLogin', 'EmailOtpLogin', 'UserAuthenticate']) {
      expect(touches(withTwilio, routeNamed(id), signingKeyOf(withTwilio))).toBe(true);
    }
    expect(touches(withTwilio, routeNamed('SendVerificationCode'), signingKeyOf(withTwilio))).toBe(false);
    expect(touches(withTwilio, routeNamed('SendVerificationCode'), twilioSecretName)).toBe(true);
    expect(touches(withTwilio, routeNamed('UserAuthenticate'), twilioSecretName)).toBe(false);
  });

  test.each(routes)('$id: table access matches its needs', (route) => {
    const actions = actionsFor(withTwilio, route);
    const reads = needs(route, 'table:read') || needs(route, 'table:write');
    expect(actions.includes('dynamodb:GetItem')).toBe(reads);
    expect(actions.includes('dynamodb:PutItem')).toBe(needs(route, 'table:write'));
    expect(actions.includes('dynamodb:UpdateItem')).toBe(needs(route, 'table:write'));
  });

  test.each(routes)('$id: pepper and signing key access match its needs', (route) => {
    const env = environmentOf(withTwilio, route);
    expect(touches(withTwilio, route, pepperOf(withTwilio))).toBe(needs(route, 'secret:pepper'));
    expect('PEPPER_SECRET_ID' in env).toBe(needs(route, 'secret:pepper'));
    expect(touches(withTwilio, route, signingKeyOf(withTwilio))).toBe(needs(route, 'secret:signing-key'));
    expect('SIGNING_KEY_SECRET_ID' in env).toBe(needs(route, 'secret:signing-key'));
  });

  test.each(routes)('$id: ses:SendEmail only if it sends email, and only from the sender', (route) => {
    const ses = statementsFor(withTwilio, route).filter((s) => [s.Action].flat().some((a) => a.startsWith('ses:')));
    if (!needs(route, 'send:email')) {
      expect(ses).toEqual([]);
      return;
    }
    expect(ses).toHaveLength(1);
    expect(ses[0]?.Action).toBe('ses:SendEmail');
    expect(ses[0]?.Condition).toEqual({ StringEquals: { 'ses:FromAddress': senderEmail } });
    const resources = JSON.stringify(ses[0]?.Resource);
    expect(resources).toContain(`:identity/${senderEmail}`);
    expect(resources).toContain(':identity/mail.example.org');
    expect([ses[0]?.Resource].flat()).toHaveLength(2);
  });

  const sendsTwilio = (route: Route) => needs(route, 'send:sms') || needs(route, 'send:whatsapp');

  test.each(routes)('$id: Twilio secret only if it sends SMS or WhatsApp (secret configured)', (route) => {
    expect(touches(withTwilio, route, twilioSecretName)).toBe(sendsTwilio(route));
    expect(environmentOf(withTwilio, route).TWILIO_SECRET_ID).toBe(sendsTwilio(route) ? twilioSecretName : undefined);
  });

  test('the WhatsApp send function reads the Twilio secret; its verify function does not', () => {
    expect(touches(withTwilio, routeNamed('WhatsappSendOtp'), twilioSecretName)).toBe(true);
    expect(touches(withTwilio, routeNamed('WhatsappVerifyOtp'), twilioSecretName)).toBe(false);
    expect(actionsFor(withTwilio, routeNamed('WhatsappVerifyOtp'))).not.toContain('ses:SendEmail');
  });

  test('Twilio Verify: only create sends (SMS, WhatsApp, email); check reads the pepper; fetch only reads; cancel writes without the pepper; none signs', () => {
    const create = routeNamed('TwilioVerifyCreate');
    expect(touches(withTwilio, create, twilioSecretName)).toBe(true);
    expect(actionsFor(withTwilio, create)).toContain('ses:SendEmail');
    expect(touches(withTwilio, create, pepperOf(withTwilio))).toBe(true);
    const check = routeNamed('TwilioVerifyCheck');
    expect(touches(withTwilio, check, pepperOf(withTwilio))).toBe(true);
    expect(touches(withTwilio, check, twilioSecretName)).toBe(false);
    expect(actionsFor(withTwilio, check)).not.toContain('ses:SendEmail');
    const fetch = routeNamed('TwilioVerifyFetch');
    expect(actionsFor(withTwilio, fetch)).toContain('dynamodb:GetItem');
    expect(actionsFor(withTwilio, fetch)).not.toContain('dynamodb:UpdateItem');
    expect(touches(withTwilio, fetch, pepperOf(withTwilio))).toBe(false);
    const update = routeNamed('TwilioVerifyUpdate');
    expect(actionsFor(withTwilio, update)).toContain('dynamodb:UpdateItem');
    expect(touches(withTwilio, update, pepperOf(withTwilio))).toBe(false);
    expect(touches(withTwilio, update, twilioSecretName)).toBe(false);
    for (const route of [create, check, fetch, update]) expect(touches(withTwilio, route, signingKeyOf(withTwilio))).toBe(false);
  });

  test.each(routes)('$id: no Twilio access at all while the secret is not configured', (route) => {
    expect(environmentOf(withoutTwilio, route)).not.toHaveProperty('TWILIO_SECRET_ID');
    expect(actionsFor(withoutTwilio, route).filter((a) => a.startsWith('secretsmanager:')).length > 0)
      .toBe(needs(route, 'secret:pepper') || needs(route, 'secret:signing-key'));
  });

  test.each(routes)("$id: projects' own Twilio secrets (otpgate/<stack>/projects/*) only if it sends SMS or WhatsApp", (route) => {
    for (const synthed of [withTwilio, withoutTwilio]) {
      const env = environmentOf(synthed, route);
      const projectSecrets = statementsFor(synthed, route).filter((s) => JSON.stringify(s.Resource).includes(':secret:otpgate/Test/'));
      if (!needs(route, 'send:sms') && !needs(route, 'send:whatsapp')) {
        expect(projectSecrets).toEqual([]);
        expect(env).not.toHaveProperty('PROJECT_SECRET_PREFIX');
        continue;
      }
      expect(env.PROJECT_SECRET_PREFIX).toBe('otpgate/Test/');
      expect(projectSecrets).toHaveLength(1);
      expect(projectSecrets[0]!.Action).toBe('secretsmanager:GetSecretValue');
      const resources = [projectSecrets[0]!.Resource].flat();
      expect(resources).toHaveLength(1);
      // arn:<partition>:secretsmanager:<region>:<account>:secret:otpgate/Test/projects/*, nothing wider.
      expect(JSON.stringify(resources[0])).toMatch(/:secretsmanager:.*:secret:otpgate\/Test\/projects\/\*"\]\]\}$/);
    }
  });

  test('no statement grants on every resource, but X-Ray\'s two write actions (which take no resource)', () => {
    for (const route of routes) {
      for (const statement of statementsFor(withTwilio, route)) {
        if ([statement.Resource].flat().includes('*')) expect([statement.Action].flat().sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      }
    }
  });
});

describe('HTTP API', () => {
  test('CORS preflight allows the app-key and x-api-key headers', () => {
    withoutTwilio.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: {
        AllowOrigins: ['*'],
        AllowHeaders: Match.arrayWith(['content-type', 'app-key', 'x-api-key', 'authorization']),
        AllowMethods: Match.arrayWith(['GET', 'POST', 'OPTIONS']),
        MaxAge: 86400,
      },
    });
  });

  test('CORS preflight allows the X-API-KEY header of the WhatsApp OTP style', () => {
    withoutTwilio.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({ AllowHeaders: Match.arrayWith(['x-api-key']) }),
    });
  });

  test('routes at the same path position name their parameter alike (API Gateway rejects /otp/{a}/x beside /otp/{b}/y)', () => {
    const nameAt = new Map<string, string>();
    for (const route of routes) {
      const segments = route.path.split('/');
      segments.forEach((segment, i) => {
        const param = /^\{(\w+)\}$/.exec(segment)?.[1];
        if (!param) return;
        const position = `${segments.slice(0, i).join('/')}/*`;
        expect(nameAt.get(position) ?? param).toBe(param);
        nameAt.set(position, param);
      });
    }
    expect(nameAt.get('/otp/*')).toBe('otpId');
    expect(nameAt.get('/v2/Services/*')).toBe('ServiceSid');
    expect(nameAt.get('/v2/Services/{ServiceSid}/Verifications/*')).toBe('Sid');
  });

  test('CORS origins can be narrowed', () => {
    synth({ corsAllowOrigins: ['https://app.example.org'] }).template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://app.example.org'] }),
    });
  });

  test('the default stage is throttled, 50/100 unless configured', () => {
    withoutTwilio.template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    withoutTwilio.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
    synth({ throttle: { rateLimit: 5, burstLimit: 10 } }).template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
  });

  test('outputs what a deployer needs', () => {
    for (const name of ['ApiUrl', 'TableName', 'PepperSecretArn', 'SigningKeySecretArn', 'DashboardName', 'AlarmTopicArn']) {
      withoutTwilio.template.hasOutput(name, {});
    }
    // What `otpgate twilio set --stack` names projects' secrets with.
    withoutTwilio.template.hasOutput('ProjectSecretPrefix', { Value: 'otpgate/Test/' });
  });
});
