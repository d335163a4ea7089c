import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The local stand-ins' sent messages as a JSON-lines file, so the dev inbox survives a restart of
 * `npm start` like the rest of .otp-local/. Without a file nothing is written (the test suite's
 * services keep their messages in memory only).
 */
export interface MessageLog<T> {
  /** The messages written by earlier runs, oldest first. */
  readonly saved: T[];
  append(message: T): void;
}

const parseLines = <T>(text: string): T[] =>
  text.split('\n').flatMap((line) => {
    if (line.trim() === '') return [];
    try {
      const value: unknown = JSON.parse(line);
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? [value as T] : [];
    } catch {
      return []; // a line torn by a crash mid-write loses that one message, not the inbox
    }
  });

export const openMessageLog = <T extends object>(file: string | undefined): MessageLog<T> => {
  if (file === undefined) return { saved: [], append: () => undefined };
  // The messages carry live codes: readable by the developer only, like the secrets beside them.
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  // End a torn last line, so the next message starts on a line of its own.
  if (text !== '' && !text.endsWith('\n')) appendFileSync(file, '\n');
  return {
    saved: parseLines<T>(text),
    append(message) {
      // Synchronous, so a message is on disk before its sender hears that it was accepted.
      appendFileSync(file, `${JSON.stringify(message)}\n`, { mode: 0o600 });
    },
  };
};
