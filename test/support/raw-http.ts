import { connect } from 'node:net';

/**
 * HTTP/1.1 written byte by byte, for requests no well-behaved client would send: duplicated and
 * oddly cased headers, header lines Node refuses, traversal and stray percent signs in the target,
 * bodies that are not UTF-8. Each request has its own connection, closed after the answer.
 */

export interface RawResponse {
  readonly status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly ms: number;
}

export type RawOutcome = RawResponse | { readonly failure: 'timeout' | 'closed without an answer' | 'unparseable answer'; readonly ms: number; readonly raw: string };

export interface RawRequest {
  readonly method: string;
  /** Sent exactly as given on the request line. */
  readonly target: string;
  /** In order, exactly as given (names not normalised, duplicates kept). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Buffer | string;
}

export const isAnswer = (outcome: RawOutcome): outcome is RawResponse => 'status' in outcome;

const decodeChunked = (data: Buffer): Buffer | undefined => {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
};

const parse = (data: Buffer, ms: number, head: boolean): RawOutcome => {
  const end = data.indexOf('\r\n\r\n');
  const raw = data.subarray(0, 500).toString('latin1');
  if (end < 0) return { failure: data.length === 0 ? 'closed without an answer' : 'unparseable answer', ms, raw };
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isFinite(status)) return { failure: 'unparseable answer', ms, raw };
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const rest = data.subarray(end + 4);
  const body = head ? Buffer.alloc(0) : headers['transfer-encoding']?.includes('chunked') ? decodeChunked(rest) : rest;
  if (body === undefined) return { failure: 'unparseable answer', ms, raw };
  return { status, headers, body: body.toString('utf8'), ms };
};

/** Sends one request and waits for the whole answer (the server closes the connection), at most `timeoutMs`. */
export const rawRequest = (port: number, request: RawRequest, timeoutMs = 20_000): Promise<RawOutcome> =>
  new Promise((resolve) => {
    const started = performance.now();
    const body = request.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
    const head = [`${request.method} ${request.target} HTTP/1.1`, ...request.headers.map(([name, value]) => `${name}: ${value}`), 'Connection: close'];
    if (body.length > 0 || ['POST', 'PUT', 'PATCH'].includes(request.method)) head.push(`Content-Length: ${body.length}`);
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect(port, '127.0.0.1', () => {
      // Not end(): the server would take a half-closed connection for a client that left.
      socket.write(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
    });
    const finish = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ failure: 'timeout', ms: performance.now() - started, raw: Buffer.concat(chunks).subarray(0, 500).toString('latin1') }),
      timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => finish(parse(Buffer.concat(chunks), performance.now() - started, request.method === 'HEAD')));
    socket.on('error', () => undefined); // a reset after the answer is still the answer; 'close' follows
  });
