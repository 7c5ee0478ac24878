/**
 * A mock OpenAI-compatible inference server for demos and tests, not a model: it streams a
 * fixed word (GENERATED_TOKEN_TEXT) per token at configured, seeded timings, and injects
 * HTTP 500s and mid-stream errors at configured rates.
 *
 * Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createRandom, deriveSeed } from '../llm/random.ts';
import {
  SendDelayStats,
  answerWhole,
  streamCompletion,
  type ActiveResponse,
  type GenerationContext,
} from './generation.ts';
import {
  resolveMockLlmOptions,
  type MockLlmOptions,
  type ResolvedMockLlmOptions,
} from './options.ts';
import { parseGenerationRequest, type Endpoint, type RequestRejection } from './request.ts';
import { errorBody, modelsBody, type ResponseIdentity } from './responses.ts';
import type { StreamTiming } from './schedule.ts';

export interface MockLlmStats {
  /** HTTP requests received, on any route. */
  requests: number;
  /** Generation requests accepted (after validation), streamed or not. */
  generations: number;
  /** Generation requests that got an injected HTTP 500 response. */
  injectedErrors: number;
  /** Streams that received an injected mid-stream error object. */
  injectedMidStreamErrors: number;
  /** Requests rejected with a 4xx status. */
  rejected: number;
  /** Responses still being generated. */
  activeResponses: number;
  /** Streamed text chunks sent. */
  chunksSent: number;
  /** Mean time by which a chunk was sent after it was due, in ms: the event loop's lag. */
  meanSendDelayMs: number;
  /** Largest time by which a chunk was sent after it was due, in ms. */
  maxSendDelayMs: number;
}

export interface MockLlm {
  /** Base URL such as http://127.0.0.1:41234; the API is under /v1. */
  url: string;
  port: number;
  stats(): MockLlmStats;
  /** Stops accepting connections, lets in-flight responses finish, then closes. */
  close(): Promise<void>;
  /** Aborts in-flight responses and closes at once. */
  destroy(): Promise<void>;
}

/** Starts the server; throws MockLlmOptionsError listing every invalid option. */
export async function startMockLlm(options: MockLlmOptions = {}): Promise<MockLlm> {
  const server = new MockLlmServer(resolveMockLlmOptions(options));
  return server.listen();
}

class MockLlmServer {
  readonly #options: ResolvedMockLlmOptions;
  readonly #timing: StreamTiming;
  readonly #server: Server;
  readonly #active = new Set<ActiveResponse>();
  readonly #createdS = Math.floor(Date.now() / 1000);
  #generationIndex = 0;
  #closing = false;
  #drained: (() => void) | undefined;
  readonly #stats = {
    requests: 0,
    generations: 0,
    injectedErrors: 0,
    injectedMidStreamErrors: 0,
    rejected: 0,
  };
  readonly #sendDelays = new SendDelayStats();

  constructor(options: ResolvedMockLlmOptions) {
    this.#options = options;
    this.#timing = {
      ttftMs: options.ttftMs,
      interTokenLatencyMs: options.interTokenLatencyMs,
      jitterMs: options.jitterMs,
      tokensPerChunk: options.tokensPerChunk,
    };
    this.#server = createServer({ noDelay: true }, (request, response) =>
      this.#handle(request, response),
    );
  }

  async listen(): Promise<MockLlm> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });

    const address = this.#server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return {
      url: `http://${host}:${address.port}`,
      port: address.port,
      stats: () => this.#snapshotStats(),
      close: () => this.#close(),
      destroy: () => this.#destroy(),
    };
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const arrivalMs = performance.now();
    this.#stats.requests++;
    // While closing, each response ends its keep-alive connection, so the server can close.
    if (this.#closing) response.setHeader('connection', 'close');
    request.on('error', () => response.destroy());

    const path = (request.url ?? '/').split('?', 1)[0];
    const endpoint: Endpoint | undefined =
      path === '/v1/chat/completions'
        ? 'chat'
        : path === '/v1/completions'
          ? 'completions'
          : undefined;

    if (endpoint !== undefined) {
      if (request.method !== 'POST') {
        this.#sendMethodNotAllowed(request, response, 'POST');
        return;
      }
      this.#readBody(request).then(
        (body) => this.#generate(endpoint, body, response, arrivalMs),
        () => response.destroy(),
      );
      return;
    }

    if (path === '/v1/models' || path === '/health') {
      if (request.method !== 'GET') {
        this.#sendMethodNotAllowed(request, response, 'GET');
        return;
      }
      const body =
        path === '/health'
          ? ''
          : modelsBody(this.#options.model, this.#createdS, this.#options.maxModelLen);
      this.#sendJson(response, 200, body);
      return;
    }

    this.#sendRejection(response, {
      status: 404,
      type: 'NotFoundError',
      message: `no route for ${path}: the mock serves /v1/chat/completions, /v1/completions, /v1/models and /health`,
      param: null,
    });
  }

  /** Reads the body, or returns undefined when it exceeds maxBodyBytes. */
  #readBody(request: IncomingMessage): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let totalBytes = 0;
      request.on('data', (chunk: Buffer) => {
        totalBytes += chunk.length;
        if (totalBytes > this.#options.maxBodyBytes) {
          request.removeAllListeners('data');
          request.resume();
          resolve(undefined);
          return;
        }
        chunks.push(chunk);
      });
      request.on('end', () => resolve(Buffer.concat(chunks)));
      request.on('error', reject);
    });
  }

  #generate(
    endpoint: Endpoint,
    body: Buffer | undefined,
    response: ServerResponse,
    arrivalMs: number,
  ): void {
    if (body === undefined) {
      const message = `request body is larger than ${this.#options.maxBodyBytes} bytes`;
      this.#sendRejection(response, { status: 413, type: 'BadRequestError', message, param: null });
      return;
    }

    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      this.#sendRejection(response, {
        status: 400,
        type: 'BadRequestError',
        message: 'request body is not valid JSON',
        param: null,
      });
      return;
    }

    const parsed = parseGenerationRequest(endpoint, json, this.#options);
    if (!parsed.ok) {
      this.#sendRejection(response, parsed.rejection);
      return;
    }
    const generation = parsed.request;
    if (this.#options.rejectStreamOptions && generation.hasStreamOptions) {
      const message = 'stream_options is not supported by this server';
      this.#sendRejection(response, {
        status: 400,
        type: 'BadRequestError',
        message,
        param: 'stream_options',
      });
      return;
    }

    // Each request gets its own generator, so its faults and jitter depend only on the seed
    // and its position in arrival order, not on how other requests interleave.
    const generationIndex = this.#generationIndex++;
    this.#stats.generations++;
    const random = createRandom(deriveSeed(this.#options.seed, generationIndex));
    const errorDraw = random();
    const midStreamErrorDraw = random();

    if (errorDraw < this.#options.errorRate) {
      this.#stats.injectedErrors++;
      const message = 'mock LLM: injected internal server error';
      this.#sendJson(response, 500, errorBody(500, 'InternalServerError', message));
      return;
    }

    const identity: ResponseIdentity = {
      id: `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-mock-${generationIndex}`,
      created: Math.floor(Date.now() / 1000),
      model: this.#options.model,
    };
    const context: GenerationContext = {
      timing: this.#timing,
      usage: this.#options.usage,
      identity,
      arrivalMs,
      random,
    };
    const active: ActiveResponse = { response, timer: undefined };
    this.#track(active);

    if (generation.stream) {
      const midStreamError = midStreamErrorDraw < this.#options.midStreamErrorRate;
      if (midStreamError) this.#stats.injectedMidStreamErrors++;
      streamCompletion(active, generation, context, midStreamError, this.#sendDelays);
    } else {
      answerWhole(active, generation, context, (target, status, body) =>
        this.#sendJson(target, status, body),
      );
    }
  }

  #snapshotStats(): MockLlmStats {
    return {
      ...this.#stats,
      activeResponses: this.#active.size,
      chunksSent: this.#sendDelays.chunkCount,
      meanSendDelayMs: this.#sendDelays.meanMs,
      maxSendDelayMs: this.#sendDelays.maxMs,
    };
  }

  #track(active: ActiveResponse): void {
    this.#active.add(active);
    active.response.once('close', () => {
      if (active.timer !== undefined) clearTimeout(active.timer);
      active.timer = undefined;
      this.#active.delete(active);
      if (this.#closing) this.#server.closeIdleConnections();
      if (this.#active.size === 0) this.#drained?.();
    });
  }

  #sendJson(response: ServerResponse, status: number, body: string): void {
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  }

  #sendRejection(response: ServerResponse, rejection: RequestRejection): void {
    this.#stats.rejected++;
    this.#sendJson(
      response,
      rejection.status,
      errorBody(rejection.status, rejection.type, rejection.message, rejection.param),
    );
  }

  #sendMethodNotAllowed(request: IncomingMessage, response: ServerResponse, allowed: string): void {
    response.setHeader('allow', allowed);
    this.#sendRejection(response, {
      status: 405,
      type: 'MethodNotAllowed',
      message: `method ${request.method} is not allowed on ${request.url}; use ${allowed}`,
      param: null,
    });
  }

  async #close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#active.size > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    this.#server.closeIdleConnections();
    await closed;
  }

  async #destroy(): Promise<void> {
    this.#closing = true;
    for (const active of this.#active) {
      if (active.timer !== undefined) clearTimeout(active.timer);
      active.response.destroy();
    }
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }
}
