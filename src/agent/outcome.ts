import type { StreamFailureKind } from '../llm/stream.ts';

/**
 * Failure kinds of one request. `status` is an HTTP status outside 200-399; the status itself is
 * counted apart. `incomplete` marks a request cut off by the drain at the end, which is reported
 * on its own and never counted as a failure of the target. Stream kinds (malformed-stream,
 * stream-error, empty-response, ...) come from reading an LLM stream.
 */
export type ErrorKind =
  | StreamFailureKind
  | 'timeout'
  | 'connect'
  | 'reset'
  | 'tls'
  | 'protocol'
  | 'status'
  | 'incomplete'
  | 'other';

/** The result of one request. Times are from performance.now(), in milliseconds. */
export interface RequestOutcome {
  intendedMs: number;
  sentMs: number;
  endMs: number;
  status?: number;
  error?: ErrorKind;
  /** The error's message, for the first failure of each kind in the log. */
  detail?: string;
  llm?: LlmOutcome;
}

/** The LLM part of the outcome of a request that generated text. */
export interface LlmOutcome {
  /** performance.now() of the first chunk with generated text, in milliseconds. */
  firstTextMs: number;
  /** Gaps between consecutive chunks with text, in microseconds. */
  interChunkUs: number[];
  inputTokens: number;
  outputTokens: number;
  tokenSource: 'usage' | 'tokenizer';
  /**
   * Generated text whose tokens are still to be counted, when the server sent no usage;
   * `outputTokens` is the count once this is removed.
   */
  uncountedText?: string;
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** Maps an error from undici or the socket to its failure kind. */
export function classifyError(error: unknown): ErrorKind {
  const code = errorCode(error);
  if (code === undefined) return 'other';
  if (code === 'ERR_LOADMESH_TIMEOUT') return 'timeout';
  if (code === 'ERR_LOADMESH_DRAIN') return 'incomplete';
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return 'tls';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (RESET_CODES.has(code)) return 'reset';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT')
    return 'timeout';
  if (
    code.startsWith('HPE_') ||
    code === 'UND_ERR_INVALID_ARG' ||
    code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
  )
    return 'protocol';
  return 'other';
}

/** Returns the `code` of an error or of the first error in its cause chain that has one. */
export function errorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status < 400;
}

/** The per-request timeout fired; the request is aborted with this reason. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  readonly code = 'ERR_LOADMESH_TIMEOUT';
}

/** The drain at the end of the task ran out of time; the request is aborted with this reason. */
export class DrainAbortError extends Error {
  override readonly name = 'DrainAbortError';
  readonly code = 'ERR_LOADMESH_DRAIN';
}
