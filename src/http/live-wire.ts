import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Wire } from '../live/live-outbox';

/**
 * Past this many bytes waiting in a socket's buffers the outbox stops writing until they drain. It
 * must stay above the stream's own high-water mark (16 KiB), so that a full wire always has a
 * `drain` coming.
 */
export const WIRE_HIGH_WATER_BYTES = 256 * 1024;

const TEXT = { binary: false } as const;
const CLOSE_BRACE = 0x7d;

/**
 * A `ws` socket as the live outbox's wire. `ws` sends each message with its own cork/uncork of the
 * TCP socket, so each message would be its own system call; corking the TCP socket around a batch
 * makes the whole batch one. `ws` has no public method for it; its maintainers point to the
 * `_socket` property for exactly this (websockets/ws#1999).
 */
export function wsWire(socket: WebSocket): Wire {
  const tcp = (socket as unknown as { _socket: Duplex | null })._socket;
  return {
    get open() {
      return socket.readyState === socket.OPEN;
    },
    get full() {
      return socket.bufferedAmount > WIRE_HIGH_WATER_BYTES;
    },
    cork: () => tcp?.cork(),
    uncork: () => tcp?.uncork(),
    onDrain: (fn) => (tcp ? tcp.once('drain', fn) : setImmediate(fn)),
  };
}

/**
 * Writes a rendered payload as graphql-ws's `next` message of subscription `id`: the bytes
 * `{"id":<id>,"type":"next","payload":<payload>}`, exactly what graphql-ws's own `stringifyMessage`
 * gives for that message, with the payload encoded once for every subscription that shares it.
 */
export function nextMessageWriter(socket: WebSocket, id: string): (payload: Buffer) => void {
  const prefix = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);
  return (payload) => {
    const message = Buffer.allocUnsafe(prefix.length + payload.length + 1);
    prefix.copy(message, 0);
    payload.copy(message, prefix.length);
    message[message.length - 1] = CLOSE_BRACE;
    socket.send(message, TEXT);
  };
}
