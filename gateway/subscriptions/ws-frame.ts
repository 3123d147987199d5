import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * One WebSocket text frame as the server sends it (RFC 6455 §5.2: FIN, opcode 1, unmasked), holding
 * `prefix + body + suffix` in one buffer: the fan-out encodes an event's JSON once (`body`, shared by every member of
 * its group) and each subscription adds only its own `{"id":…,"type":"next","payload":` and `}` around it.
 */
export function textFrame(prefix: Buffer, body: Buffer, suffix: Buffer): Buffer {
  const length = prefix.length + body.length + suffix.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  let at = header;
  at += prefix.copy(frame, at);
  at += body.copy(frame, at);
  suffix.copy(frame, at);
  return frame;
}

/** What ws (8.x) keeps on a connection, as far as the direct path relies on it. */
interface WsInternals {
  _socket?: Socket;
  _sender?: { _queue?: unknown[]; _state?: number };
}

/**
 * Writes a finished frame straight to the connection's TCP socket, skipping ws's Sender (its per-message header
 * buffer, options object, byte-length scan and corked two-part write): one buffer, one write per delivery. Only
 * where ws itself would write through at once: no extension negotiated (permessage-deflate is off on the gateway's
 * server, so frames are never compressed or queued) and the Sender idle (`_state` 0, nothing queued), so frames keep
 * their order with ws's own pings and close frames. Null when that cannot be established (another ws version, a
 * negotiated extension): the caller then sends through ws. Relies on ws 8 internals (`_socket`, `_sender`), checked
 * at run time on every write.
 */
export function directWriter(ws: WebSocket): ((frame: Buffer, written: () => void) => boolean) | null {
  const internals = ws as unknown as WsInternals;
  const socket = internals._socket;
  const sender = internals._sender;
  if (ws.extensions !== '' || !socket || typeof socket.write !== 'function' || !sender || !Array.isArray(sender._queue) || typeof sender._state !== 'number') return null;
  const queue = sender._queue;
  return (frame, written) => {
    if (sender._state !== 0 || queue.length > 0) return false;
    socket.write(frame, written);
    return true;
  };
}
