/**
 * Task configuration as users write it. Key names follow the JSON that users of managed
 * stress-testing services already write, so units are stated here: `http.timeout` is in
 * milliseconds, `optional.duration` and `optional.adjustInterval` in seconds, `maxRT` in ms.
 */

/** manual: fixed concurrency per agent (closed loop); rate: open loop at `qps`. */
export type LoadMode = 'manual' | 'rate' | 'scan' | 'auto';

export const LOAD_MODES: readonly LoadMode[] = ['manual', 'rate', 'scan', 'auto'];

export type FaultAction = 'stop' | 'hold';

export const FAULT_ACTIONS: readonly FaultAction[] = ['stop', 'hold'];

export interface ServiceConfig {
  /** Name shown in lists and reports; defaults to the URL's host and path. */
  serviceName?: string;
  url: string;
}

export interface DataConfig {
  /** One request body, base64-encoded. */
  content?: string;
  /** Local files, http(s) URLs or .zip archives, comma-separated. */
  path?: string;
  /** Split each file into one entry per line instead of one entry per file. */
  multiLine: boolean;
}

export interface HttpConfig {
  /** POST when the entry has a body, GET otherwise, unless set. */
  method?: string;
  headers: Record<string, string>;
  /** Per-request timeout in milliseconds. */
  timeout: number;
  /** PEM file of the certificate authority that signed the target's certificate. */
  caFile?: string;
  /** Accept any certificate of an HTTPS target. */
  insecure: boolean;
}

export interface OptionalConfig {
  mode: LoadMode;
  /** Seconds; the task ends then even when `requestCount` is not reached. */
  duration: number;
  /** Total requests over all agents; the task ends when all have responses. */
  requestCount?: number;
  agentCount: number;
  /** Requests in flight per agent in manual mode. */
  concurrency: number;
  /** Target arrival rate of the whole task in rate mode, requests per second. */
  qps?: number;
  /** Shape of the gamma arrival process: 1 is Poisson, lower is burstier, higher is more even. */
  burstiness: number;
  seed: number;
  /** Requests per second that no mode exceeds. */
  maxQPS?: number;
  /** p99 response time limit in milliseconds for scan and auto. */
  maxRT?: number;
  minQPS: number;
  qpsGrowthDelta: number;
  adjustInterval: number;
  /** Fraction of failed requests that scan and auto tolerate. */
  faultTolerate: number;
  faultAction?: FaultAction;
  /** Milliseconds that in-flight requests get to finish when the task stops; defaults to `http.timeout`. */
  drainTimeout: number;
}

export interface TaskConfig {
  name: string;
  service: ServiceConfig;
  data: DataConfig;
  http: HttpConfig;
  optional: OptionalConfig;
  llm?: LlmConfig;
}

export type LlmEndpoint = 'chat' | 'completions';

export const LLM_ENDPOINTS: readonly LlmEndpoint[] = ['chat', 'completions'];

export type LlmDataset = 'sharegpt' | 'random' | 'custom';

export const LLM_DATASETS: readonly LlmDataset[] = ['sharegpt', 'random', 'custom'];

/** concurrency: closed loop; rate: open loop; throughput: every request released at once. */
export type LlmMode = 'concurrency' | 'rate' | 'throughput';

export const LLM_MODES: readonly LlmMode[] = ['concurrency', 'rate', 'throughput'];

/**
 * The LLM part of a task: an OpenAI-compatible streaming endpoint, its dataset and tokenizer.
 * Load keys given here (concurrency, rate, requestCount, duration, burstiness, seed, headers)
 * are copied onto `optional` and `http` at parse time, so both halves run one code path.
 */
export interface LlmConfig {
  endpoint: LlmEndpoint;
  /** Hugging Face or ModelScope id; loads the tokenizer. */
  modelId: string;
  /** The request's `model`; defaults to modelId. */
  modelName: string;
  /** tokenizer.json file or a folder with it; searched for by modelId when absent. */
  tokenizer?: string;
  dataset: LlmDataset;
  /** ShareGPT JSON file or URL, or a custom JSONL file. */
  datasetPath?: string;
  /** Random dataset: prompt and output lengths in tokens, spread by rangeRatio, with a shared prefix. */
  inputLength: number;
  outputLength: number;
  rangeRatio: number;
  prefixLength: number;
  /** ShareGPT filter bounds in tokens: shorter or longer pairs are skipped. */
  minSequenceTokens: number;
  maxPromptTokens: number;
  maxTotalTokens: number;
  mode: LlmMode;
  /** Loop over the dataset until the duration ends instead of stopping after requestCount. */
  continuous: boolean;
  ignoreEos: boolean;
  /** Send `stream_options.include_usage`; turn off for servers that reject it. */
  includeUsage: boolean;
  /** Service-level objectives in milliseconds; a request meeting all given ones counts as goodput. */
  sloTtftMs?: number;
  sloTpotMs?: number;
  sloE2eMs?: number;
}
