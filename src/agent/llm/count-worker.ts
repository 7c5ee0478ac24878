import { parentPort, workerData } from 'node:worker_threads';
import { loadTokenizer } from '../../llm/tokenizer.ts';
import type { CountReply, CountRequest, CountWorkerData } from './counter.ts';

const data = workerData as CountWorkerData;
const port = parentPort!;

try {
  const tokenizer = await loadTokenizer({
    modelId: data.modelId,
    tokenizerPath: data.tokenizerPath,
  });
  port.on('message', (request: CountRequest) => {
    const reply: CountReply = { id: request.id, count: tokenizer.countTokens(request.text) };
    port.postMessage(reply);
  });
  port.postMessage({ type: 'ready' });
} catch (error) {
  port.postMessage({ type: 'failed', message: (error as Error).message });
}
