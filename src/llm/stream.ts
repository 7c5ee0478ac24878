/**
 * Turns the body of one OpenAI-compatible chat or completions response into a per-request
 * result: the generated text, when each piece of it arrived, usage and finish reason.
 *
 * Failures are data on the result, never exceptions: a 200 response without generated
 * text, with an error object in the stream, or with a body that cannot be parsed is a
 * failure with a named kind.
 */
import { readPlainChunkText } from './plain-chunk.ts';
import { SseLineTooLongError, SseParser, type SseEvent } from './sse.ts';

export type StreamFailureKind =
  /** A `data:` payload or a whole-JSON body that does not parse as JSON. */
  | 'invalid-json'
  /** A body that is neither SSE nor JSON, or a chunk without the fields of a completion chunk. */
  | 'malformed-stream'
  /** An error object (`{"error": ...}`) or an `event: error` inside an SSE stream. */
  | 'stream-error'
  /** A whole-JSON body that is an error object. */
  | 'error-response'
  /** The response ended without any generated text. */
  | 'empty-response'
  /** A line of the stream or a whole-JSON body exceeded `maxBufferedChars`. */
  | 'oversized-response';

export interface StreamFailure {
  kind: StreamFailureKind;
  /** Description of the failure, quoting the server's error message or the start of the bad payload. */
  message: string;
}

/** Token counts from the server's `usage` object. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

interface StreamResultFields {
  /** False when the server ignored `stream: true` and sent one JSON body. */
  streamed: boolean;
  /** Whether the stream ended with `data: [DONE]`; a stream that just ends is also accepted. */
  doneReceived: boolean;
  /** All generated text, in arrival order; count its tokens when `usage` is absent. */
  text: string;
  /** Arrival time of the first chunk with generated text (the TTFT end point), in µs. */
  firstTextUs: number | undefined;
  /** Arrival time of each chunk with generated text, in µs, one entry per chunk. */
  textChunkTimesUs: Float64Array;
  /** Usage from the last chunk that carried one, or from the JSON body. */
  usage: TokenUsage | undefined;
  /** Last non-null `finish_reason` seen, such as `stop` or `length`. */
  finishReason: string | undefined;
  /** SSE events handled, including role-only and usage chunks, up to the end or a failure. */
  eventCount: number;
}

export type StreamResult =
  | (StreamResultFields & { ok: true; failure: undefined })
  | (StreamResultFields & { ok: false; failure: StreamFailure });

export interface StreamConsumerOptions {
  /** Monotonic clock in microseconds, read only when text arrives: at most once per `push`, or once in `end` for a whole-JSON body. */
  clockUs: () => number;
  /** Maximum characters in one SSE line or in a whole-JSON body; default 16 MiB. */
  maxBufferedChars?: number;
  /** Whether plain text chunks are read without JSON.parse; default true. Off to compare both ways. */
  plainChunkFastPath?: boolean;
}

const DEFAULT_MAX_BUFFERED_CHARS = 16 * 1024 * 1024;
const INITIAL_TIMES_CAPACITY = 64;
const PREVIEW_CHARS = 200;

type BodyMode = 'unknown' | 'sse' | 'json';

/**
 * Consumes one response body. Call `push` for each read from the socket and `end` once the
 * body is complete; `end` returns the result. One consumer serves one request.
 */
export class StreamConsumer {
  readonly #clockUs: () => number;
  readonly #maxBufferedChars: number;
  readonly #plainChunkFastPath: boolean;
  readonly #parser: SseParser;

  #mode: BodyMode = 'unknown';
  /** Whitespace-only reads that arrived before the body's type was known. */
  #leadingChunks: Uint8Array[] = [];
  #jsonChunks: Uint8Array[] = [];
  #jsonBytes = 0;

  #arrivalUs = Number.NaN;
  #lastPushUs = Number.NaN;
  #text = '';
  #timesUs = new Float64Array(INITIAL_TIMES_CAPACITY);
  #textChunkCount = 0;
  #usage: TokenUsage | undefined = undefined;
  #finishReason: string | undefined = undefined;
  #eventCount = 0;
  #doneReceived = false;
  #failure: StreamFailure | undefined = undefined;
  #result: StreamResult | undefined = undefined;

  constructor(options: StreamConsumerOptions) {
    this.#clockUs = options.clockUs;
    this.#maxBufferedChars = options.maxBufferedChars ?? DEFAULT_MAX_BUFFERED_CHARS;
    this.#plainChunkFastPath = options.plainChunkFastPath ?? true;
    this.#parser = new SseParser({
      onEvent: (event) => this.#handleEvent(event),
      maxLineChars: this.#maxBufferedChars,
      dispatchUnterminatedEvent: true,
    });
  }

  /** Whether `[DONE]` or a failure was seen, so the rest of the body can be discarded. */
  get finished(): boolean {
    return this.#doneReceived || this.#failure !== undefined;
  }

  /**
   * Handles the next read of the body. `arrivalUs` is the read's arrival time; without it the
   * clock is read when the read holds generated text. Events in one read share its time.
   */
  push(chunk: Uint8Array, arrivalUs?: number): void {
    if (this.#result !== undefined || this.finished) return;

    this.#arrivalUs = arrivalUs ?? Number.NaN;
    if (this.#mode === 'unknown') this.#detectMode(chunk);

    if (this.#mode === 'sse') this.#pushSse(chunk);
    else if (this.#mode === 'json') this.#pushJson(chunk);
    else this.#leadingChunks.push(chunk);

    this.#lastPushUs = this.#arrivalUs;
  }

  /** Ends the body and returns the result; later calls return the same result. */
  end(): StreamResult {
    if (this.#result !== undefined) return this.#result;

    if (this.#failure === undefined && !this.#doneReceived) {
      if (this.#mode === 'sse') this.#endSse();
      else if (this.#mode === 'json') this.#endJson();
    }
    if (this.#failure === undefined) this.#failure = this.#checkGeneratedText();

    this.#result = this.#buildResult();
    return this.#result;
  }

  #detectMode(chunk: Uint8Array): void {
    // The first byte that is not whitespace or a byte order mark decides: an SSE field name
    // never starts with `{` or `[`, so such a body is a whole JSON response.
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index];
      if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
      if (byte === 0xef || byte === 0xbb || byte === 0xbf) continue;

      this.#mode = byte === 0x7b || byte === 0x5b ? 'json' : 'sse';
      const leading = this.#leadingChunks;
      this.#leadingChunks = [];
      for (const leadingChunk of leading) {
        if (this.#mode === 'sse') this.#pushSse(leadingChunk);
        else this.#pushJson(leadingChunk);
      }
      return;
    }
  }

  #pushSse(chunk: Uint8Array): void {
    try {
      this.#parser.push(chunk);
    } catch (error) {
      if (!(error instanceof SseLineTooLongError)) throw error;
      this.#fail('oversized-response', error.message);
    }
  }

  #endSse(): void {
    try {
      this.#parser.end();
    } catch (error) {
      if (!(error instanceof SseLineTooLongError)) throw error;
      this.#fail('oversized-response', error.message);
      return;
    }

    if (this.#eventCount === 0 && this.#parser.ignoredLineCount > 0) {
      this.#fail('malformed-stream', 'response body is neither an SSE stream nor JSON');
    }
  }

  #pushJson(chunk: Uint8Array): void {
    this.#jsonBytes += chunk.length;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes, so more bytes than 3 × the limit are too
    // many characters for sure; #endJson checks the exact length.
    if (this.#jsonBytes > this.#maxBufferedChars * 3) {
      this.#fail(
        'oversized-response',
        `JSON body is larger than ${this.#maxBufferedChars} characters`,
      );
      this.#jsonChunks = [];
      return;
    }
    this.#jsonChunks.push(chunk);
  }

  #endJson(): void {
    const body = Buffer.concat(this.#jsonChunks).toString('utf8');
    this.#jsonChunks = [];
    if (body.length > this.#maxBufferedChars) {
      this.#fail(
        'oversized-response',
        `JSON body is larger than ${this.#maxBufferedChars} characters`,
      );
      return;
    }

    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      this.#fail('invalid-json', `response body is not valid JSON: ${preview(body)}`);
      return;
    }

    this.#arrivalUs = this.#lastPushUs;
    this.#applyPayload(payload, 'error-response');
  }

  #handleEvent(event: SseEvent): void {
    if (this.finished) return;
    this.#eventCount++;

    if (event.type === 'error') {
      this.#fail(
        'stream-error',
        event.data === '' ? 'error event without data' : preview(event.data),
      );
      return;
    }
    // Other named events (pings, vendor extensions) carry no completion chunk.
    if (event.type !== 'message') return;

    const data = event.data;
    if (data === '[DONE]') {
      this.#doneReceived = true;
      return;
    }
    if (data.length === 0) return;

    const plainText = this.#plainChunkFastPath ? readPlainChunkText(data) : undefined;
    if (plainText !== undefined) {
      this.#appendText(plainText);
      return;
    }

    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      this.#fail('invalid-json', `stream event data is not valid JSON: ${preview(data)}`);
      return;
    }
    this.#applyPayload(payload, 'stream-error');
  }

  #applyPayload(payload: unknown, errorKind: 'stream-error' | 'error-response'): void {
    if (!isRecord(payload)) {
      this.#fail(
        'malformed-stream',
        `expected a JSON object, got ${preview(JSON.stringify(payload))}`,
      );
      return;
    }

    const errorMessage = readErrorMessage(payload);
    if (errorMessage !== undefined) {
      this.#fail(errorKind, errorMessage);
      return;
    }

    const usage = readUsage(payload['usage']);
    if (usage !== undefined) this.#usage = usage;

    const choices = payload['choices'];
    if (choices === undefined || choices === null) {
      if (usage === undefined) {
        this.#fail(
          'malformed-stream',
          `chunk has neither choices nor usage: ${preview(JSON.stringify(payload))}`,
        );
      }
      return;
    }
    if (!Array.isArray(choices)) {
      this.#fail(
        'malformed-stream',
        `choices is not an array: ${preview(JSON.stringify(choices))}`,
      );
      return;
    }

    let text = '';
    for (const choice of choices) {
      if (!isRecord(choice)) continue;

      text += readChoiceText(choice);
      const finishReason = choice['finish_reason'];
      if (typeof finishReason === 'string') this.#finishReason = finishReason;
    }
    this.#appendText(text);
  }

  /** Adds the text of one chunk and, when there is any, times the chunk. */
  #appendText(text: string): void {
    if (text.length === 0) return;
    this.#text += text;
    if (Number.isNaN(this.#arrivalUs)) this.#arrivalUs = this.#clockUs();

    if (this.#textChunkCount === this.#timesUs.length) {
      const grown = new Float64Array(this.#timesUs.length * 2);
      grown.set(this.#timesUs);
      this.#timesUs = grown;
    }
    this.#timesUs[this.#textChunkCount] = this.#arrivalUs;
    this.#textChunkCount++;
  }

  #checkGeneratedText(): StreamFailure | undefined {
    if (this.#textChunkCount > 0) return undefined;

    if (this.#mode === 'unknown')
      return { kind: 'empty-response', message: 'response body is empty' };
    const reason = this.#finishReason === undefined ? '' : ` (finish_reason ${this.#finishReason})`;
    return { kind: 'empty-response', message: `response has no generated text${reason}` };
  }

  #fail(kind: StreamFailureKind, message: string): void {
    if (this.#failure === undefined) this.#failure = { kind, message };
  }

  #buildResult(): StreamResult {
    const fields: StreamResultFields = {
      streamed: this.#mode !== 'json',
      doneReceived: this.#doneReceived,
      text: this.#text,
      firstTextUs: this.#textChunkCount > 0 ? this.#timesUs[0] : undefined,
      textChunkTimesUs: this.#timesUs.subarray(0, this.#textChunkCount),
      usage: this.#usage,
      finishReason: this.#finishReason,
      eventCount: this.#eventCount,
    };
    if (this.#failure === undefined) return { ...fields, ok: true, failure: undefined };
    return { ...fields, ok: false, failure: this.#failure };
  }
}

/**
 * Returns the generated text of one choice, in chat or completions shape, streamed or whole.
 * Reasoning text and tool-call arguments are generated tokens too, so they count.
 */
function readChoiceText(choice: Record<string, unknown>): string {
  const message = choice['delta'] ?? choice['message'];
  if (!isRecord(message)) {
    const text = choice['text'];
    return typeof text === 'string' ? text : '';
  }

  let text = '';
  // `reasoning_content` is DeepSeek's field and older vLLM's; vLLM since late 2025 and
  // OpenRouter send `reasoning`, some releases both, so one of them is read.
  const reasoning = message['reasoning_content'] ?? message['reasoning'];
  if (typeof reasoning === 'string') text += reasoning;
  const content = message['content'];
  if (typeof content === 'string') text += content;

  const toolCalls = message['tool_calls'];
  if (Array.isArray(toolCalls)) {
    for (const toolCall of toolCalls) {
      if (!isRecord(toolCall) || !isRecord(toolCall['function'])) continue;
      const toolArguments = toolCall['function']['arguments'];
      if (typeof toolArguments === 'string') text += toolArguments;
    }
  }
  return text;
}

/** Returns the message of an error payload, or undefined when the payload is no error. */
function readErrorMessage(payload: Record<string, unknown>): string | undefined {
  const error = payload['error'];
  if (typeof error === 'string') return preview(error);
  if (isRecord(error)) return describeError(error);

  // Some vLLM releases send the error fields at the top level with `"object": "error"`.
  if (payload['object'] === 'error') return describeError(payload);
  return undefined;
}

function describeError(error: Record<string, unknown>): string {
  const message = typeof error['message'] === 'string' ? error['message'] : JSON.stringify(error);
  const code = error['code'];
  const codeText = typeof code === 'string' || typeof code === 'number' ? ` (code ${code})` : '';
  return preview(message) + codeText;
}

function readUsage(value: unknown): TokenUsage | undefined {
  if (!isRecord(value)) return undefined;

  const promptTokens = value['prompt_tokens'];
  const completionTokens = value['completion_tokens'];
  if (!isTokenCount(promptTokens) || !isTokenCount(completionTokens)) return undefined;

  const totalTokens = value['total_tokens'];
  return {
    promptTokens,
    completionTokens,
    totalTokens: isTokenCount(totalTokens) ? totalTokens : promptTokens + completionTokens,
  };
}

function isTokenCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function preview(text: string): string {
  return text.length <= PREVIEW_CHARS ? text : `${text.slice(0, PREVIEW_CHARS)}...`;
}
