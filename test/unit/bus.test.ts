import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MemoryBus,
  PortBus,
  RequestTimeoutError,
  bridgePort,
  subjectMatches,
  type Bus,
} from '../../src/bus/index.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);
const text = (data: Uint8Array) => decoder.decode(data);

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** Creates a MemoryBus and a PortBus bridged to it over a MessageChannel, as an agent thread uses it. */
function bridged(): { hub: MemoryBus; remote: PortBus } {
  const hub = new MemoryBus();
  const { port1, port2 } = new MessageChannel();
  bridgePort(hub, port1);
  const remote = new PortBus(port2);
  closers.push(
    () => remote.close(),
    () => hub.close(),
  );
  return { hub, remote };
}

function collect(bus: Bus, subject: string, options?: { queue?: string }): string[] {
  const received: string[] = [];
  bus.subscribe(subject, (m) => received.push(`${m.subject}=${text(m.data)}`), options);
  return received;
}

describe('subjectMatches', () => {
  it.each([
    ['lm.task.1.window', 'lm.task.1.window', true],
    ['lm.task.*.assign', 'lm.task.abc.assign', true],
    ['lm.task.*.assign', 'lm.task.abc.control', false],
    ['lm.task.*', 'lm.task.a.b', false],
    ['lm.>', 'lm.task.a.b', true],
    ['lm.>', 'lm', false],
    ['lm.task', 'lm.task.a', false],
  ])('%s against %s is %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});

describe.each([
  ['MemoryBus', () => ({ publisher: new MemoryBus(), subscriber: undefined as Bus | undefined })],
  [
    'PortBus',
    () => {
      const { hub, remote } = bridged();
      return { publisher: hub as Bus, subscriber: remote as Bus | undefined };
    },
  ],
])('%s', (_name, make) => {
  function pair(): { pub: Bus; sub: Bus } {
    const { publisher, subscriber } = make();
    if (!subscriber) closers.push(() => publisher.close());
    return { pub: publisher, sub: subscriber ?? publisher };
  }

  it('delivers to wildcard subscribers', async () => {
    const { pub, sub } = pair();
    const received = collect(sub, 'lm.task.*.assign');
    await sub.flush();

    pub.publish('lm.task.a.assign', bytes('one'));
    pub.publish('lm.task.b.control', bytes('two'));
    await pub.flush();
    await sub.flush();
    expect(received).toEqual(['lm.task.a.assign=one']);
  });

  it('queue group delivers each message once', async () => {
    const { pub, sub } = pair();
    const first = collect(sub, 'work', { queue: 'workers' });
    const second = collect(sub, 'work', { queue: 'workers' });
    const plain = collect(sub, 'work');
    await sub.flush();

    for (let i = 0; i < 10; i++) pub.publish('work', bytes(String(i)));
    await pub.flush();
    await sub.flush();
    expect(first.length + second.length).toBe(10);
    expect(first.length).toBeGreaterThan(0);
    expect(second.length).toBeGreaterThan(0);
    expect(plain).toHaveLength(10);
  });

  it('request gets the reply', async () => {
    const { pub, sub } = pair();
    sub.subscribe('lm.ctl.echo', (m) => sub.publish(m.reply!, bytes(`echo ${text(m.data)}`)));
    await sub.flush();

    const reply = await pub.request('lm.ctl.echo', bytes('hi'), { timeoutMs: 2_000 });
    expect(text(reply)).toBe('echo hi');
  });

  it('request without a responder times out', async () => {
    const { pub } = pair();
    await expect(
      pub.request('lm.ctl.nobody', bytes('x'), { timeoutMs: 50 }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  it('unsubscribe stops delivery', async () => {
    const { pub, sub } = pair();
    const received: string[] = [];
    const subscription = sub.subscribe('topic', (m) => received.push(text(m.data)));
    await sub.flush();
    pub.publish('topic', bytes('before'));
    await pub.flush();
    await sub.flush();

    subscription.unsubscribe();
    await sub.flush();
    pub.publish('topic', bytes('after'));
    await pub.flush();
    await sub.flush();
    expect(received).toEqual(['before']);
  });
});

describe('PortBus', () => {
  it('publishes from the thread side to the hub', async () => {
    const { hub, remote } = bridged();
    const received = collect(hub, 'lm.task.t.window');

    remote.publish('lm.task.t.window', bytes('w1'));
    await remote.flush();
    await hub.flush();
    expect(received).toEqual(['lm.task.t.window=w1']);
  });
});
