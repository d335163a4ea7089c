import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits: a hash without salt is enough to store it, and it cannot be guessed. */
export const generateAppKey = (): string => `og_${randomBytes(32).toString('base64url')}`;

export const hashAppKey = (appKey: string): string => createHash('sha256').update(appKey, 'utf8').digest('hex');

/** A short public handle for a key, safe to print and log. */
export const appKeyId = (appKey: string): string => hashAppKey(appKey).slice(0, 12);
