/**
 * Child-process entry that runs the mock LLM server on its own event loop, so that neither
 * the test's client nor loadmesh slows the server that they measure. Started by
 * startMockProcess with a MockProcessConfig as JSON in argv[2]. Over IPC it sends
 * `{ type: 'started', url }`, replies to `stats` with `{ type: 'stats', stats }` (a
 * MockProcessStats), and exits after `close`.
 */
import { subscribe } from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';

import { Tokenizer } from '@huggingface/tokenizers';

import type { MockLlmOptions } from '../../src/mockllm/options.ts';
import { startMockLlm, type MockLlmStats } from '../../src/mockllm/server.ts';

export interface MockProcessConfig {
  options: MockLlmOptions;
  /**
   * Path of a tokenizer.json. The mock reports this tokenizer's count of the prompt text,
   * without special tokens, as usage.prompt_tokens. Without it the mock counts words.
   */
  promptTokenizerPath?: string;
}

export interface MockProcessStats extends MockLlmStats {
  /** TCP connections that the mock accepted since it started. */
  acceptedConnections: number;
}

const send = (message: unknown): void => {
  process.send?.(message);
};

const config = JSON.parse(process.argv[2] ?? '{}') as MockProcessConfig;
const options: MockLlmOptions = { ...config.options };
if (config.promptTokenizerPath !== undefined) {
  const tokenizerJson = JSON.parse(await readFile(config.promptTokenizerPath, 'utf8')) as object;
  const tokenizer = new Tokenizer(tokenizerJson, {});
  options.countPromptTokens = (text) =>
    tokenizer.encode(text, { add_special_tokens: false }).ids.length;
}

// Node publishes every socket that a net server accepts on this channel, so the count
// needs no change to the mock. The mock is the only server in this process.
let acceptedConnections = 0;
subscribe('net.server.socket', () => {
  acceptedConnections += 1;
});

const server = await startMockLlm(options);
send({ type: 'started', url: server.url });

process.on('message', (message: { type?: string }) => {
  if (message.type === 'stats') {
    const stats: MockProcessStats = { ...server.stats(), acceptedConnections };
    send({ type: 'stats', stats });
  } else if (message.type === 'close') {
    void server.destroy().then(() => process.exit(0));
  }
});

// The IPC channel closes when the parent exits, and the mock must not outlive the parent.
process.on('disconnect', () => process.exit(0));
