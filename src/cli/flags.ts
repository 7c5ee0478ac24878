import type { parseArgs } from 'node:util';
import { LOG_LEVELS } from '../log.ts';
import { NATS_OPTIONS } from './nats-flags.ts';
import { UsageError, durationFlagSec, numberFlag, parseDefine, setPath } from './overrides.ts';

export const RUN_HELP = `Usage: loadmesh run [TASK.json] [flags]

Runs a stress test on this machine (coordinator and agents embedded), prints a summary and
writes summary.json to a results folder. Flags override the task file.

Target and data:
  --url URL              service.url: the service's http(s) address; for LLM tasks the
                         server's base URL (/v1/chat/completions is appended) or the full path
  --method METHOD        http.method (default: POST with a body, GET without)
  --header "Name: value" add an HTTP header (repeatable)
  --data-base64 B64      data.content: one request body, base64-encoded
  --data-path PATHS      data.path: files, http(s) URLs or .zip, comma-separated
  --multi-line           data.multiLine: one request per line of each file
  --timeout MS           http.timeout: per-request timeout in milliseconds (default 20000)
  --ca-file FILE         http.caFile: PEM file of the CA that signed the target's certificate
  --insecure             http.insecure: accept any certificate

LLM (any of these makes an LLM task):
  --endpoint chat|completions   OpenAI endpoint (default chat)
  --model-id ID          llm.modelId: Hugging Face or ModelScope id; loads the tokenizer
                         (default: the model name)
  --model-name NAME      llm.modelName: the request's "model" (default: the model id)
  --tokenizer PATH       llm.tokenizer: tokenizer.json or its folder (default: searched by id)
  --dataset NAME         sharegpt, random or custom (default: sharegpt with a .json path,
                         custom with .jsonl, random without a path)
  --dataset-path PATH    ShareGPT JSON file or URL, or custom JSONL file
  --input-len N          random dataset: prompt tokens (default 1024)
  --output-len N         random dataset: output tokens (default 128)
  --range-ratio R        random dataset: lengths vary by +-R (default 0)
  --prefix-len N         random dataset: shared prefix tokens (default 0)
  --mode MODE            LLM: concurrency, rate or throughput; HTTP: manual, rate, scan, auto
  --continuous           loop over the dataset until the duration ends
  --ignore-eos           send ignore_eos: true so the server generates max_tokens
  --no-usage             do not send stream_options.include_usage (for servers that reject it)
  --api-key KEY          sent as "Authorization: Bearer KEY" (default: $OPENAI_API_KEY)
  --slo LIST             goodput objectives, e.g. ttft=500ms,tpot=50ms,e2e=10s (a bare
                         number is in ms, as in vLLM's --goodput)

Load:
  --concurrency N        requests in flight per agent (default 2)
  --agents N             optional.agentCount: agents, each in its own thread (default 1)
  --rate QPS             open loop at QPS requests per second overall
  --burstiness B         gamma shape of arrivals: 1 is Poisson, lower is burstier (default 1)
  --seed N               seed of arrivals and datasets, 0 to 4294967295 (default 0)
  --max-qps QPS          optional.maxQPS: rate cap in any mode
  --duration TIME        maximum duration: seconds, or with ms, s, m, h (default 600)
  --requests N           total requests, then stop (LLM default: each prompt once)
  -D key=value           set any config key, e.g. -Doptional.drainTimeout=5000

Cluster:
  --nats URLS            run on a cluster: send the task to the coordinator on this NATS
                         (see loadmesh help coordinator for the other NATS flags)

Output:
  --out DIR              results folder (default results/TASK-ID)
  --save-requests        also write requests.jsonl: one line per request with its timings
  --no-preflight         skip the single check request before the load
  --quiet                no progress line
  --log-level LEVEL      ${LOG_LEVELS.join(', ')} (default warn); logs go to stderr

Exit codes: 0 ran, 1 ran but no request succeeded, 2 could not run, 3 internal error.`;

export const RUN_OPTIONS = {
  ...NATS_OPTIONS,
  url: { type: 'string' },
  method: { type: 'string' },
  header: { type: 'string', multiple: true },
  'data-base64': { type: 'string' },
  'data-path': { type: 'string' },
  'multi-line': { type: 'boolean' },
  timeout: { type: 'string' },
  'ca-file': { type: 'string' },
  insecure: { type: 'boolean' },
  endpoint: { type: 'string' },
  'model-id': { type: 'string' },
  'model-name': { type: 'string' },
  tokenizer: { type: 'string' },
  dataset: { type: 'string' },
  'dataset-path': { type: 'string' },
  'input-len': { type: 'string' },
  'output-len': { type: 'string' },
  'range-ratio': { type: 'string' },
  'prefix-len': { type: 'string' },
  mode: { type: 'string' },
  continuous: { type: 'boolean' },
  'ignore-eos': { type: 'boolean' },
  'no-usage': { type: 'boolean' },
  'api-key': { type: 'string' },
  slo: { type: 'string' },
  concurrency: { type: 'string' },
  agents: { type: 'string' },
  rate: { type: 'string' },
  burstiness: { type: 'string' },
  seed: { type: 'string' },
  'max-qps': { type: 'string' },
  duration: { type: 'string' },
  requests: { type: 'string' },
  D: { type: 'string', short: 'D', multiple: true },
  out: { type: 'string' },
  'save-requests': { type: 'boolean' },
  'no-preflight': { type: 'boolean' },
  quiet: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type RunValues = ReturnType<
  typeof parseArgs<{ options: typeof RUN_OPTIONS; allowPositionals: true }>
>['values'];

const LLM_FLAGS: [keyof RunValues, string][] = [
  ['endpoint', 'llm.endpoint'],
  ['model-id', 'llm.modelId'],
  ['model-name', 'llm.modelName'],
  ['tokenizer', 'llm.tokenizer'],
  ['dataset', 'llm.dataset'],
  ['dataset-path', 'llm.datasetPath'],
];

const LLM_NUMBER_FLAGS: [keyof RunValues, string][] = [
  ['input-len', 'llm.inputLength'],
  ['output-len', 'llm.outputLength'],
  ['range-ratio', 'llm.rangeRatio'],
  ['prefix-len', 'llm.prefixLength'],
];

/** Applies command-line flags to a raw task config before validation. */
export function applyFlags(
  raw: Record<string, unknown>,
  values: RunValues,
  env: NodeJS.ProcessEnv,
): void {
  const set = (path: string, value: unknown): void => setPath(raw, path, value);
  const llm = raw.llm !== undefined || isLlmCommandLine(values);

  if (values.url !== undefined) set('service.url', values.url);
  if (values.method !== undefined) set('http.method', values.method.toUpperCase());
  if (values.header !== undefined)
    set('http.headers', { ...headersOf(raw), ...parseHeaderFlags(values.header) });
  if (values['data-base64'] !== undefined) set('data.content', values['data-base64']);
  if (values['data-path'] !== undefined) set('data.path', values['data-path']);
  if (values['multi-line']) set('data.multiLine', true);
  if (values.timeout !== undefined) set('http.timeout', numberFlag('timeout', values.timeout));
  if (values['ca-file'] !== undefined) set('http.caFile', values['ca-file']);
  if (values.insecure) set('http.insecure', true);

  for (const [flag, path] of LLM_FLAGS) if (values[flag] !== undefined) set(path, values[flag]);
  for (const [flag, path] of LLM_NUMBER_FLAGS) {
    if (values[flag] !== undefined) set(path, numberFlag(flag, values[flag] as string));
  }
  if (values.continuous) set('llm.continuous', true);
  if (values['ignore-eos']) set('llm.ignoreEos', true);
  if (values['no-usage']) set('llm.includeUsage', false);
  if (values.slo !== undefined) for (const [key, ms] of parseSlo(values.slo)) set(`llm.${key}`, ms);
  if (values.mode !== undefined) set(llm ? 'llm.mode' : 'optional.mode', values.mode);

  const apiKey = values['api-key'] ?? (llm ? env.OPENAI_API_KEY : undefined);
  if (apiKey) set('http.headers', { ...headersOf(raw), Authorization: `Bearer ${apiKey}` });

  if (values.concurrency !== undefined)
    set('optional.concurrency', numberFlag('concurrency', values.concurrency));
  if (values.agents !== undefined) set('optional.agentCount', numberFlag('agents', values.agents));
  if (values.rate !== undefined) {
    if (values.mode !== undefined && values.mode !== 'rate')
      throw new UsageError(
        `--mode ${values.mode} conflicts with --rate ${values.rate}, which sets rate mode. Fix: drop --mode, or drop --rate`,
      );
    if (llm) set('llm.mode', 'rate');
    else set('optional.mode', 'rate');
    set('optional.qps', numberFlag('rate', values.rate));
  }
  if (values.burstiness !== undefined)
    set('optional.burstiness', numberFlag('burstiness', values.burstiness));
  if (values.seed !== undefined) set('optional.seed', numberFlag('seed', values.seed));
  if (values['max-qps'] !== undefined)
    set('optional.maxQPS', numberFlag('max-qps', values['max-qps']));
  if (values.duration !== undefined)
    set('optional.duration', durationFlagSec('duration', values.duration));
  if (values.requests !== undefined)
    set('optional.requestCount', numberFlag('requests', values.requests));
  for (const define of values.D ?? []) set(...parseDefine(define));
}

function isLlmCommandLine(values: RunValues): boolean {
  const flags: (keyof RunValues)[] = [
    ...LLM_FLAGS.map(([flag]) => flag),
    ...LLM_NUMBER_FLAGS.map(([flag]) => flag),
    'continuous',
    'ignore-eos',
    'no-usage',
    'slo',
  ];
  return flags.some((flag) => values[flag] !== undefined);
}

function headersOf(raw: Record<string, unknown>): Record<string, string> {
  return (raw.http as { headers?: Record<string, string> } | undefined)?.headers ?? {};
}

function parseHeaderFlags(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new UsageError(
        `--header ${JSON.stringify(line)} is not "Name: value". Fix: write e.g. --header "X-Tenant: a"`,
      );
    }
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

const SLO_KEYS: Record<string, string> = { ttft: 'sloTtftMs', tpot: 'sloTpotMs', e2e: 'sloE2eMs' };

/** Parses `ttft=500ms,tpot=50ms,e2e=2s` into llm SLO keys in milliseconds. */
export function parseSlo(text: string): [string, number][] {
  return text.split(',').map((part) => {
    const match = /^\s*(\w+)\s*=\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(part);
    const key = match ? SLO_KEYS[match[1]!.toLowerCase()] : undefined;
    if (!match || !key) {
      throw new UsageError(
        `--slo ${JSON.stringify(part)} is not an objective. Fix: write e.g. --slo ttft=500ms,tpot=50ms,e2e=10s (units ms or s)`,
      );
    }
    return [key, Number(match[2]) * (match[3] === 's' ? 1000 : 1)];
  });
}
