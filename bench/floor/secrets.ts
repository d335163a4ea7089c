import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** The floor of the signing-key rotation function: its one client. */
const client = new SecretsManagerClient({});

export const handler = async () => String(Boolean(client));
