/**
 * The preflight request against an LLM server that refuses every request of the load: loadmesh
 * stops before the load and names the flag that fixes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { describeRun, makeScratch, runLoadmesh, type Scratch } from '../support/cli-process.ts';
import {
  MODEL_ID,
  MODEL_NAME,
  REPO_ROOT,
  mockTargetFlags,
  promptLines,
  startMockProcess,
  type MockProcess,
} from './support.ts';

let mock: MockProcess;
let scratch: Scratch;
let dataset: string;

beforeAll(async () => {
  mock = await startMockProcess({ ttftMs: 1, interTokenLatencyMs: 1, rejectStreamOptions: true });
  scratch = await makeScratch();
  dataset = await scratch.write('prompts.jsonl', promptLines(5, 4));
});

afterAll(async () => {
  await mock?.close();
  await scratch?.remove();
});

function run(...args: string[]) {
  return runLoadmesh(
    [
      ...mockTargetFlags(mock.url),
      '--dataset',
      'custom',
      '--dataset-path',
      dataset,
      '--requests',
      '5',
      '--out',
      scratch.path('out'),
      '--quiet',
      ...args,
    ],
    { cwd: REPO_ROOT },
  );
}

describe('LLM preflight', () => {
  it('suggests --no-usage when stream_options is rejected', async () => {
    const result = await run('--model-name', MODEL_NAME);

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`error: ${mock.url}/v1/chat/completions responded 400`);
    expect(result.stderr).toContain('stream_options is not supported');
    expect(result.stderr).toContain('Fix: pass --no-usage');
  });

  it('suggests --model-name for an unknown model', async () => {
    const result = await run('--no-usage');

    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('responded 404');
    expect(result.stderr).toContain(`The model \`${MODEL_ID}\` does not exist`);
    expect(result.stderr).toContain(
      `Fix: pass --model-name with a name from ${mock.url}/v1/models`,
    );
  });

  it('runs once both are right', async () => {
    const result = await run('--no-usage', '--model-name', MODEL_NAME);

    expect(result.code, describeRun(result)).toBe(0);
  });
});
