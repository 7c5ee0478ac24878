/**
 * An LLM task across a cluster: one `loadmesh agent --processes 2` serves two agents, and the
 * coordinator reads the dataset and tokenizer, as on separate hosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeScratch, type Scratch } from '../support/cli-process.ts';
import { startNats, type NatsServer } from '../support/nats.ts';
import { stopChild } from '../support/nginx.ts';
import { startCli, type CliProcess } from '../support/processes.ts';
import { promptLines, runLlmTask, startMockProcess, type MockProcess } from '../llm-e2e/support.ts';

const OUTPUT_TOKENS = 32;

let nats: NatsServer;
let mock: MockProcess;
let scratch: Scratch;
let coordinator: CliProcess;
let agents: CliProcess;

beforeAll(async () => {
  nats = await startNats();
  mock = await startMockProcess({ ttftMs: 20, interTokenLatencyMs: 2 });
  scratch = await makeScratch();
  coordinator = startCli(['coordinator', '--nats', nats.url, '--log-level', 'info']);
  await coordinator.waitFor('coordinator running');
  agents = startCli(['agent', '--nats', nats.url, '--processes', '2', '--id', 'llm']);
  await coordinator.waitFor('"agentId":"llm-2"');
}, 60_000);

afterAll(async () => {
  if (agents) await stopChild(agents.child, 'SIGTERM');
  if (coordinator) await stopChild(coordinator.child, 'SIGTERM');
  await mock?.close();
  await nats?.stop();
  await scratch?.remove();
});

describe('LLM task over NATS', () => {
  it('streams from two agent processes', async () => {
    const dataset = await scratch.write('prompts.jsonl', promptLines(3, OUTPUT_TOKENS));
    const before = await mock.stats();

    const { summary, llm } = await runLlmTask(mock.url, [
      '--nats',
      nats.url,
      '--agents',
      '2',
      '--dataset',
      'custom',
      '--dataset-path',
      dataset,
      '--concurrency',
      '4',
      '--requests',
      '60',
    ]);

    const after = await mock.stats();
    expect(after.generations - before.generations).toBe(60);
    expect(llm.successfulRequests).toBe(60);
    expect(llm.outputTokens).toBe(60 * OUTPUT_TOKENS);
    expect(llm.outputTokensCountedBy).toEqual({ usage: 60, tokenizer: 0 });
    expect(llm.ttftUs.p50Us).toBeGreaterThanOrEqual(20_000);
    expect(summary.agents.map((a) => [a.agentId, a.sent]).sort()).toEqual([
      ['llm-1', 30],
      ['llm-2', 30],
    ]);
  }, 60_000);
});
