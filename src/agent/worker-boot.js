// Entry of every worker thread: TypeScript sources need tsx's loader in each thread, and the
// module that runs comes from workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
