import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Test hosts in network namespaces made by the test: a bridge on this machine with the hub
 * address, and one namespace per host joined to it by a veth pair. Addresses come from
 * 198.18.0.0/15, the range set aside for network benchmark tests (RFC 2544), so they clash
 * with no real network.
 */
export interface TestNetwork {
  /** Address of this machine on the bridge, where the test's servers listen. */
  hubAddress: string;
  /** Namespace names, one per test host. */
  hosts: string[];
  remove(): Promise<void>;
}

/** Tells whether this process can make network namespaces (root with iproute2). */
export async function canMakeNamespaces(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await run('ip', ['netns', 'list']);
    return true;
  } catch {
    return false;
  }
}

export async function makeTestNetwork(hostCount: number): Promise<TestNetwork> {
  const tag = `${process.pid % 10_000}`;
  const bridge = `lmbr${tag}`;
  const hubAddress = '198.18.0.1';
  const hosts: string[] = [];

  const remove = async (): Promise<void> => {
    for (const ns of hosts) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    await run('ip', ['link', 'del', bridge]).catch(() => undefined);
  };

  try {
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${hubAddress}/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);

    for (let i = 0; i < hostCount; i++) {
      const ns = `lm${tag}h${i}`;
      const outside = `lm${tag}v${i}`;
      await run('ip', ['netns', 'add', ns]);
      hosts.push(ns);
      await run('ip', [
        'link',
        'add',
        outside,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await run('ip', ['link', 'set', outside, 'master', bridge]);
      await run('ip', ['link', 'set', outside, 'up']);
      await run('ip', [
        'netns',
        'exec',
        ns,
        'ip',
        'addr',
        'add',
        `198.18.0.${10 + i}/24`,
        'dev',
        'eth0',
      ]);
      await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'eth0', 'up']);
      await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return { hubAddress, hosts, remove };
}
