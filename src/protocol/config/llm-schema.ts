import type { SectionSpec } from './schema.ts';
import { LLM_DATASETS, LLM_ENDPOINTS, LLM_MODES } from './types.ts';

/**
 * Keys of the `llm` section. The load keys among them (concurrency to headers) are moved onto
 * `optional` and `http` after parsing, so they are not part of LlmConfig.
 */
export const LLM_SECTION: SectionSpec = {
  endpoint: { type: 'string', values: LLM_ENDPOINTS, fix: 'use chat or completions' },
  modelId: {
    type: 'string',
    fix: 'set llm.modelId (or --model-id) to the Hugging Face or ModelScope id, e.g. meta-llama/Meta-Llama-3-8B-Instruct',
  },
  modelName: { type: 'string', fix: 'set the name the server expects in the request\'s "model"' },
  tokenizer: { type: 'string', fix: 'give the path of tokenizer.json or of a folder with it' },
  dataset: { type: 'string', values: LLM_DATASETS, fix: 'use sharegpt, random or custom' },
  datasetPath: {
    type: 'string',
    fix: 'give a ShareGPT JSON file or URL, or a JSONL file of requests',
  },
  inputLength: {
    type: 'integer',
    default: 1024,
    min: 1,
    fix: 'give the prompt length in tokens, e.g. 1024',
  },
  outputLength: {
    type: 'integer',
    default: 128,
    min: 1,
    fix: 'give the output length in tokens, e.g. 128',
  },
  rangeRatio: {
    type: 'number',
    default: 0,
    min: 0,
    max: 0.999,
    fix: 'give a fraction below 1: lengths are drawn from length * (1 - ratio) to length * (1 + ratio)',
  },
  prefixLength: {
    type: 'integer',
    default: 0,
    min: 0,
    fix: 'give the shared prefix length in tokens, or 0',
  },
  minSequenceTokens: {
    type: 'integer',
    default: 4,
    min: 1,
    fix: 'give the shortest prompt or reply kept, in tokens',
  },
  maxPromptTokens: {
    type: 'integer',
    default: 1024,
    min: 1,
    fix: 'give the longest prompt kept, in tokens',
  },
  maxTotalTokens: {
    type: 'integer',
    default: 2048,
    min: 2,
    fix: 'give the longest prompt plus reply kept, in tokens',
  },
  mode: { type: 'string', values: LLM_MODES, fix: 'use concurrency, rate or throughput' },
  concurrency: {
    type: 'integer',
    min: 1,
    max: 1_000_000,
    fix: 'give the number of streams in flight per agent, e.g. 8',
  },
  rate: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    fix: 'give the arrival rate in requests per second, e.g. 4',
  },
  requestCount: { type: 'integer', min: 1, fix: 'give the number of requests, e.g. 200' },
  continuous: { type: 'boolean', default: false, fix: 'use true or false' },
  duration: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    fix: 'give the maximum duration in seconds, e.g. 300',
  },
  burstiness: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    fix: 'use 1 for Poisson arrivals, a value below 1 for burstier, above 1 for more even',
  },
  seed: { type: 'integer', min: 0, max: 2 ** 32 - 1, fix: 'use an integer from 0 to 4294967295' },
  ignoreEos: { type: 'boolean', default: false, fix: 'use true or false' },
  includeUsage: { type: 'boolean', default: true, fix: 'use true or false' },
  headers: {
    type: 'headers',
    fix: 'use an object such as {"X-Tenant": "a"} or a list of "Name: value" strings',
  },
  sloTtftMs: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    fix: 'give the TTFT objective in milliseconds',
  },
  sloTpotMs: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    fix: 'give the TPOT objective in milliseconds',
  },
  sloE2eMs: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    fix: 'give the end-to-end latency objective in milliseconds',
  },
};

/** Keys of `llm` that set the shared load settings, and where they go. */
export const LLM_LOAD_KEYS: Record<string, string> = {
  concurrency: 'optional.concurrency',
  rate: 'optional.qps',
  requestCount: 'optional.requestCount',
  duration: 'optional.duration',
  burstiness: 'optional.burstiness',
  seed: 'optional.seed',
};
