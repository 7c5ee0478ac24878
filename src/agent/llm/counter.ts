import { Worker } from 'node:worker_threads';

const WORKER_BOOT = new URL('../worker-boot.js', import.meta.url);
const COUNT_WORKER = new URL('./count-worker.ts', import.meta.url).href;

/** Data for the counting thread: its module and where to find the tokenizer. */
export interface CountWorkerData {
  entry: string;
  modelId: string;
  tokenizerPath: string | undefined;
}

export interface CountRequest {
  id: number;
  text: string;
}

export interface CountReply {
  id: number;
  count: number;
}

type CountWorkerMessage = CountReply | { type: 'ready' } | { type: 'failed'; message: string };

interface PendingCount {
  resolve: (count: number) => void;
  reject: (error: Error) => void;
}

/**
 * Counts the tokens of generated text with the model's tokenizer, on a thread of its own. On the
 * agent's thread, each count (about 0.2 ms for 64 tokens) and the collection of its garbage in
 * the tokenizer's large heap held up the timestamps of every other stream.
 */
export class TokenCounter {
  readonly #worker: Worker;
  readonly #pending = new Map<number, PendingCount>();
  #nextId = 0;
  #failure: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (message: CountWorkerMessage) => {
      if (!('id' in message)) return;
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      pending?.resolve(message.count);
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) =>
      this.#fail(new Error(`token counting thread exited (code ${code})`)),
    );
  }

  /** Starts the thread and waits until it has loaded the tokenizer; throws what loading threw. */
  static async start(options: { modelId: string; tokenizerPath?: string }): Promise<TokenCounter> {
    const workerData: CountWorkerData = {
      entry: COUNT_WORKER,
      modelId: options.modelId,
      tokenizerPath: options.tokenizerPath,
    };
    const worker = new Worker(WORKER_BOOT, { workerData });
    worker.unref();

    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (message: CountWorkerMessage) => {
          if ('type' in message && message.type === 'failed') reject(new Error(message.message));
          else resolve();
        });
        worker.once('error', reject);
        worker.once('exit', (code) =>
          reject(new Error(`token counting thread exited (code ${code}) before it was ready`)),
        );
      });
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    return new TokenCounter(worker);
  }

  /** Resolves to the number of tokens in `text`; rejects when the counting thread is gone. */
  count(text: string): Promise<number> {
    if (this.#failure) return Promise.reject(this.#failure);

    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const request: CountRequest = { id, text };
      this.#worker.postMessage(request);
    });
  }

  /** Ends the thread; counts still pending reject. */
  async close(): Promise<void> {
    this.#fail(new Error('token counter closed'));
    await this.#worker.terminate();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
  }
}
