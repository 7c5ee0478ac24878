import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

/**
 * Counts the bytes that every socket of a pool reads and writes, so the traffic figures are
 * what crossed the wire: request lines, headers and bodies, TLS records included.
 */
export class ByteCounter {
  #open = new Set<Socket>();
  #closedRead = 0;
  #closedWritten = 0;

  track(socket: Socket): void {
    this.#open.add(socket);
    socket.once('close', () => {
      this.#closedRead += socket.bytesRead;
      this.#closedWritten += socket.bytesWritten;
      this.#open.delete(socket);
    });
  }

  get bytesRead(): number {
    let total = this.#closedRead;
    for (const socket of this.#open) total += socket.bytesRead;
    return total;
  }

  get bytesWritten(): number {
    let total = this.#closedWritten;
    for (const socket of this.#open) total += socket.bytesWritten;
    return total;
  }
}

export interface TlsOptions {
  caPem?: string;
  insecure: boolean;
}

/** Builds an undici connector that applies the TLS options and reports each new socket. */
export function countingConnector(counter: ByteCounter, tls: TlsOptions): buildConnector.connector {
  const connect = buildConnector({
    rejectUnauthorized: !tls.insecure,
    ...(tls.caPem ? { ca: tls.caPem } : {}),
  });

  return (options, callback) =>
    connect(options, (error, socket) => {
      if (socket) counter.track(socket as Socket);
      if (error) callback(error, null);
      else callback(null, socket!);
    });
}
