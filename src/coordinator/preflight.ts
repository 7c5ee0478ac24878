import { Client, errors as undiciErrors } from 'undici';
import type { RequestEntry, TaskConfig } from '../protocol/index.ts';

/** The single request before the load failed in a way that would fail every request. */
export class PreflightError extends Error {
  override readonly name = 'PreflightError';
  readonly code = 'ERR_PREFLIGHT';
}

export interface PreflightResult {
  status: number;
  latencyMs: number;
  /** Hints for statuses that do not stop the run. */
  warnings: string[];
}

const SKIP_HINT = 'Pass --no-preflight to run the load anyway.';

/** Sends the first data entry once, as the load will, and explains the failures users hit most. */
export async function preflight(
  config: TaskConfig,
  entry: RequestEntry | undefined,
  caPem: string | undefined,
): Promise<PreflightResult> {
  const url = new URL(config.service.url);
  const client = new Client(url.origin, {
    connect: { rejectUnauthorized: !config.http.insecure, ...(caPem ? { ca: caPem } : {}) },
  });
  const body = entry?.body ? Buffer.from(entry.body) : undefined;
  const headers: Record<string, string> = {
    ...(body && entry?.contentType ? { 'content-type': entry.contentType } : {}),
    ...config.http.headers,
  };
  const method = config.http.method ?? (body ? 'POST' : 'GET');
  const started = performance.now();

  try {
    const response = await client.request({
      path: `${url.pathname}${url.search}`,
      method: method as 'GET',
      headers,
      body,
      signal: AbortSignal.timeout(config.http.timeout),
    });
    const text = await response.body.text();
    return judge(config, response.statusCode, text, body, performance.now() - started);
  } catch (error) {
    if (error instanceof PreflightError) throw error;
    throw explainFailure(config, error);
  } finally {
    await client.destroy();
  }
}

function judge(
  config: TaskConfig,
  status: number,
  responseText: string,
  body: Buffer | undefined,
  latencyMs: number,
): PreflightResult {
  const url = config.service.url;
  if (status === 404 && new URL(url).pathname.length > 1 && new URL(url).pathname.endsWith('/')) {
    const trimmed = url.replace(/\/(?=$|\?)/, '');
    throw new PreflightError(
      `${url} responded 404 Not Found. The service may be registered without the trailing slash: try ${trimmed}. ${SKIP_HINT}`,
    );
  }

  if (status === 400 && body && looksLikeJson(body)) {
    const problem = jsonProblem(body);
    if (problem) {
      throw new PreflightError(
        `${url} responded 400 Bad Request, and the request body is not valid JSON (${problem}): ${preview(body)}. ` +
          `If you made data.content with base64, quote the JSON in single quotes so that the shell keeps its double quotes: ` +
          `echo -n '{"key": "value"}' | base64. ${SKIP_HINT}`,
      );
    }
  }

  // A client error other than a timeout or a rate limit comes back for every request of the load.
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    throw new PreflightError(
      `${url} responded ${status}: ${preview(Buffer.from(responseText))}. ` +
        `${clientErrorHint(config, status, responseText)} ${SKIP_HINT}`,
    );
  }

  const warnings: string[] = [];
  if (status >= 400)
    warnings.push(`preflight: ${url} responded ${status}: ${preview(Buffer.from(responseText))}`);
  return { status, latencyMs, warnings };
}

/** Returns the likely fix for a client error, from the status and the server's message. */
function clientErrorHint(config: TaskConfig, status: number, responseText: string): string {
  const llm = config.llm;
  if (status === 401 || status === 403)
    return llm
      ? 'Fix: pass the key with --api-key KEY or OPENAI_API_KEY.'
      : 'Fix: add the credentials the service expects with --header "Authorization: ...".';
  if (llm && /stream_options|include_usage/i.test(responseText))
    return 'The server rejects stream_options. Fix: pass --no-usage (llm.includeUsage: false).';
  if (llm && /model/i.test(responseText))
    return (
      `The server may not serve the model "${llm.modelName}". Fix: pass --model-name with a ` +
      `name from ${new URL(config.service.url).origin}/v1/models.`
    );
  if (status === 404) return 'Fix: check the path of service.url.';
  if (status === 405)
    return `Fix: check http.method (${config.http.method ?? 'POST with a body, else GET'}).`;
  return 'Fix: check the request against what the service expects.';
}

function explainFailure(config: TaskConfig, error: unknown): PreflightError {
  const url = config.service.url;
  const cause = (error as { cause?: unknown }).cause ?? error;
  const code = (cause as { code?: string }).code ?? (error as { code?: string }).code ?? '';
  const message = (cause as Error).message ?? String(cause);

  if ((error as Error).name === 'TimeoutError') {
    return new PreflightError(
      `${url} did not respond within ${config.http.timeout} ms. Fix: check the service, or raise http.timeout. ${SKIP_HINT}`,
      { cause: error },
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(message)) {
    return new PreflightError(
      `${url} did not complete the TLS handshake (${message}): the server may speak plain HTTP on ` +
        `that port. Fix: use ${url.replace(/^https:/, 'http:')} if it does`,
      { cause: error },
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new PreflightError(
      `the certificate of ${url} is not valid for that host: ${message}. Fix: use a host name that the certificate lists in service.url, ` +
        `or --insecure (http.insecure: true) to skip verification`,
      { cause: error },
    );
  }
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return new PreflightError(
      `the certificate of ${url} was rejected: ${message} (${code}). Fix: pass --ca-file FILE (http.caFile) with the certificate of the CA that signed it, ` +
        `or --insecure (http.insecure: true) to skip verification`,
      { cause: error },
    );
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new PreflightError(
      `cannot connect to ${url}: ${message}. Fix: check that the service is running and that the URL's host and port are right`,
      { cause: error },
    );
  }
  return new PreflightError(
    `the preflight request to ${url} failed: ${message}${code ? ` (${code})` : ''}. ${SKIP_HINT}`,
    { cause: error },
  );
}

function looksLikeJson(body: Buffer): boolean {
  const first = body.toString('utf8', 0, Math.min(body.length, 64)).trimStart()[0];
  return first === '{' || first === '[';
}

function jsonProblem(body: Buffer): string | undefined {
  try {
    JSON.parse(body.toString('utf8'));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const PREVIEW_BYTES = 300;

function preview(bytes: Buffer): string {
  const text = bytes
    .toString('utf8', 0, Math.min(bytes.length, PREVIEW_BYTES))
    .replace(/\s+/g, ' ')
    .trim();
  return bytes.length > PREVIEW_BYTES ? `${text}...` : text;
}
