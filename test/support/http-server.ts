import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface TestHttpServer {
  port: number;
  /** `http://127.0.0.1:PORT` without a trailing slash. */
  url: string;
  /** Closes the listener and every open connection, idle or busy. */
  stop(): Promise<void>;
}

/**
 * Request handler of a test server, called once the whole body is read. A handler that responds
 * late should clear its timer on the response's `close` event, which fires when the client aborts.
 */
export type TestHandler = (
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
) => void;

/** Starts a node:http server on a free port of 127.0.0.1 that reads each body, then calls `handler`. */
export function startHttpServer(handler: TestHandler): Promise<TestHttpServer> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => handler(request, Buffer.concat(chunks), response));
  });
  server.keepAliveTimeout = 60_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        stop: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
