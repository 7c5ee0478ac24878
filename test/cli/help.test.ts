import { describe, expect, it } from 'vitest';

import { runCli } from '../support/loadmesh-cli.ts';

describe('loadmesh help', () => {
  it.concurrent.each([
    ['run', 'Usage: loadmesh run [TASK.json] [flags]'],
    ['mock-llm', 'Usage: loadmesh mock-llm [flags]'],
    ['agent', 'Usage: loadmesh agent --nats URLS'],
    ['coordinator', 'Usage: loadmesh coordinator --nats URLS'],
    ['stop', 'Usage: loadmesh ls|desc|stop [NAME] --nats URLS'],
  ])('shows the flags of %s', async (command, usage) => {
    const result = await runCli(['help', command]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.startsWith(usage)).toBe(true);
  });

  it('lists the commands without an argument', async () => {
    const result = await runCli(['help']);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Commands:');
  });

  it('rejects an unknown command', async () => {
    const result = await runCli(['help', 'deploy']);

    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('error: unknown command "deploy"');
  });
});
