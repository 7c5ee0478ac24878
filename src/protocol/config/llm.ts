import type { ConfigProblem } from './problems.ts';
import { LLM_LOAD_KEYS, LLM_SECTION } from './llm-schema.ts';
import type { SectionSpec } from './schema.ts';
import type { LlmConfig, TaskConfig } from './types.ts';

type Json = Record<string, unknown>;
type ParseSection = (section: string, raw: unknown, fields: SectionSpec) => Json;

/**
 * Parses the `llm` section and moves its load keys onto `optional` and `http`, which the
 * agents read for both halves. Returns the LLM-only settings with defaults filled in.
 */
export function parseLlmSection(
  raw: unknown,
  config: TaskConfig,
  parseSection: ParseSection,
): LlmConfig {
  const llm = parseSection('llm', raw, LLM_SECTION);
  const optional = config.optional as unknown as Json;

  for (const [key, target] of Object.entries(LLM_LOAD_KEYS)) {
    if (llm[key] === undefined) continue;
    optional[target.slice('optional.'.length)] = llm[key];
    delete llm[key];
  }
  if (llm.headers !== undefined) {
    config.http.headers = { ...config.http.headers, ...(llm.headers as Record<string, string>) };
    delete llm.headers;
  }

  llm.mode ??= optional.qps !== undefined ? 'rate' : 'concurrency';
  optional.mode = llm.mode === 'rate' ? 'rate' : 'manual';
  llm.endpoint ??= 'chat';
  // Either name serves for both: servers such as vLLM serve a model under its hub id.
  llm.modelId ??= llm.modelName;
  llm.modelName ??= llm.modelId;
  if (llm.dataset === undefined) {
    const path = llm.datasetPath as string | undefined;
    llm.dataset = path === undefined ? 'random' : /\.jsonl$/i.test(path) ? 'custom' : 'sharegpt';
  }
  // A continuous task loops over the data until the duration ends, whatever the count.
  if (llm.continuous === true) delete optional.requestCount;
  return llm as unknown as LlmConfig;
}

export function checkLlmCombinations(config: TaskConfig, problems: ConfigProblem[]): void {
  const llm = config.llm!;

  if (config.data.content !== undefined || config.data.path !== undefined) {
    problems.push({
      path: 'data',
      value: config.data,
      message: 'is set in an LLM task, which builds its requests from llm.dataset',
      fix: 'remove data, or put the requests in a JSONL file and set llm.dataset to custom with llm.datasetPath',
    });
  }
  if ((llm.dataset === 'sharegpt' || llm.dataset === 'custom') && llm.datasetPath === undefined) {
    problems.push({
      path: 'llm.datasetPath',
      value: undefined,
      message: `is missing but llm.dataset is ${llm.dataset}`,
      fix: `set llm.datasetPath (or --dataset-path) to the ${llm.dataset === 'sharegpt' ? 'ShareGPT JSON file or URL' : 'JSONL file'}`,
    });
  }
  // The rate is optional.qps underneath, whose problems name --rate too.
  const qpsReported = problems.some((problem) => problem.path === 'optional.qps');
  if (llm.mode === 'rate' && config.optional.qps === undefined && !qpsReported) {
    problems.push({
      path: 'llm.rate',
      value: undefined,
      message: 'is missing but llm.mode is rate',
      fix: 'set llm.rate (or --rate) to the arrival rate in requests per second',
    });
  }
  if (llm.modelId === undefined) {
    problems.push({
      path: 'llm.modelId',
      value: undefined,
      message: 'is missing',
      fix:
        'set llm.modelId (or --model-id) to the Hugging Face or ModelScope id, e.g. ' +
        'meta-llama/Meta-Llama-3-8B-Instruct, or llm.modelName (or --model-name) to the name the server serves',
    });
  }
  if (llm.mode === 'throughput' && llm.continuous) {
    problems.push({
      path: 'llm.continuous',
      value: true,
      message: 'cannot be used in throughput mode, which sends every request at once',
      fix: 'use mode concurrency or rate for a continuous test',
    });
  }
  if (llm.prefixLength >= llm.inputLength && llm.dataset === 'random') {
    problems.push({
      path: 'llm.prefixLength',
      value: llm.prefixLength,
      message: `is not below llm.inputLength (${llm.inputLength})`,
      fix: 'make the shared prefix shorter than the prompt',
    });
  }
}
