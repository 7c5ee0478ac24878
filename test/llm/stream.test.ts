import { describe, expect, it } from 'vitest';

import { StreamConsumer, type StreamResult } from '../../src/llm/stream.ts';
import { allSplits, utf8, type Split } from './chunking.ts';

/** Returns a clock that advances 1000 µs on each reading, so every reading shows in the result. */
function steppingClock(): { clockUs: () => number; readCount: () => number } {
  let reads = 0;
  return { clockUs: () => ++reads * 1000, readCount: () => reads };
}

function consume(body: string, split: Split): StreamResult {
  const consumer = new StreamConsumer({ clockUs: steppingClock().clockUs });
  for (const read of split.cut(utf8(body))) consumer.push(read);
  return consumer.end();
}

/** Builds an SSE body from chunk objects (serialized as JSON) and raw data strings. */
function sse(...events: (object | string)[]): string {
  return events
    .map((event) => `data: ${typeof event === 'string' ? event : JSON.stringify(event)}\n\n`)
    .join('');
}

function chatChunk(delta: object, finishReason: string | null = null): object {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
}

function completionChunk(text: string, finishReason: string | null = null): object {
  return {
    id: 'cmpl-1',
    object: 'text_completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
  };
}

function usageChunk(promptTokens: number, completionTokens: number): object {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

const chatStream = sse(
  chatChunk({ role: 'assistant', content: '' }),
  chatChunk({ content: 'Hello' }),
  chatChunk({ content: '' }),
  chatChunk({ content: ' wörld 🎉' }, 'stop'),
  usageChunk(5, 3),
  '[DONE]',
);

describe('StreamConsumer', () => {
  for (const split of allSplits) {
    describe(split.name, () => {
      it('chat stream with usage', () => {
        const result = consume(chatStream, split);
        expect(result.ok).toBe(true);
        expect(result.failure).toBeUndefined();
        expect(result.streamed).toBe(true);
        expect(result.doneReceived).toBe(true);
        expect(result.text).toBe('Hello wörld 🎉');
        // The role-only chunk and the empty-content chunk carry no text.
        expect(result.textChunkTimesUs).toHaveLength(2);
        expect(result.usage).toEqual({ promptTokens: 5, completionTokens: 3, totalTokens: 8 });
        expect(result.finishReason).toBe('stop');
        expect(result.eventCount).toBe(6);
      });

      it('completions stream', () => {
        const body = sse(
          completionChunk('Once'),
          completionChunk(''),
          completionChunk(' upon', 'length'),
          '[DONE]',
        );
        const result = consume(body, split);
        expect(result.ok).toBe(true);
        expect(result.text).toBe('Once upon');
        expect(result.textChunkTimesUs).toHaveLength(2);
        expect(result.finishReason).toBe('length');
        expect(result.usage).toBeUndefined();
      });

      it('reasoning content counts', () => {
        const body = sse(
          chatChunk({ role: 'assistant' }),
          chatChunk({ reasoning_content: 'think' }),
          chatChunk({ content: 'answer' }, 'stop'),
          '[DONE]',
        );
        const result = consume(body, split);
        expect(result.ok).toBe(true);
        expect(result.text).toBe('thinkanswer');
        expect(result.textChunkTimesUs).toHaveLength(2);
      });

      it('reasoning field counts', () => {
        const body = sse(
          chatChunk({ reasoning: 'think' }),
          chatChunk({ content: 'answer' }),
          '[DONE]',
        );
        const result = consume(body, split);
        expect(result.ok).toBe(true);
        expect(result.text).toBe('thinkanswer');
      });

      it('both reasoning fields count once', () => {
        // vLLM sent both names for a while; the text must not be doubled.
        const body = sse(chatChunk({ reasoning_content: 'think', reasoning: 'think' }), '[DONE]');
        const result = consume(body, split);
        expect(result.text).toBe('think');
        expect(result.textChunkTimesUs).toHaveLength(1);
      });

      it('stream that just ends', () => {
        const result = consume(
          sse(chatChunk({ content: 'a' }), chatChunk({ content: 'b' }, 'stop')),
          split,
        );
        expect(result.ok).toBe(true);
        expect(result.doneReceived).toBe(false);
        expect(result.text).toBe('ab');
      });

      it('final event without blank line', () => {
        const result = consume(`${sse(chatChunk({ content: 'a' }))}data: [DONE]\n`, split);
        expect(result.ok).toBe(true);
        expect(result.doneReceived).toBe(true);
      });

      it('CRLF stream with comments', () => {
        const body = `: keep-alive\r\n\r\n${sse(chatChunk({ content: 'a' }), '[DONE]').replaceAll('\n', '\r\n')}`;
        const result = consume(body, split);
        expect(result.ok).toBe(true);
        expect(result.text).toBe('a');
      });

      it('error object mid-stream', () => {
        const body = sse(
          chatChunk({ content: 'a' }),
          { error: { message: 'out of memory', type: 'InternalServerError', code: 500 } },
          chatChunk({ content: 'b' }),
          '[DONE]',
        );
        const result = consume(body, split);
        expect(result.ok).toBe(false);
        expect(result.failure?.kind).toBe('stream-error');
        expect(result.failure?.message).toBe('out of memory (code 500)');
        // Text before the error is kept; events after it are ignored.
        expect(result.text).toBe('a');
        expect(result.doneReceived).toBe(false);
      });

      it('error event mid-stream', () => {
        const body = `${sse(chatChunk({ content: 'a' }))}event: error\ndata: upstream timed out\n\n`;
        const result = consume(body, split);
        expect(result.ok).toBe(false);
        expect(result.failure).toEqual({ kind: 'stream-error', message: 'upstream timed out' });
      });

      it('top-level error object', () => {
        const body = sse({
          object: 'error',
          message: 'bad request',
          type: 'BadRequestError',
          code: 400,
        });
        const result = consume(body, split);
        expect(result.failure).toEqual({ kind: 'stream-error', message: 'bad request (code 400)' });
      });

      it('string error field', () => {
        const result = consume(
          sse({ error: 'Request failed during generation', error_type: 'generation' }),
          split,
        );
        expect(result.failure).toEqual({
          kind: 'stream-error',
          message: 'Request failed during generation',
        });
      });

      it('stream without text', () => {
        const body = sse(
          chatChunk({ role: 'assistant', content: '' }),
          chatChunk({}, 'stop'),
          usageChunk(5, 0),
          '[DONE]',
        );
        const result = consume(body, split);
        expect(result.ok).toBe(false);
        expect(result.failure).toEqual({
          kind: 'empty-response',
          message: 'response has no generated text (finish_reason stop)',
        });
        expect(result.firstTextUs).toBeUndefined();
        expect(result.usage?.completionTokens).toBe(0);
      });

      it('invalid JSON in event', () => {
        const result = consume(sse(chatChunk({ content: 'a' }), '{"choices": [', '[DONE]'), split);
        expect(result.ok).toBe(false);
        expect(result.failure?.kind).toBe('invalid-json');
        expect(result.failure?.message).toContain('{"choices": [');
      });

      it('chunk without choices or usage', () => {
        const result = consume(sse({ id: 'x' }), split);
        expect(result.failure?.kind).toBe('malformed-stream');
      });

      it('choices not an array', () => {
        const result = consume(sse({ choices: { text: 'a' } }), split);
        expect(result.failure?.kind).toBe('malformed-stream');
      });

      it('data that is not an object', () => {
        const result = consume(sse('42'), split);
        expect(result.failure?.kind).toBe('malformed-stream');
      });

      it('HTML body', () => {
        const result = consume('<html><body>502 Bad Gateway</body></html>\n', split);
        expect(result.failure?.kind).toBe('malformed-stream');
      });

      it('whole JSON chat answer', () => {
        const body = JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Hi there' },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
        });
        const result = consume(`\n ${body}\n`, split);
        expect(result.ok).toBe(true);
        expect(result.streamed).toBe(false);
        expect(result.text).toBe('Hi there');
        expect(result.usage).toEqual({ promptTokens: 4, completionTokens: 2, totalTokens: 6 });
        expect(result.finishReason).toBe('stop');
        expect(result.textChunkTimesUs).toHaveLength(1);
      });

      it('whole JSON completions answer', () => {
        const body = JSON.stringify({
          object: 'text_completion',
          choices: [{ index: 0, text: ' and then', finish_reason: 'length' }],
          usage: { prompt_tokens: 3, completion_tokens: 2 },
        });
        const result = consume(body, split);
        expect(result.ok).toBe(true);
        expect(result.streamed).toBe(false);
        expect(result.text).toBe(' and then');
        expect(result.usage).toEqual({ promptTokens: 3, completionTokens: 2, totalTokens: 5 });
      });

      it('whole JSON error answer', () => {
        const body = JSON.stringify({ error: { message: 'model not found', code: 404 } });
        const result = consume(body, split);
        expect(result.failure).toEqual({
          kind: 'error-response',
          message: 'model not found (code 404)',
        });
        expect(result.streamed).toBe(false);
      });

      it('whole JSON without text', () => {
        const body = JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: null } }],
        });
        expect(consume(body, split).failure?.kind).toBe('empty-response');
      });

      it('truncated whole JSON', () => {
        const result = consume('{"choices": [{"text": "a"', split);
        expect(result.failure?.kind).toBe('invalid-json');
      });
    });
  }

  it('records arrival times per text chunk', () => {
    const consumer = new StreamConsumer({ clockUs: () => Number.NaN });
    const events = sse(
      chatChunk({ role: 'assistant' }),
      chatChunk({ content: 'a' }),
      chatChunk({ content: 'b' }),
      chatChunk({ content: 'c' }),
    ).split(/(?<=\n\n)/);
    const arrivalsUs = [100, 5_000, 15_000, 25_500];
    events.forEach((event, index) => consumer.push(utf8(event), arrivalsUs[index]));
    consumer.push(utf8('data: [DONE]\n\n'), 30_000);
    const result = consumer.end();
    expect(result.firstTextUs).toBe(5_000);
    expect(Array.from(result.textChunkTimesUs)).toEqual([5_000, 15_000, 25_500]);
  });

  it('reads clock only for text reads', () => {
    const clock = steppingClock();
    const consumer = new StreamConsumer({ clockUs: clock.clockUs });
    consumer.push(utf8(sse(chatChunk({ role: 'assistant' }))));
    expect(clock.readCount()).toBe(0);
    // Two text events in one read share one clock reading.
    consumer.push(utf8(sse(chatChunk({ content: 'a' }), chatChunk({ content: 'b' }))));
    consumer.push(utf8(sse(chatChunk({ content: 'c' }))));
    const result = consumer.end();
    expect(clock.readCount()).toBe(2);
    expect(Array.from(result.textChunkTimesUs)).toEqual([1000, 1000, 2000]);
  });

  it('stamps a text event at its completing read', () => {
    const clock = steppingClock();
    const consumer = new StreamConsumer({ clockUs: clock.clockUs });
    const body = utf8(sse(chatChunk({ content: 'a' })));
    consumer.push(body.subarray(0, 10), 1);
    consumer.push(body.subarray(10), 2);
    expect(Array.from(consumer.end().textChunkTimesUs)).toEqual([2]);
  });

  it('grows times past initial capacity', () => {
    const consumer = new StreamConsumer({ clockUs: () => 0 });
    const chunkCount = 1000;
    for (let index = 0; index < chunkCount; index++) {
      consumer.push(utf8(sse(completionChunk(' hello'))), index * 10);
    }
    const result = consumer.end();
    expect(result.textChunkTimesUs).toHaveLength(chunkCount);
    expect(result.textChunkTimesUs[999]).toBe(9990);
    expect(result.text).toBe(' hello'.repeat(chunkCount));
  });

  it('ignores reads after DONE', () => {
    const consumer = new StreamConsumer({ clockUs: () => 0 });
    consumer.push(utf8(sse(chatChunk({ content: 'a' }), '[DONE]')));
    expect(consumer.finished).toBe(true);
    consumer.push(utf8(sse(chatChunk({ content: 'late' }))));
    expect(consumer.end().text).toBe('a');
  });

  it('reports finished after failure', () => {
    const consumer = new StreamConsumer({ clockUs: () => 0 });
    consumer.push(utf8('event: error\ndata: x\n\n'));
    expect(consumer.finished).toBe(true);
  });

  it('counts tool call arguments', () => {
    const body = sse(
      chatChunk({
        role: 'assistant',
        tool_calls: [
          { index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '' } },
        ],
      }),
      chatChunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, 'tool_calls'),
    );
    const result = consume(body, allSplits[0]!);
    expect(result.ok).toBe(true);
    expect(result.text).toBe('{"city":"Paris"}');
    expect(result.textChunkTimesUs).toHaveLength(2);
  });

  it('keeps last usage of several', () => {
    const result = consume(
      sse(chatChunk({ content: 'a' }), usageChunk(5, 1), usageChunk(5, 2)),
      allSplits[0]!,
    );
    expect(result.usage?.completionTokens).toBe(2);
  });

  it('ignores malformed usage', () => {
    const chunk = {
      ...(chatChunk({ content: 'a' }) as Record<string, unknown>),
      usage: { prompt_tokens: -1 },
    };
    const result = consume(sse(chunk), allSplits[0]!);
    expect(result.ok).toBe(true);
    expect(result.usage).toBeUndefined();
  });

  it('empty body', () => {
    const consumer = new StreamConsumer({ clockUs: () => 0 });
    consumer.push(utf8('\n \r\n'));
    expect(consumer.end().failure).toEqual({
      kind: 'empty-response',
      message: 'response body is empty',
    });
    expect(new StreamConsumer({ clockUs: () => 0 }).end().failure?.kind).toBe('empty-response');
  });

  it('oversized SSE line', () => {
    const consumer = new StreamConsumer({ clockUs: () => 0, maxBufferedChars: 64 });
    consumer.push(utf8(`data: ${'x'.repeat(100)}`));
    expect(consumer.end().failure?.kind).toBe('oversized-response');
  });

  it('oversized JSON body', () => {
    const consumer = new StreamConsumer({ clockUs: () => 0, maxBufferedChars: 64 });
    consumer.push(utf8(JSON.stringify({ choices: [{ text: 'x'.repeat(100) }] })));
    expect(consumer.end().failure?.kind).toBe('oversized-response');
  });

  it('returns same result twice', () => {
    const consumer = new StreamConsumer({ clockUs: () => 0 });
    consumer.push(utf8(sse(chatChunk({ content: 'a' }))));
    expect(consumer.end()).toBe(consumer.end());
  });
});
