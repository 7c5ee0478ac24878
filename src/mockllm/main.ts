/**
 * Command-line entry of the mock server for demos: `tsx src/mockllm/main.ts --port 8000`.
 * Prints the base URL on stdout, and closes on SIGINT or SIGTERM after in-flight responses end.
 */
import { parseArgs } from 'node:util';

import { MockLlmOptionsError, type MockLlmOptions } from './options.ts';
import { startMockLlm } from './server.ts';

const HELP = `Usage: tsx src/mockllm/main.ts [options]

A mock OpenAI-compatible server (/v1/chat/completions, /v1/completions, /v1/models) that
streams the word " hello" once per token.

Options:
  --host ADDRESS               address to listen on (default 127.0.0.1)
  --port PORT                  port to listen on; 0 picks a free port (default 0)
  --model NAME                 model name to serve (default mock-llm)
  --ttft-ms MS                 time to the first token, in ms (default 50)
  --itl-ms MS                  time between tokens, in ms (default 10)
  --jitter-ms MS               uniform jitter of each chunk's time, in ms (default 0)
  --seed N                     seed of jitter and injected errors, 0..4294967295 (default 0)
  --tokens-per-chunk N         tokens per SSE chunk (default 1)
  --output-tokens N            output length when a request has no max_tokens (default 128)
  --max-model-len N            context length in tokens (default 8192)
  --no-usage                   never report usage
  --error-rate FRACTION        fraction of requests that get HTTP 500 (default 0)
  --mid-stream-error-rate FRACTION
                               fraction of streams that get an error object halfway (default 0)
  --reject-stream-options      reject requests with stream_options with HTTP 400
  --help                       print this help
`;

const EXIT_USAGE = 2;

const NUMBER_OPTIONS = [
  'port',
  'ttft-ms',
  'itl-ms',
  'jitter-ms',
  'seed',
  'tokens-per-chunk',
  'output-tokens',
  'max-model-len',
  'error-rate',
  'mid-stream-error-rate',
] as const;

async function main(): Promise<void> {
  let values: ReturnType<typeof parseCommandLine>;
  try {
    values = parseCommandLine();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
    process.exit(EXIT_USAGE);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }

  const notNumbers = NUMBER_OPTIONS.filter((name) => {
    const value = values[name];
    return value !== undefined && (value.trim() === '' || Number.isNaN(Number(value)));
  });
  if (notNumbers.length > 0) {
    const problems = notNumbers.map((name) => `--${name} is "${values[name]}": expected a number`);
    process.stderr.write(`${problems.join('\n')}\n`);
    process.exit(EXIT_USAGE);
  }

  const options: MockLlmOptions = {
    host: values.host,
    port: toNumber(values.port),
    model: values.model,
    ttftMs: toNumber(values['ttft-ms']),
    interTokenLatencyMs: toNumber(values['itl-ms']),
    jitterMs: toNumber(values['jitter-ms']),
    seed: toNumber(values.seed),
    tokensPerChunk: toNumber(values['tokens-per-chunk']),
    defaultOutputTokens: toNumber(values['output-tokens']),
    maxModelLen: toNumber(values['max-model-len']),
    usage: !values['no-usage'],
    errorRate: toNumber(values['error-rate']),
    midStreamErrorRate: toNumber(values['mid-stream-error-rate']),
    rejectStreamOptions: values['reject-stream-options'],
  };

  let server: Awaited<ReturnType<typeof startMockLlm>>;
  try {
    server = await startMockLlm(options);
  } catch (error) {
    if (!(error instanceof MockLlmOptionsError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stdout.write(`${server.url}\n`);

  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function parseCommandLine() {
  const text = { type: 'string' } as const;
  const flag = { type: 'boolean', default: false } as const;
  return parseArgs({
    strict: true,
    options: {
      host: text,
      port: text,
      model: text,
      'ttft-ms': text,
      'itl-ms': text,
      'jitter-ms': text,
      seed: text,
      'tokens-per-chunk': text,
      'output-tokens': text,
      'max-model-len': text,
      'no-usage': flag,
      'error-rate': text,
      'mid-stream-error-rate': text,
      'reject-stream-options': flag,
      help: flag,
    },
  }).values;
}

/** Converts an option's text, already checked to be numeric, to a number. */
function toNumber(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

await main();
