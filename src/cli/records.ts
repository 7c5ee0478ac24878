import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RequestRecord } from '../protocol/index.ts';

/** requests.jsonl: one JSON line per request, appended as agents send their records. */
export class RecordFile {
  #stream: WriteStream;
  #closed = false;

  private constructor(stream: WriteStream) {
    this.#stream = stream;
  }

  static async open(path: string): Promise<RecordFile> {
    await mkdir(dirname(path), { recursive: true });
    return new RecordFile(createWriteStream(path));
  }

  write(records: RequestRecord[]): void {
    if (this.#closed) return;
    this.#stream.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolveClose) => this.#stream.end(resolveClose));
  }
}
