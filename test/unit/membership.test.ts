import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryBus } from '../../src/bus/index.ts';
import { Membership, type MembershipEvent } from '../../src/coordinator/membership.ts';
import { createLogger } from '../../src/log.ts';
import { encodeMessage, makeSubjects, type AgentHeartbeat } from '../../src/protocol/index.ts';

const subjects = makeSubjects();

function heartbeat(agentId: string, cpuPercent: number): Uint8Array {
  const message: AgentHeartbeat = {
    type: 'heartbeat',
    agentId,
    host: 'h',
    cores: 2,
    cpuPercent,
    freeCapacity: (100 - cpuPercent) / 100,
    version: 't',
    tasks: [],
  };
  return encodeMessage(message);
}

describe('Membership', () => {
  let bus: MemoryBus;
  let membership: Membership;
  let events: MembershipEvent[];

  beforeEach(() => {
    // Heartbeat timing runs on virtual time: the clock, intervals and timeouts are fake.
    vi.useFakeTimers({
      toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'],
    });
    bus = new MemoryBus();
    membership = new Membership(bus, subjects, createLogger('silent'));
    events = [];
    membership.onEvent((event) => events.push(event));
    membership.start();
  });

  afterEach(async () => {
    membership.stop();
    await bus.close();
    vi.useRealTimers();
  });

  /** Sends one heartbeat a second from each agent for `seconds`, as live agents do. */
  async function beat(agents: Record<string, number>, seconds: number): Promise<void> {
    for (let s = 0; s < seconds; s++) {
      for (const [agentId, cpu] of Object.entries(agents))
        bus.publish(subjects.agentHeartbeat(agentId), heartbeat(agentId, cpu));
      await bus.flush();
      await vi.advanceTimersByTimeAsync(1_000);
    }
  }

  it('joins agents from heartbeats', async () => {
    await beat({ a: 10, b: 10 }, 1);
    expect(membership.list().map((a) => a.agentId)).toEqual(['a', 'b']);
  });

  it('reports an agent lost after 3 silent seconds', async () => {
    await beat({ a: 10, b: 10 }, 2);
    await beat({ a: 10 }, 2);
    expect(events.filter((e) => e.type === 'lost')).toEqual([]);

    await beat({ a: 10 }, 2);
    const lost = events.filter((e) => e.type === 'lost');
    expect(lost.map((e) => e.agent.agentId)).toEqual(['b']);
    expect(membership.list().map((a) => a.agentId)).toEqual(['a']);
  });

  it('passes on load and free capacity', async () => {
    await beat({ busy: 80, calm: 20 }, 2);

    const loads = events.filter((e) => e.type === 'load');
    expect(loads.map((e) => [e.agent.agentId, e.cpuPercent])).toEqual([
      ['busy', 80],
      ['calm', 20],
      ['busy', 80],
      ['calm', 20],
    ]);
    const capacity = membership.list().map((a) => [a.agentId, a.freeCapacity]);
    expect(capacity).toEqual([
      ['busy', 0.2],
      ['calm', 0.8],
    ]);
  });
});

describe('Membership stalls', () => {
  it('forgives silence while the coordinator was busy', async () => {
    const bus = new MemoryBus();
    const membership = new Membership(bus, subjects, createLogger('silent'));
    const events: MembershipEvent[] = [];
    membership.onEvent((event) => events.push(event));
    membership.start();
    bus.publish(subjects.agentHeartbeat('a'), heartbeat('a', 10));
    await bus.flush();

    // Block this thread for 3.5 s, as loading a large dataset does; then let timers run.
    const blockedUntil = performance.now() + 3_500;
    while (performance.now() < blockedUntil);
    await new Promise((resolve) => setTimeout(resolve, 600));

    expect(events.filter((e) => e.type === 'lost')).toEqual([]);
    membership.stop();
    await bus.close();
  });
});
