import type { WebSocket } from 'ws';
import { AppError } from '../domain/app-error';
import { authenticateBearer } from '../graphql/context';
import type { Services } from '../graphql/services';

/** The reason of a 4403 close. */
export const REVOKED = 'Forbidden: the API key is unknown or revoked';
const FORBIDDEN = 4403;

/**
 * The API key of every authenticated socket, checked again every `recheckMs` (one query per
 * distinct key): revocation reaches sockets that are already open, which are closed 4403.
 */
export class SocketKeys {
  private readonly keys = new Map<WebSocket, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly services: Services,
    recheckMs: number,
  ) {
    this.timer = setInterval(() => void this.recheck(), recheckMs);
    this.timer.unref();
  }

  remember(socket: WebSocket, key: string): void {
    this.keys.set(socket, key);
    socket.once('close', () => this.keys.delete(socket));
  }

  keyOf(socket: WebSocket): string | undefined {
    return this.keys.get(socket);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async recheck(): Promise<void> {
    const byKey = new Map<string, WebSocket[]>();
    for (const [socket, key] of this.keys) byKey.set(key, [...(byKey.get(key) ?? []), socket]);
    for (const [key, sockets] of byKey) {
      // A database error is not a revocation: the key is checked again next time.
      const valid = await authenticateBearer(key, this.services).then(() => true, (err) => !(err instanceof AppError));
      if (!valid) for (const socket of sockets) socket.close(FORBIDDEN, REVOKED);
    }
  }
}
