import { Pool, type Dispatcher } from 'undici';
import type { RequestEntry } from '../../protocol/index.ts';
import {
  DrainAbortError,
  RequestTimeoutError,
  classifyError,
  isSuccessStatus,
  type RequestOutcome,
} from '../outcome.ts';
import { ByteCounter, countingConnector, type TlsOptions } from './connector.ts';

export interface HttpDriverOptions {
  url: string;
  method?: string;
  headers: Record<string, string>;
  entries: RequestEntry[];
  timeoutMs: number;
  /** Pool size, or null for no limit; requests beyond it wait in undici's queue, inside their measured time. */
  connections: number | null;
  tls: TlsOptions;
  /** Reads response bodies, e.g. an LLM stream; without it bodies are counted and dropped. */
  createReader?: (entryIndex: number) => ResponseReader;
}

/**
 * Reads one response body as it arrives. `end` runs for a response with a success status and
 * returns what the body adds to the outcome. A body failure comes back as an error kind.
 */
export interface ResponseReader {
  onData(chunk: Buffer): void;
  end(): Pick<RequestOutcome, 'error' | 'detail' | 'llm'>;
}

export type OutcomeCallback = (outcome: RequestOutcome) => void;

/** Sends the task's requests over one keep-alive pool and reports each outcome as data. */
export class HttpDriver {
  readonly bytes = new ByteCounter();
  #pool: Pool;
  #origin: string;
  #tls: TlsOptions;
  #requests: Dispatcher.DispatchOptions[];
  #timeoutMs: number;
  #createReader: ((entryIndex: number) => ResponseReader) | undefined;
  /** In send order; since every request has the same timeout, also in deadline order. */
  #inFlight = new Set<HttpExchange>();
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: HttpDriverOptions) {
    const url = new URL(options.url);
    this.#origin = url.origin;
    this.#tls = options.tls;
    this.#pool = this.#newPool(options.connections);
    this.#timeoutMs = options.timeoutMs;
    this.#createReader = options.createReader;
    this.#requests = buildRequests(url, options);
  }

  /**
   * Sizes the pool for a new concurrency: later requests go to a new pool, and the old one
   * closes once its requests end. undici pools cannot change size in place.
   */
  resize(connections: number | null): void {
    const old = this.#pool;
    this.#pool = this.#newPool(connections);
    void old.close();
  }

  #newPool(connections: number | null): Pool {
    return new Pool(this.#origin, {
      connections,
      pipelining: 1,
      // The driver enforces one timeout over the whole exchange, so undici's own are off.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: countingConnector(this.bytes, this.#tls),
    });
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Sends the request of data entry `sequence` (cycling over the entries) and calls back once. */
  send(sequence: number, intendedMs: number, onOutcome: OutcomeCallback): void {
    const entryIndex = sequence % this.#requests.length;
    const request = this.#requests[entryIndex]!;
    const exchange = new HttpExchange(
      intendedMs,
      performance.now() + this.#timeoutMs,
      this.#createReader?.(entryIndex),
      (outcome) => {
        this.#inFlight.delete(exchange);
        onOutcome(outcome);
      },
    );
    this.#inFlight.add(exchange);
    this.#sweepTimer ??= setInterval(() => this.#sweepTimeouts(), sweepIntervalMs(this.#timeoutMs));
    this.#pool.dispatch(request, exchange);
  }

  /**
   * Aborts requests past their deadline. One timer for all requests costs far less than one per
   * request; a timeout fires at most one sweep interval late.
   */
  #sweepTimeouts(): void {
    const nowMs = performance.now();
    for (const exchange of this.#inFlight) {
      if (exchange.deadlineMs > nowMs) break;
      exchange.abort(new RequestTimeoutError(`request timed out after ${this.#timeoutMs} ms`));
    }
    if (this.#inFlight.size === 0) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
    }
  }

  /** Aborts every request still in flight; each reports the `incomplete` outcome. */
  abortInFlight(): void {
    for (const exchange of [...this.#inFlight])
      exchange.abort(new DrainAbortError('request cut off by the drain at the end of the task'));
  }

  /** Closes the pool after in-flight requests end. */
  close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    return this.#pool.close();
  }

  /** Closes the pool at once, failing anything still in flight. */
  destroy(): Promise<void> {
    clearInterval(this.#sweepTimer);
    return this.#pool.destroy();
  }
}

/** One request's life on the pool: times, status, and the single callback. */
class HttpExchange implements Dispatcher.DispatchHandler {
  #intendedMs: number;
  #sentMs = performance.now();
  #status: number | undefined;
  #abortRequest: ((reason?: Error) => void) | undefined;
  #abortReason: Error | undefined;
  #onOutcome: OutcomeCallback | undefined;
  #reader: ResponseReader | undefined;
  readonly deadlineMs: number;

  constructor(
    intendedMs: number,
    deadlineMs: number,
    reader: ResponseReader | undefined,
    onOutcome: OutcomeCallback,
  ) {
    this.#intendedMs = intendedMs;
    this.deadlineMs = deadlineMs;
    this.#reader = reader;
    this.#onOutcome = onOutcome;
  }

  abort(reason: Error): void {
    if (this.#abortReason) return;
    this.#abortReason = reason;
    this.#abortRequest?.(reason);
  }

  // NOTE: these are undici's older handler methods, which its types mark deprecated. The newer
  // ones (onRequestStart, onResponseStart, ...) go through a wrapper that parses every response's
  // headers into an object; the driver reads only the status, and the older methods measured
  // about 10% more requests per CPU-second on undici 7.30.

  /** undici calls this as it writes the request to a socket: the actual send time. */
  onConnect(abort: (reason?: Error) => void): void {
    this.#sentMs = performance.now();
    this.#abortRequest = abort;
    if (this.#abortReason) abort(this.#abortReason);
  }

  onHeaders(statusCode: number): boolean {
    // 1xx responses come before the final status and carry no body.
    if (statusCode >= 200) this.#status = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#reader?.onData(chunk);
    return true;
  }

  onComplete(): void {
    const status = this.#status ?? 0;
    if (!isSuccessStatus(status)) this.#finish({ status, error: 'status' });
    else this.#finish({ status, ...this.#reader?.end() });
  }

  onError(error: Error): void {
    const kind = classifyError(error);
    // A status already received stays on the outcome, so a reset mid-body still shows its code.
    this.#finish({ status: this.#status, error: kind, detail: error.message });
  }

  #finish(result: Pick<RequestOutcome, 'status' | 'error' | 'detail' | 'llm'>): void {
    const onOutcome = this.#onOutcome;
    if (!onOutcome) return;
    this.#onOutcome = undefined;
    // undici's request keeps the response's header buffers; dropping what refers to it lets
    // them die young instead of being promoted, which costs about 15% of the agent's CPU in GC.
    this.#abortRequest = undefined;
    this.#reader = undefined;
    onOutcome({
      intendedMs: this.#intendedMs,
      sentMs: this.#sentMs,
      endMs: performance.now(),
      ...result,
    });
  }
}

function buildRequests(url: URL, options: HttpDriverOptions): Dispatcher.DispatchOptions[] {
  const path = `${url.pathname}${url.search}`;
  const entries = options.entries.length > 0 ? options.entries : [{}];

  return entries.map((entry) => {
    const headers: Record<string, string> = {};
    if (entry.body && entry.contentType) headers['content-type'] = entry.contentType;
    Object.assign(headers, lowerKeys(options.headers));

    const method = options.method ?? (entry.body ? 'POST' : 'GET');
    const body = entry.body
      ? Buffer.from(entry.body.buffer, entry.body.byteOffset, entry.body.byteLength)
      : undefined;
    return { path, method, headers, body };
  });
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function sweepIntervalMs(timeoutMs: number): number {
  return Math.min(50, Math.max(1, Math.floor(timeoutMs / 20)));
}
