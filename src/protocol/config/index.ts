export * from './types.ts';
export * from './problems.ts';
export { parseTaskConfig } from './validate.ts';
export { SECTIONS, UINT32_MAX } from './schema.ts';
