import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Agent, interceptors, request } from 'undici';
import yauzl from 'yauzl';
import type { DataConfig, RequestEntry } from '../protocol/index.ts';

/** A data source that cannot be read or yields no request: names the source and the fix. */
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly code = 'ERR_INVALID_DATA';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export interface LoadDataOptions {
  /** Milliseconds allowed for each http(s) download. */
  downloadTimeoutMs: number;
  /** Folder that relative file paths start from. */
  baseDir: string;
}

/** Follows up to 5 redirects, because presigned object-storage URLs often respond with one. */
const DOWNLOADER = new Agent().compose(interceptors.redirect({ maxRedirections: 5 }));

interface DataFile {
  name: string;
  bytes: Buffer;
}

/** Reads the task's data into request entries: one per file, or one per line with multiLine. */
export async function loadEntries(
  data: DataConfig,
  options: LoadDataOptions,
): Promise<RequestEntry[]> {
  if (data.content !== undefined) {
    const body = Buffer.from(data.content, 'base64');
    if (body.length === 0)
      throw new DataError(
        'data.content decodes to an empty body. Fix: encode a non-empty body, or remove data.content to send GET requests without a body',
      );
    return [toEntry(body)];
  }
  if (data.path === undefined) return [];

  const sources = data.path
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (sources.length === 0)
    throw new DataError(
      `data.path ${JSON.stringify(data.path)} names no file. Fix: give one or more paths or URLs separated by commas`,
    );

  const entries: RequestEntry[] = [];
  for (const source of sources) {
    for (const file of await readSource(source, options)) {
      const bodies = data.multiLine ? splitLines(file.bytes) : [file.bytes];
      if (bodies.length === 0 || bodies.every((b) => b.length === 0)) {
        throw new DataError(
          `data.path: ${file.name} is empty${data.multiLine ? ' or has only blank lines' : ''}. Fix: put at least one request body in it`,
        );
      }
      for (const body of bodies) entries.push(toEntry(body));
    }
  }
  return entries;
}

async function readSource(source: string, options: LoadDataOptions): Promise<DataFile[]> {
  let file: DataFile;
  if (/^https?:\/\//i.test(source))
    file = { name: source, bytes: await download(source, options.downloadTimeoutMs) };
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw new DataError(
      `data.path: ${source} uses a scheme that loadmesh cannot read. Fix: give a local file or an http(s) URL (for object storage, a presigned https URL works)`,
    );
  } else file = { name: source, bytes: await readLocal(source, options.baseDir) };

  return isZip(file) ? unzip(file) : [file];
}

async function readLocal(source: string, baseDir: string, key = 'data.path'): Promise<Buffer> {
  const path = resolve(baseDir, source);
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new DataError(
        `${key}: file ${source} not found (looked at ${path}). Fix: check the path; relative paths start from the task file's folder, or from the current folder when there is no task file`,
        { cause: error },
      );
    if (code === 'EISDIR')
      throw new DataError(
        `${key}: ${source} is a folder. Fix: name the files in it separated by commas, or pack them into a .zip`,
        { cause: error },
      );
    throw new DataError(`${key}: cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function download(url: string, timeoutMs: number, key = 'data.path'): Promise<Buffer> {
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      dispatcher: DOWNLOADER,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `timed out after ${timeoutMs} ms`
        : (error as Error).message;
    throw new DataError(
      `${key}: download of ${url} failed: ${reason}. Fix: check that the URL is reachable from this machine`,
      { cause: error },
    );
  }

  const bytes = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200) {
    throw new DataError(
      `${key}: download of ${url} failed with HTTP status ${response.statusCode}. Fix: check the URL; it must respond 200 with the data`,
    );
  }
  return bytes;
}

/** Reads one local file or http(s) URL; `key` names the config key in error messages. */
export async function readSourceBytes(
  key: string,
  source: string,
  options: LoadDataOptions,
): Promise<Buffer> {
  if (/^https?:\/\//i.test(source)) return download(source, options.downloadTimeoutMs, key);
  return readLocal(source, options.baseDir, key);
}

function isZip(file: DataFile): boolean {
  return (
    file.name.toLowerCase().endsWith('.zip') ||
    file.bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))
  );
}

/** Returns the files of a zip archive in name order, without folders and macOS metadata. */
function unzip(archive: DataFile): Promise<DataFile[]> {
  return new Promise((resolvePromise, reject) => {
    const fail = (error: Error): void =>
      reject(
        new DataError(
          `data.path: ${archive.name} is not a readable zip archive: ${error.message}. Fix: recreate it with zip`,
          { cause: error },
        ),
      );

    yauzl.fromBuffer(archive.bytes, { lazyEntries: true }, (openError, zip) => {
      if (openError || !zip) return fail(openError ?? new Error('no archive'));
      const files: DataFile[] = [];

      zip.on('error', fail);
      zip.on('end', () => {
        files.sort((a, b) => a.name.localeCompare(b.name));
        if (files.length === 0)
          reject(
            new DataError(
              `data.path: ${archive.name} contains no files. Fix: add the request bodies to the archive`,
            ),
          );
        else resolvePromise(files);
      });
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/') || entry.fileName.startsWith('__MACOSX/'))
          return zip.readEntry();
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return fail(streamError ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('error', fail);
          stream.on('end', () => {
            files.push({ name: `${archive.name}:${entry.fileName}`, bytes: Buffer.concat(chunks) });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    let end = i;
    if (end > start && bytes[end - 1] === 0x0d) end -= 1;
    if (end > start) lines.push(bytes.subarray(start, end));
    start = i + 1;
  }
  return lines;
}

/** Guesses the content type a server expects: JSON, UTF-8 text, or bytes. */
export function guessContentType(body: Buffer): string {
  const first = body.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (first === 0x7b || first === 0x5b) return 'application/json';
  if (!body.includes(0) && Buffer.from(body.toString('utf8'), 'utf8').equals(body))
    return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

function toEntry(body: Buffer): RequestEntry {
  return {
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    contentType: guessContentType(body),
  };
}
