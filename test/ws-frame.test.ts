import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { directWriter, textFrame } from '../gateway/subscriptions/ws-frame';

/**
 * Issue 19 item 1: the fan-out frames each delivery itself and writes it to the TCP socket under ws. A real ws client
 * (its own frame parser, UTF-8 validation included) must read exactly the text we framed, at every header size
 * (7-bit, 16-bit and 64-bit lengths), in order with frames ws itself sends on the same connection.
 */
describe('WebSocket frames written past ws', () => {
  let server: WebSocketServer;
  let url: string;
  beforeAll(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const c of server.clients) c.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a ws client reads each frame as the text prefix + body + suffix, interleaved in order with ws.send', async () => {
    const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const client = new WebSocket(url);
    const received: string[] = [];
    const binaryFlags: boolean[] = [];
    const bodies = ['x', 'é'.repeat(200), `"${'ü'.repeat(40_000)}"`];
    const expected: string[] = [];
    const done = new Promise<void>((resolve) =>
      client.on('message', (data, binary) => {
        binaryFlags.push(binary);
        received.push(data.toString());
        if (received.length === expected.length) resolve();
      }),
    );
    await new Promise<void>((resolve) => client.once('open', () => resolve()));
    const socket = await accepted;
    const write = directWriter(socket);
    expect(write).not.toBeNull();
    let callbacks = 0;
    for (const [i, body] of bodies.entries()) {
      const prefix = `{"id":"${i}","payload":`;
      expect(write?.(textFrame(Buffer.from(prefix), Buffer.from(body), Buffer.from('}')), () => (callbacks += 1))).toBe(true);
      expected.push(`${prefix}${body}}`);
      socket.send(`through ws ${i}`);
      expected.push(`through ws ${i}`);
    }
    await done;
    client.close();
    expect(received).toEqual(expected);
    expect(binaryFlags.every((b) => !b)).toBe(true);
    expect(callbacks).toBe(bodies.length);
    // The three header sizes were all exercised: < 126 bytes, < 64 KiB, and above.
    const sizes = bodies.map((b, i) => Buffer.byteLength(`{"id":"${i}","payload":${b}}`));
    expect(sizes[0]).toBeLessThan(126);
    expect(sizes[1]).toBeGreaterThan(125);
    expect(sizes[1]).toBeLessThan(65536);
    expect(sizes[2]).toBeGreaterThanOrEqual(65536);
  });
});
