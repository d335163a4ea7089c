import { appendFileSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMessageLog } from '../../local/message-log';

/** The dev inbox's file of sent messages: what one run appends, the next reads back. */

const tempFile = () => join(mkdtempSync(join(tmpdir(), 'otpgate-log-')), 'messages', 'sms.jsonl');

test('messages appended by one run are read back by the next, oldest first', () => {
  const file = tempFile();
  const first = openMessageLog<{ id: string }>(file);
  expect(first.saved).toEqual([]);
  first.append({ id: 'a' });
  first.append({ id: 'b' });
  expect(openMessageLog<{ id: string }>(file).saved).toEqual([{ id: 'a' }, { id: 'b' }]);
});

test('a line torn by a crash mid-write costs that message only, and the next message is kept', () => {
  const file = tempFile();
  openMessageLog<{ id: string }>(file).append({ id: 'a' });
  appendFileSync(file, '{"id":"tor');
  const reopened = openMessageLog<{ id: string }>(file);
  expect(reopened.saved).toEqual([{ id: 'a' }]);
  reopened.append({ id: 'c' });
  expect(openMessageLog<{ id: string }>(file).saved).toEqual([{ id: 'a' }, { id: 'c' }]);
});

test('the file holds live codes: only its owner may read it', () => {
  const file = tempFile();
  openMessageLog<{ id: string }>(file).append({ id: 'a' });
  expect(readFileSync(file, 'utf8')).toBe('{"id":"a"}\n');
  expect(statSync(file).mode & 0o077).toBe(0);
});
