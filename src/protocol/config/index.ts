export * from './types.ts';
export * from './problems.ts';
export { parseTaskConfig } from './validate.ts';
export { MAX_QPS_PER_AGENT, SECTIONS, UINT32_MAX } from './schema.ts';
