export { Coordinator, ConfigFileError, newTaskId, type RunTaskOptions } from './coordinator.ts';
export { DataError } from './data.ts';
export { DatasetError } from './datasets/index.ts';
export { AgentTaskError } from './errors.ts';
export { PreflightError, type PreflightResult } from './preflight.ts';
export {
  ResultsDirError,
  prepareResultsDir,
  writeResults,
  type LlmSummary,
  type TaskSummary,
} from './results.ts';
export type { TaskProgress } from './task.ts';
export type { WindowRow } from './aggregator.ts';
