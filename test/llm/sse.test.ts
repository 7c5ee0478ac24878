import { describe, expect, it } from 'vitest';

import {
  SseLineTooLongError,
  SseParser,
  SseParserEndedError,
  type SseEvent,
  type SseParserOptions,
} from '../../src/llm/sse.ts';
import { allSplits, utf8, type Split } from './chunking.ts';

function parse(
  body: string | Uint8Array,
  split: Split,
  options: Omit<SseParserOptions, 'onEvent'> = {},
): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser({ ...options, onEvent: (event) => events.push(event) });
  const bytes = typeof body === 'string' ? utf8(body) : body;
  for (const read of split.cut(bytes)) parser.push(read);
  parser.end();
  return { events, parser };
}

function message(data: string, lastEventId = ''): SseEvent {
  return { type: 'message', data, lastEventId };
}

interface Case {
  name: string;
  body: string;
  events: SseEvent[];
}

const cases: Case[] = [
  { name: 'one LF event', body: 'data: a\n\n', events: [message('a')] },
  {
    name: 'CRLF endings',
    body: 'data: a\r\n\r\ndata: b\r\n\r\n',
    events: [message('a'), message('b')],
  },
  { name: 'CR endings', body: 'data: a\r\rdata: b\r\r', events: [message('a'), message('b')] },
  // Each ending style may appear on any line of one stream.
  {
    name: 'mixed endings',
    body: 'data: a\r\n\ndata: b\r\rdata: c\n\r\n',
    events: [message('a'), message('b'), message('c')],
  },
  {
    name: 'several events',
    body: 'data: 1\n\ndata: 2\n\ndata: 3\n\n',
    events: [message('1'), message('2'), message('3')],
  },
  { name: 'no space after colon', body: 'data:a\n\n', events: [message('a')] },
  // Only the first space after the colon is removed.
  { name: 'two spaces after colon', body: 'data:  a\n\n', events: [message(' a')] },
  { name: 'multi-line data', body: 'data: a\ndata:b\ndata\n\n', events: [message('a\nb\n')] },
  { name: 'empty data field', body: 'data:\n\n', events: [message('')] },
  { name: 'comment lines', body: ': ping\n\n:\ndata: a\n: inside\n\n', events: [message('a')] },
  {
    name: 'DONE marker',
    body: 'data: {"x":1}\n\ndata: [DONE]\n\n',
    events: [message('{"x":1}'), message('[DONE]')],
  },
  {
    name: 'multi-byte UTF-8',
    body: 'data: héllo 世界 🎉\n\n',
    events: [message('héllo 世界 🎉')],
  },
  {
    name: 'event type and id',
    body: 'event: error\nid: 7\ndata: boom\n\ndata: next\n\n',
    events: [
      { type: 'error', data: 'boom', lastEventId: '7' },
      { type: 'message', data: 'next', lastEventId: '7' },
    ],
  },
  // An event without data is not dispatched, and its type does not leak into the next one.
  { name: 'event without data', body: 'event: ping\n\ndata: a\n\n', events: [message('a')] },
  { name: 'blank lines only', body: '\n\n\r\n\r\r', events: [] },
  { name: 'unknown field', body: 'foo: bar\ndata: a\n\n', events: [message('a')] },
  { name: 'id with NUL ignored', body: 'id: a\u0000b\ndata: x\n\n', events: [message('x')] },
  { name: 'leading byte order mark', body: '\uFEFFdata: a\n\n', events: [message('a')] },
  // Colons after the first belong to the value.
  { name: 'colon in value', body: 'data: {"a":"b:c"}\n\n', events: [message('{"a":"b:c"}')] },
];

describe('SseParser', () => {
  for (const split of allSplits) {
    describe(split.name, () => {
      for (const testCase of cases) {
        it(testCase.name, () => {
          const { events } = parse(testCase.body, split);
          expect(events).toEqual(testCase.events);
        });
      }
    });
  }

  it('cuts at every byte boundary', () => {
    const body = utf8('data: é\r\n\r\n: c\rdata: 世\n\ndata: 🎉\r\r');
    const expected = [message('é'), message('世'), message('🎉')];
    for (let first = 1; first < body.length; first++) {
      for (let second = first; second < body.length; second++) {
        const split: Split = {
          name: 'two cuts',
          cut: (bytes) => [
            bytes.subarray(0, first),
            bytes.subarray(first, second),
            bytes.subarray(second),
          ],
        };
        expect(parse(body, split).events, `cuts at ${first} and ${second}`).toEqual(expected);
      }
    }
  });

  it('keeps CR then LF across reads as one ending', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser({ onEvent: (event) => events.push(event) });
    parser.push(utf8('data: a\r'));
    parser.push(utf8('\n\r'));
    parser.push(utf8('\ndata: b\r'));
    parser.push(new Uint8Array(0));
    parser.push(utf8('\n\r\n'));
    parser.end();
    expect(events).toEqual([message('a'), message('b')]);
  });

  it('dispatches an event as soon as its blank line arrives', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser({ onEvent: (event) => events.push(event) });
    parser.push(utf8('data: a\n'));
    expect(events).toHaveLength(0);
    parser.push(utf8('\n'));
    expect(events).toEqual([message('a')]);
  });

  it('replaces an invalid UTF-8 byte', () => {
    const body = new Uint8Array([...utf8('data: a'), 0xff, ...utf8('b\n\n')]);
    const { events } = parse(body, allSplits[1]!);
    expect(events).toEqual([message('a\uFFFDb')]);
  });

  it('counts comments and ignored lines', () => {
    const { parser } = parse(': one\n:two\nfoo\nbar: baz\ndata: x\n\n', allSplits[0]!);
    expect(parser.commentCount).toBe(2);
    expect(parser.ignoredLineCount).toBe(2);
  });

  it('reads retry only when all digits', () => {
    expect(parse('retry: 1500\n\n', allSplits[0]!).parser.retryMs).toBe(1500);
    expect(parse('retry: 15x\n\n', allSplits[0]!).parser.retryMs).toBeUndefined();
  });

  it('drops an unterminated event by default', () => {
    expect(parse('data: a\n\ndata: b\n', allSplits[0]!).events).toEqual([message('a')]);
    expect(parse('data: a\n\ndata: b', allSplits[0]!).events).toEqual([message('a')]);
  });

  it('dispatches an unterminated event on request', () => {
    for (const split of allSplits) {
      const options = { dispatchUnterminatedEvent: true };
      expect(parse('data: a\n\ndata: b\n', split, options).events).toEqual([
        message('a'),
        message('b'),
      ]);
      expect(parse('data: a\n\ndata: [DONE]', split, options).events).toEqual([
        message('a'),
        message('[DONE]'),
      ]);
    }
  });

  it('flushes a split character at end', () => {
    const body = utf8('data: 世');
    const events: SseEvent[] = [];
    const parser = new SseParser({
      onEvent: (event) => events.push(event),
      dispatchUnterminatedEvent: true,
    });
    parser.push(body.subarray(0, body.length - 1));
    parser.end();
    expect(events).toEqual([message('\uFFFD')]);
  });

  it('rejects a line past the limit', () => {
    const parser = new SseParser({ onEvent: () => undefined, maxLineChars: 10 });
    parser.push(utf8('data: 1234\n'));
    expect(() => parser.push(utf8('data: 12345'))).toThrow(SseLineTooLongError);
  });

  it('rejects a long line split across reads', () => {
    const parser = new SseParser({ onEvent: () => undefined, maxLineChars: 10 });
    parser.push(utf8('data: '));
    parser.push(utf8('1234'));
    let caught: unknown;
    try {
      parser.push(utf8('5'));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SseLineTooLongError);
    expect((caught as SseLineTooLongError).code).toBe('ERR_SSE_LINE_TOO_LONG');
  });

  it('rejects push after end', () => {
    const parser = new SseParser({ onEvent: () => undefined });
    parser.end();
    expect(() => parser.push(utf8('data: a\n\n'))).toThrow(SseParserEndedError);
    expect(() => parser.end()).toThrow(SseParserEndedError);
  });
});
