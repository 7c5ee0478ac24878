/**
 * Downloads tokenizer.json and tokenizer_config.json from the Hugging Face hub or ModelScope
 * into the Hugging Face cache layout, so that the next search finds them without a download.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';

import {
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  huggingFaceRepoDir,
  isHubModelId,
  isPlainName,
  type TokenizerFiles,
} from './tokenizer-files.ts';

export type TokenizerHub = 'huggingface' | 'modelscope';

export const DEFAULT_HUGGING_FACE_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_MODELSCOPE_ENDPOINT = 'https://www.modelscope.cn';
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 60_000;

const MAX_REDIRECTS = 5;
const MAX_FILE_BYTES = 256 * 1024 * 1024;

export interface TokenizerDownloadOptions {
  hub: TokenizerHub;
  /** Base URL of the hub, such as https://huggingface.co or a mirror. */
  endpoint: string;
  modelId: string;
  /** Branch, tag or commit; the hub's default branch (`main` or `master`) when absent. */
  revision?: string;
  /** Hugging Face cache folder to write into. */
  cacheDir: string;
  /** Bearer token for gated or private models; sent only to the endpoint's own origin. */
  token?: string;
  /** Limit for each file's whole download, in milliseconds. */
  timeoutMs?: number;
}

/** A tokenizer file could not be downloaded. */
export class TokenizerDownloadError extends Error {
  readonly code = 'ERR_TOKENIZER_DOWNLOAD_FAILED';

  constructor(
    message: string,
    readonly url: string,
    readonly statusCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TokenizerDownloadError';
  }
}

/** Returns the URL of one file of a model repository on the hub. */
export function tokenizerFileUrl(
  hub: TokenizerHub,
  endpoint: string,
  modelId: string,
  revision: string,
  fileName: string,
): string {
  const base = endpoint.replace(/\/+$/, '');
  if (hub === 'huggingface') {
    return `${base}/${modelId}/resolve/${encodeURIComponent(revision)}/${fileName}`;
  }
  const query = `Revision=${encodeURIComponent(revision)}&FilePath=${encodeURIComponent(fileName)}`;
  return `${base}/api/v1/models/${modelId}/repo?${query}`;
}

/**
 * Downloads the tokenizer files of a model into
 * `<cacheDir>/models--ORG--NAME/snapshots/<commit or revision>/` and records the snapshot in
 * `refs/<revision>` when the hub names its commit. tokenizer_config.json is optional.
 */
export async function downloadTokenizer(
  options: TokenizerDownloadOptions,
): Promise<TokenizerFiles> {
  if (!isHubModelId(options.modelId)) {
    throw new TokenizerDownloadError(
      `invalid model id "${options.modelId}": expected ORG/NAME or NAME of a hub repository`,
      options.endpoint,
      undefined,
    );
  }

  const revision = options.revision ?? (options.hub === 'huggingface' ? 'main' : 'master');
  const tokenizerUrl = tokenizerFileUrl(
    options.hub,
    options.endpoint,
    options.modelId,
    revision,
    TOKENIZER_FILE,
  );
  const tokenizer = await fetchFile(tokenizerUrl, options);
  if (tokenizer === undefined) {
    throw new TokenizerDownloadError(
      `${TOKENIZER_FILE} not found at ${tokenizerUrl} (HTTP 404)`,
      tokenizerUrl,
      404,
    );
  }
  try {
    JSON.parse(tokenizer.body.toString('utf8'));
  } catch (error) {
    throw new TokenizerDownloadError(`${tokenizerUrl} did not return JSON`, tokenizerUrl, 200, {
      cause: error,
    });
  }

  const configUrl = tokenizerFileUrl(
    options.hub,
    options.endpoint,
    options.modelId,
    revision,
    TOKENIZER_CONFIG_FILE,
  );
  const config = await fetchFile(configUrl, options);

  const repoDir = huggingFaceRepoDir(options.cacheDir, options.modelId);
  const commit =
    tokenizer.commit !== undefined && isPlainName(tokenizer.commit) ? tokenizer.commit : undefined;
  const snapshotName = commit ?? (isPlainName(revision) ? revision : 'download');
  const snapshotDir = join(repoDir, 'snapshots', snapshotName);
  await mkdir(snapshotDir, { recursive: true });

  const tokenizerPath = join(snapshotDir, TOKENIZER_FILE);
  await writeFileAtomically(tokenizerPath, tokenizer.body);
  let configPath: string | undefined;
  if (config !== undefined) {
    configPath = join(snapshotDir, TOKENIZER_CONFIG_FILE);
    await writeFileAtomically(configPath, config.body);
  }

  if (commit !== undefined && commit !== revision && isPlainName(revision)) {
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFileAtomically(join(repoDir, 'refs', revision), Buffer.from(commit));
  }

  const source = options.hub === 'huggingface' ? 'huggingface-download' : 'modelscope-download';
  return { source, tokenizerPath, configPath };
}

interface FetchedFile {
  body: Buffer;
  /** Commit the hub resolved the revision to (Hugging Face's X-Repo-Commit header). */
  commit: string | undefined;
}

/**
 * Fetches one file, following up to MAX_REDIRECTS redirects (Hugging Face sends large files
 * to a CDN). Returns undefined on 404; throws TokenizerDownloadError on any other failure.
 */
async function fetchFile(
  url: string,
  options: TokenizerDownloadOptions,
): Promise<FetchedFile | undefined> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  const origin = new URL(url).origin;
  let currentUrl = url;
  let commit: string | undefined;

  for (let redirectCount = 0; redirectCount <= MAX_REDIRECTS; redirectCount++) {
    const headers: Record<string, string> = { 'user-agent': 'loadmesh' };
    // The token goes only to the hub itself, never to the CDN or host a redirect points to.
    if (options.token && new URL(currentUrl).origin === origin) {
      headers['authorization'] = `Bearer ${options.token}`;
    }

    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(currentUrl, { method: 'GET', headers, signal });
    } catch (error) {
      const reason = signal.aborted ? `timed out after ${timeoutMs} ms` : describeCause(error);
      throw new TokenizerDownloadError(`download of ${url} failed: ${reason}`, url, undefined, {
        cause: error,
      });
    }

    commit ??= headerValue(response.headers['x-repo-commit']);
    const status = response.statusCode;

    if (status >= 300 && status < 400) {
      await response.body.dump();
      const location = headerValue(response.headers['location']);
      if (location === undefined) {
        throw new TokenizerDownloadError(
          `${currentUrl} redirected (HTTP ${status}) without a Location`,
          url,
          status,
        );
      }
      currentUrl = new URL(location, currentUrl).toString();
      continue;
    }

    if (status === 404) {
      await response.body.dump();
      return undefined;
    }

    if (status !== 200) {
      await response.body.dump();
      const hint =
        status === 401 || status === 403 ? '; a gated model needs a token (HF_TOKEN)' : '';
      throw new TokenizerDownloadError(
        `download of ${url} failed with HTTP ${status}${hint}`,
        url,
        status,
      );
    }

    const body = await readLimited(response.body, url, signal, timeoutMs);
    return { body, commit };
  }

  throw new TokenizerDownloadError(
    `download of ${url} exceeded ${MAX_REDIRECTS} redirects`,
    url,
    undefined,
  );
}

async function readLimited(
  body: AsyncIterable<Buffer>,
  url: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let totalBytes = 0;
  try {
    for await (const chunk of body) {
      totalBytes += chunk.length;
      if (totalBytes > MAX_FILE_BYTES) {
        throw new TokenizerDownloadError(`${url} is larger than ${MAX_FILE_BYTES} bytes`, url, 200);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof TokenizerDownloadError) throw error;
    const reason = signal.aborted ? `timed out after ${timeoutMs} ms` : describeCause(error);
    throw new TokenizerDownloadError(`download of ${url} failed: ${reason}`, url, 200, {
      cause: error,
    });
  }
  return Buffer.concat(chunks);
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
async function writeFileAtomically(path: string, data: Buffer): Promise<void> {
  const temporaryPath = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(temporaryPath, data);
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function describeCause(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
