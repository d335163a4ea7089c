import { createServer } from 'node:http';
import { listen, readBody } from '../local/http-server';

/**
 * A mocked Secrets Manager for the functions the bench runs: GetSecretValue over the real wire
 * protocol (JSON 1.1), so the bundles call it through their own, unmodified SDK client
 * (AWS_ENDPOINT_URL_SECRETS_MANAGER). Counts every call; GET /_count reads the count, which is
 * how the probes tell cold-start calls from warm ones.
 */
export const startSecretsManagerMock = async (secrets: Readonly<Record<string, string>>) => {
  let calls = 0;
  const byId: Record<string, number> = {};
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/_count') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ calls, byId }));
      }
      const body = JSON.parse((await readBody(req)) ?? '{}') as { SecretId?: string };
      calls += 1;
      if (body.SecretId !== undefined) byId[body.SecretId] = (byId[body.SecretId] ?? 0) + 1;
      const target = String(req.headers['x-amz-target'] ?? '');
      const value = body.SecretId === undefined ? undefined : secrets[body.SecretId];
      res.writeHead(value === undefined || target !== 'secretsmanager.GetSecretValue' ? 400 : 200, { 'content-type': 'application/x-amz-json-1.1' });
      if (value === undefined || target !== 'secretsmanager.GetSecretValue') {
        return res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
      }
      res.end(JSON.stringify({ ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${body.SecretId}`, Name: body.SecretId, SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 1_700_000_000 }));
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  const { port, close } = await listen(server, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, calls: () => calls, close };
};
