/**
 * Incremental Server-Sent Events parser, following the WHATWG HTML event-stream rules:
 * LF, CRLF and CR line endings, `:` comments, one optional space after the field colon,
 * multi-line `data`, and a blank line to dispatch.
 *
 * It is fed raw bytes as they come off the socket, so a read may end anywhere: inside a
 * multi-byte UTF-8 character, between CR and LF, or in the middle of a field.
 */

/** One dispatched event. */
export interface SseEvent {
  /** Event type from the `event:` field, `message` when the event has none. */
  type: string;
  /** The event's `data:` lines joined with LF. */
  data: string;
  /** Value of the last `id:` field seen on the stream, '' when none. */
  lastEventId: string;
}

export interface SseParserOptions {
  /** Called once per dispatched event, synchronously from `push` or `end`. */
  onEvent: (event: SseEvent) => void;
  /** Maximum characters in one line; a longer line makes `push` throw SseLineTooLongError. */
  maxLineChars?: number;
  /**
   * Whether `end` dispatches an event whose closing blank line never came. The WHATWG rules drop
   * it; a load tester keeps it so that a server ending with `data: [DONE]\n` is still understood.
   */
  dispatchUnterminatedEvent?: boolean;
}

export const DEFAULT_MAX_LINE_CHARS = 16 * 1024 * 1024;

/** A line grew past the parser's `maxLineChars` without a line ending. */
export class SseLineTooLongError extends Error {
  readonly code = 'ERR_SSE_LINE_TOO_LONG';

  constructor(readonly maxLineChars: number) {
    super(`SSE line is longer than ${maxLineChars} characters without a line ending`);
    this.name = 'SseLineTooLongError';
  }
}

/** `push` or `end` was called after `end`. */
export class SseParserEndedError extends Error {
  readonly code = 'ERR_SSE_PARSER_ENDED';

  constructor() {
    super('SSE parser already ended; create a new parser for each stream');
    this.name = 'SseParserEndedError';
  }
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

/** Returns the index of the next LF or CR at or after `from`, or -1. */
function nextLineEnd(text: string, from: number, hasCr: boolean): number {
  const lf = text.indexOf('\n', from);
  if (!hasCr) return lf;
  const cr = text.indexOf('\r', from);
  if (cr === -1) return lf;
  return lf === -1 ? cr : Math.min(lf, cr);
}

export class SseParser {
  readonly #onEvent: (event: SseEvent) => void;
  readonly #maxLineChars: number;
  readonly #dispatchUnterminatedEvent: boolean;
  // The default ignoreBOM: false strips one byte order mark at the start, as the rules require.
  readonly #decoder = new TextDecoder('utf-8');

  #pendingLine = '';
  #skipLeadingLf = false;
  #data = '';
  #dataLineCount = 0;
  #eventType = '';
  #lastEventId = '';
  #retryMs: number | undefined = undefined;
  #commentCount = 0;
  #ignoredLineCount = 0;
  #ended = false;
  /** Whether the decoder has no partial character buffered; false until a first read passed its BOM check. */
  #decoderEmpty = false;

  constructor(options: SseParserOptions) {
    this.#onEvent = options.onEvent;
    this.#maxLineChars = options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS;
    this.#dispatchUnterminatedEvent = options.dispatchUnterminatedEvent ?? false;
  }

  /** Reconnection time from the last valid `retry:` field, in milliseconds. */
  get retryMs(): number | undefined {
    return this.#retryMs;
  }

  /** Comment lines seen so far (lines starting with `:`, used as keep-alives). */
  get commentCount(): number {
    return this.#commentCount;
  }

  /** Lines whose field name is not data, event, id or retry; a body that is not SSE has many. */
  get ignoredLineCount(): number {
    return this.#ignoredLineCount;
  }

  /** Parses the next bytes of the stream and dispatches every event they complete. */
  push(chunk: Uint8Array): void {
    if (this.#ended) throw new SseParserEndedError();

    this.#scan(this.#decode(chunk));
  }

  /**
   * Decodes one read. Between reads that end on an ASCII byte no character is split, so such a
   * read skips TextDecoder's streaming state for Buffer's faster toString.
   */
  #decode(chunk: Uint8Array): string {
    if (chunk.length === 0) return '';

    const endsWhole = chunk[chunk.length - 1]! < 0x80;
    const text =
      this.#decoderEmpty && endsWhole
        ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8')
        : this.#decoder.decode(chunk, { stream: true });
    this.#decoderEmpty = endsWhole;
    return text;
  }

  /** Finishes the stream: flushes a partial UTF-8 sequence and the last line, and resets state. */
  end(): void {
    if (this.#ended) throw new SseParserEndedError();

    this.#scan(this.#decoder.decode());
    this.#ended = true;

    if (this.#dispatchUnterminatedEvent) {
      if (this.#pendingLine.length > 0) this.#processLine(this.#pendingLine);
      this.#dispatch();
    }

    this.#pendingLine = '';
    this.#data = '';
    this.#dataLineCount = 0;
  }

  #scan(text: string): void {
    const length = text.length;
    if (length === 0) return;

    let lineStart = 0;
    if (this.#skipLeadingLf) {
      // The previous read ended with CR, so an LF here completes that CRLF and is no new line.
      this.#skipLeadingLf = false;
      if (text.charCodeAt(0) === LF) lineStart = 1;
    }

    // Most streams end lines with LF alone, so CR is looked for only when the text has one.
    const hasCr = text.indexOf('\r', lineStart) !== -1;
    for (let index = nextLineEnd(text, lineStart, hasCr); index !== -1;) {
      const piece = text.slice(lineStart, index);
      const line = this.#pendingLine.length === 0 ? piece : this.#pendingLine + piece;
      this.#pendingLine = '';
      if (line.length > this.#maxLineChars) throw new SseLineTooLongError(this.#maxLineChars);
      this.#processLine(line);

      if (text.charCodeAt(index) === CR) {
        if (index + 1 === length) this.#skipLeadingLf = true;
        else if (text.charCodeAt(index + 1) === LF) index++;
      }
      lineStart = index + 1;
      index = nextLineEnd(text, lineStart, hasCr);
    }

    if (lineStart < length) {
      this.#pendingLine += lineStart === 0 ? text : text.slice(lineStart);
      if (this.#pendingLine.length > this.#maxLineChars) {
        throw new SseLineTooLongError(this.#maxLineChars);
      }
    }
  }

  #processLine(line: string): void {
    if (line.length === 0) {
      this.#dispatch();
      return;
    }

    if (line.charCodeAt(0) === COLON) {
      this.#commentCount++;
      return;
    }

    const colonIndex = line.indexOf(':');
    let field: string;
    let value: string;
    if (colonIndex === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colonIndex);
      const valueStart =
        line.charCodeAt(colonIndex + 1) === SPACE ? colonIndex + 2 : colonIndex + 1;
      value = line.slice(valueStart);
    }

    switch (field) {
      case 'data':
        this.#data = this.#dataLineCount === 0 ? value : this.#data + '\n' + value;
        this.#dataLineCount++;
        break;
      case 'event':
        this.#eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastEventId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.#retryMs = Number(value);
        break;
      default:
        this.#ignoredLineCount++;
    }
  }

  #dispatch(): void {
    // An event without any data line is not dispatched, and its type is forgotten.
    if (this.#dataLineCount === 0) {
      this.#eventType = '';
      return;
    }

    const event: SseEvent = {
      type: this.#eventType === '' ? 'message' : this.#eventType,
      data: this.#data,
      lastEventId: this.#lastEventId,
    };
    this.#data = '';
    this.#dataLineCount = 0;
    this.#eventType = '';
    this.#onEvent(event);
  }
}
