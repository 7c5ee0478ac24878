/**
 * An agent on the in-process bus against a local HTTP server, with the test standing in for the
 * coordinator: it acknowledges windows and, like a restarted coordinator, requests them again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.ts';
import { MemoryBus } from '../../src/bus/index.ts';
import { createLogger } from '../../src/log.ts';
import {
  decodeMessage,
  encodeMessage,
  makeSubjects,
  parseTaskConfig,
  type Message,
} from '../../src/protocol/index.ts';
import { startHttpServer, type TestHttpServer } from '../support/http-server.ts';

const subjects = makeSubjects();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Waits until `check` holds, polling every 20 ms for at most `timeoutMs`. */
async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
}

describe('agent after its task ended', () => {
  it('sends every window again on request', async () => {
    const server: TestHttpServer = await startHttpServer((_request, _body, response) =>
      response.end('ok'),
    );
    cleanups.push(() => server.stop());
    const bus = new MemoryBus();
    cleanups.push(() => bus.close());
    const agent = new Agent({ agentId: 'a1', bus, log: createLogger('silent'), version: 't' });
    agent.start();
    cleanups.push(() => agent.close());

    // The coordinator's side: acknowledge everything, start the task once it is accepted.
    const received: Message[] = [];
    bus.subscribe(subjects.window('t1'), (m) => {
      const message = decodeMessage(m.data);
      received.push(message);
      if (m.reply) bus.publish(m.reply, new Uint8Array(0));
      if (message.type === 'accepted') {
        const start: Message = { type: 'control', taskId: 't1', action: 'start', startInMs: 10 };
        bus.publish(subjects.control('t1'), encodeMessage(start));
      }
    });
    const config = parseTaskConfig({
      service: { url: `${server.url}/` },
      optional: { concurrency: 2, requestCount: 40 },
    });
    const assign: Message = {
      type: 'assign',
      taskId: 't1',
      agentId: 'a1',
      agentIndex: 0,
      agentCount: 1,
      config,
      entries: [{}],
      concurrency: 2,
      requestBudget: 40,
      maxInFlight: 100,
      windowMs: 1_000,
      saveRequests: false,
    };
    bus.publish(subjects.assign('t1'), encodeMessage(assign));
    await until(() => received.some((m) => m.type === 'done'), 10_000);

    const firstWindows = received.filter((m) => m.type === 'window');
    const completed = firstWindows.reduce(
      (sum, m) => sum + (m.type === 'window' ? m.counters.completed : 0),
      0,
    );
    expect(completed).toBe(40);

    // Later, a restarted coordinator requests the task's windows again.
    received.length = 0;
    const resend: Message = { type: 'control', taskId: 't1', action: 'resend' };
    bus.publish(subjects.control('t1'), encodeMessage(resend));
    await until(() => received.some((m) => m.type === 'done'), 5_000);

    expect(received.filter((m) => m.type === 'window')).toEqual(firstWindows);
  }, 20_000);
});
