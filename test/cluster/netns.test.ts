import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runTask } from '../support/loadmesh-cli.ts';
import { startNats, type NatsServer } from '../support/nats.ts';
import { startNginx, stopChild, waitForAccessLog, type NginxServer } from '../support/nginx.ts';
import { canMakeNamespaces, makeTestNetwork, type TestNetwork } from '../support/netns.ts';
import { startCli, type CliProcess } from '../support/processes.ts';

const namespaces = await canMakeNamespaces();

let network: TestNetwork;
let nats: NatsServer;
let nginx: NginxServer;
let coordinator: CliProcess;
const agents: ChildProcess[] = [];

beforeAll(async () => {
  if (!namespaces) return;
  network = await makeTestNetwork(2);
  nats = await startNats(network.hubAddress);
  nginx = await startNginx({
    host: network.hubAddress,
    locations: 'location / { return 200 "ok\\n"; }',
  });
  coordinator = startCli(['coordinator', '--nats', nats.url]);
  await coordinator.waitFor('coordinator running');

  // Each agent runs inside its own namespace: its only way out is its veth pair.
  for (const [i, ns] of network.hosts.entries()) {
    const agent = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        CLI,
        'agent',
        '--nats',
        nats.url,
        '--id',
        `ns-agent-${i}`,
      ],
      { stdio: 'ignore' },
    );
    agents.push(agent);
  }
  await coordinator.waitFor('"agentId":"ns-agent-1"');
}, 60_000);

afterAll(async () => {
  for (const agent of agents) await stopChild(agent, 'SIGTERM');
  if (coordinator) await stopChild(coordinator.child, 'SIGTERM');
  await nginx?.stop();
  await nats?.stop();
  await network?.remove();
});

describe('network namespaces in CI', () => {
  // CI runs as root, so there the test below must run: a skip would hide a broken setup.
  it.runIf(process.env.CI === 'true')('can be made', () => {
    expect(namespaces, 'ip netns failed: run as root with iproute2 installed').toBe(true);
  });
});

describe.skipIf(!namespaces)('agents in network namespaces', () => {
  it('reach NATS and the target', async () => {
    const { summary } = await runTask([
      '--nats',
      nats.url,
      '--url',
      `${nginx.url}/`,
      '--requests',
      '400',
      '--concurrency',
      '4',
      '--agents',
      '2',
      '--no-preflight',
    ]);

    expect(summary.totals.ok).toBe(400);
    expect(summary.agents.map((a) => a.agentId).sort()).toEqual(['ns-agent-0', 'ns-agent-1']);
    for (const agent of summary.agents) expect(agent.sent).toBe(200);
    expect(await waitForAccessLog(nginx, 400)).toHaveLength(400);
  }, 60_000);
});
