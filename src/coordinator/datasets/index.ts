import { resolve } from 'node:path';
import { loadTokenizer, type LlmTokenizer } from '../../llm/tokenizer.ts';
import type { LlmConfig, RequestEntry, TaskConfig } from '../../protocol/index.ts';
import { readSourceBytes } from '../data.ts';
import { readCustomJsonl } from './custom.ts';
import { DatasetError, type PromptSample } from './prompt.ts';
import { generateRandomPrompts } from './random.ts';
import { sampleShareGpt } from './sharegpt.ts';

export { DatasetError } from './prompt.ts';

/** Prompts a random dataset makes when the task gives no request count, as vLLM's benchmark does. */
const DEFAULT_RANDOM_PROMPTS = 1000;

export interface LlmRequests {
  /** The config with the endpoint URL and the request count filled in. */
  config: TaskConfig;
  entries: RequestEntry[];
  tokenizer: LlmTokenizer;
}

/**
 * Loads the tokenizer and the dataset of an LLM task and turns each prompt into an OpenAI
 * streaming request body. Without a request count, a task sends each prompt once, unless
 * it is continuous.
 */
export async function buildLlmRequests(config: TaskConfig, baseDir: string): Promise<LlmRequests> {
  const llm = config.llm!;
  const tokenizer = await loadTokenizer({
    modelId: llm.modelId,
    tokenizerPath: llm.tokenizer === undefined ? undefined : resolve(baseDir, llm.tokenizer),
    cwd: baseDir,
  });

  const samples = await loadSamples(config, baseDir, tokenizer);
  const entries = samples.map((sample) => toEntry(sample, llm));
  const optional = { ...config.optional };
  if (!llm.continuous) optional.requestCount ??= samples.length;

  const resolved: TaskConfig = {
    ...config,
    service: { ...config.service, url: endpointUrl(config.service.url, llm) },
    optional,
    llm: { ...llm, tokenizer: tokenizer.files.tokenizerPath },
  };
  return { config: resolved, entries, tokenizer };
}

async function loadSamples(
  config: TaskConfig,
  baseDir: string,
  tokenizer: LlmTokenizer,
): Promise<PromptSample[]> {
  const llm = config.llm!;
  const { seed, requestCount } = config.optional;

  if (llm.dataset === 'random') {
    return generateRandomPrompts(tokenizer, {
      count: requestCount ?? DEFAULT_RANDOM_PROMPTS,
      inputLength: llm.inputLength,
      outputLength: llm.outputLength,
      rangeRatio: llm.rangeRatio,
      prefixLength: llm.prefixLength,
      seed,
    });
  }

  const source = llm.datasetPath!;
  const bytes = await readSourceBytes('llm.datasetPath', source, {
    baseDir,
    downloadTimeoutMs: 300_000,
  });
  const text = bytes.toString('utf8');
  if (llm.dataset === 'custom') return readCustomJsonl(text, source, tokenizer);
  return sampleShareGpt(text, source, tokenizer, llm, {
    count: llm.continuous ? undefined : requestCount,
    seed,
  });
}

function toEntry(sample: PromptSample, llm: LlmConfig): RequestEntry {
  const body = sample.body ?? requestBody(sample, llm);
  return {
    body: new TextEncoder().encode(JSON.stringify(body)),
    contentType: 'application/json',
    inputTokens: sample.inputTokens,
  };
}

function requestBody(sample: PromptSample, llm: LlmConfig): Record<string, unknown> {
  const body: Record<string, unknown> = { model: llm.modelName };
  if (llm.endpoint === 'chat')
    body.messages = sample.messages ?? [{ role: 'user', content: sample.prompt ?? '' }];
  else if (sample.prompt !== undefined) body.prompt = sample.prompt;
  else
    throw new DatasetError(
      'a chat "messages" line cannot be sent to the completions endpoint. Fix: use llm.endpoint chat, or write "prompt" lines',
    );

  if (sample.outputTokens !== undefined) body.max_tokens = sample.outputTokens;
  body.stream = true;
  if (llm.includeUsage) body.stream_options = { include_usage: true };
  if (llm.ignoreEos) body.ignore_eos = true;
  return body;
}

/** Appends the OpenAI path unless the URL already names the endpoint. */
export function endpointUrl(url: string, llm: LlmConfig): string {
  const parsed = new URL(url);
  const path = parsed.pathname.replace(/\/+$/, '');
  if (/\/(chat\/)?completions$/.test(path)) return url;

  const suffix = llm.endpoint === 'chat' ? 'chat/completions' : 'completions';
  parsed.pathname = path.endsWith('/v1') ? `${path}/${suffix}` : `${path}/v1/${suffix}`;
  return parsed.toString();
}
