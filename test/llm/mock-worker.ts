/**
 * Worker-thread entry that runs the mock server on its own event loop, so a load test's
 * client does not slow the server it measures. Messages: `stats` and `close`.
 */
import { parentPort, workerData } from 'node:worker_threads';

import type { MockLlmOptions } from '../../src/mockllm/options.ts';
import { startMockLlm } from '../../src/mockllm/server.ts';

const port = parentPort!;
const server = await startMockLlm(workerData as MockLlmOptions);
port.postMessage({ type: 'started', url: server.url });

port.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    port.postMessage({ type: 'stats', stats: server.stats() });
  } else if (message.type === 'close') {
    void server.close().then(() => {
      port.postMessage({ type: 'closed' });
      port.close();
    });
  }
});
