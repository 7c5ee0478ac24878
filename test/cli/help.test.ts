import { describe, expect, it } from 'vitest';

import { runCli } from '../support/loadmesh-cli.ts';

describe('loadmesh help', () => {
  it.concurrent.each([
    ['run', 'Usage: loadmesh run [TASK.json] [flags]'],
    ['mock-llm', 'Usage: loadmesh mock-llm [flags]'],
    ['agent', 'Usage: loadmesh agent --nats URLS'],
    ['coordinator', 'Usage: loadmesh coordinator --nats URLS'],
    ['stop', 'Usage: loadmesh ls|desc|stop [NAME] --nats URLS'],
    ['update', 'Usage: loadmesh update NAME --nats URLS CHANGE'],
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

  it.concurrent.each([
    [
      ['-Doptional.agentCount=2'],
      '-Doptional.agentCount: only optional.concurrency and optional.qps',
    ],
    [['-Doptional.qps=fast'], '-Doptional.qps=fast: not a number'],
    [[], 'no change given'],
  ])('rejects update %j', async (change, message) => {
    // Port 1 has no NATS: each of these fails before it connects.
    const result = await runCli(['update', 'task', '--nats', 'nats://127.0.0.1:1', ...change]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('rejects a NATS URL of another scheme', async () => {
    const result = await runCli(['ls', '--nats', 'http://127.0.0.1:4222']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      '--nats http://127.0.0.1:4222 has scheme http://, which NATS does not use',
    );
  });

  it('rejects a flag that is not a number', async () => {
    const result = await runCli(['agent', '--nats', 'nats://127.0.0.1:1', '--processes', 'abc']);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'error: --processes "abc" is not a number. Fix: give e.g. --processes 10\n',
    );
  });

  it('rejects an unknown command', async () => {
    const result = await runCli(['help', 'deploy']);

    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('error: unknown command "deploy"');
  });
});
