import { type Server, type Socket, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connectPostgres } from '../lib/db/postgres';
import { errorCode } from '../lib/errors';

/**
 * A server going away can end a connection in the very chunk that finishes its startup: ReadyForQuery, then
 * `FATAL 57P01 terminating connection`. pg parses both in one go, so the error is emitted before an `await`ed
 * checkout's continuation could attach a listener; with none attached the process dies (seen once in CI, a sync worker
 * during a Postgres restart). A real server cannot be made to hit that moment on demand, so this test stands in for
 * one at the wire: the first connection behaves, every later one is ended that way.
 */
const message = (type: string, body: Buffer) => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const AUTH_OK = message('R', int32(0));
const READY = (status: 'I' | 'T') => message('Z', Buffer.from(status, 'latin1'));
const COMPLETE = (tag: string) => message('C', Buffer.from(`${tag}\0`));
const TERMINATING = message('E', Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0'));

/** Answers the startup, then each simple query with its command tag; the frames are read by their length prefix. */
function serveWell(socket: Socket): void {
  let pending = Buffer.alloc(0);
  let started = false;
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const offset = started ? 1 : 0;
      if (pending.length < offset + 4) return;
      const length = pending.readInt32BE(offset) + offset;
      if (pending.length < length) return;
      const frame = pending.subarray(0, length);
      pending = pending.subarray(length);
      if (!started) {
        started = true;
        socket.write(Buffer.concat([AUTH_OK, READY('I')]));
      } else if (frame.toString('latin1', 0, 1) === 'Q') {
        const tag = frame.toString('utf8', 5, frame.length - 1).trim().split(/\s+/)[0]?.toUpperCase() ?? '';
        socket.write(Buffer.concat([COMPLETE(tag), READY(tag === 'BEGIN' ? 'T' : 'I')]));
      } else if (frame.toString('latin1', 0, 1) === 'X') {
        socket.end();
      }
    }
  });
}

describe('a checkout whose connection is ended as it opens', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    let connections = 0;
    server = createServer((socket) => {
      socket.on('error', () => undefined);
      connections += 1;
      if (connections === 1) return serveWell(socket);
      // Startup answered and the connection ended in one write, as a server shutting down may do.
      socket.once('data', () => socket.end(Buffer.concat([AUTH_OK, READY('I'), TERMINATING])));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `postgres://test@127.0.0.1:${(server.address() as AddressInfo).port}/test`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('fails that transaction with a retryable SERVICE_UNAVAILABLE, and the process and the other transaction live on', async () => {
    const db = await connectPostgres(url, 2);
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The first transaction holds the one healthy connection, so the second opens a new one.
    const first = db.transaction(async () => {
      await released;
      return 'first';
    });
    const second = await db.transaction(async () => 'second').then(() => 'committed', (err: unknown) => errorCode(err));
    // A plain query on such a connection: the same typed answer (pg-pool listens before it hands the client over).
    const query = await db.query('SELECT 1').then(() => 'answered', (err: unknown) => errorCode(err));
    release();
    expect(second).toBe('SERVICE_UNAVAILABLE');
    expect(query).toBe('SERVICE_UNAVAILABLE');
    expect(await first).toBe('first');
    await db.close();
  });
});
