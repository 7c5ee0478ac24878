// Entry of an agent worker thread: TypeScript sources need tsx's loader in every thread.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
