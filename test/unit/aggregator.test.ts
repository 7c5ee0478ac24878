import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../src/coordinator/aggregator.ts';
import { WindowRecorder } from '../../src/agent/recorder.ts';
import type { MetricWindow } from '../../src/protocol/index.ts';

const ids = { taskId: 't', agentId: 'a1' };

/** Records `latenciesMs` as requests that ended in window `tick` and returns that window. */
function windowOf(
  agentId: string,
  tick: number,
  latenciesMs: number[],
  status = 200,
): MetricWindow {
  const recorder = new WindowRecorder(0, 1000);
  for (const latencyMs of latenciesMs) {
    const endMs = tick * 1000 + 500;
    recorder.recordSend(endMs - latencyMs);
    recorder.recordOutcome({
      intendedMs: endMs - latencyMs,
      sentMs: endMs - latencyMs,
      endMs,
      status,
      error: status >= 400 ? 'status' : undefined,
    });
  }
  const windows = recorder.takeWindows(tick + 1, { sent: 0, received: 0 }, { ...ids, agentId });
  return windows.find((w) => w.tick === tick)!;
}

describe('Aggregator', () => {
  it('merges agents by tick', () => {
    const aggregator = new Aggregator();
    aggregator.add(windowOf('a1', 0, [1, 2, 3]));
    aggregator.add(windowOf('a2', 0, [4, 5]));
    aggregator.add(windowOf('a1', 1, [10]));
    aggregator.sealBefore(Infinity);

    const [first, second] = aggregator.rows();
    expect(first!.counters.completed).toBe(5);
    expect(first!.agents).toBe(2);
    expect(first!.latency.rtUs!.maxUs).toBeGreaterThanOrEqual(5000);
    expect(second!.counters.completed).toBe(1);
    expect(aggregator.counters.completed).toBe(6);
    expect(aggregator.totals.rtUs!.totalCount).toBe(6);
  });

  it('keeps totals per agent', () => {
    const aggregator = new Aggregator();
    aggregator.add(windowOf('a1', 0, [1, 2, 3]));
    aggregator.add(windowOf('a2', 0, [4, 5], 503));
    aggregator.add(windowOf('a2', 1, [6], 503));
    aggregator.add(windowOf('a2', 1, [6], 503));

    expect(aggregator.agentTotals('a1')).toEqual({
      sent: 3,
      completed: 3,
      failed: 0,
      errors: {},
      lastTick: 0,
    });
    expect(aggregator.agentTotals('a2')).toEqual({
      sent: 3,
      completed: 3,
      failed: 3,
      errors: { status: 3 },
      lastTick: 1,
    });
  });

  it('merges a window twice only once', () => {
    const aggregator = new Aggregator();
    const window = windowOf('a1', 0, [1, 2]);
    expect(aggregator.add(window)).toBe(true);
    expect(aggregator.add(window)).toBe(false);

    expect(aggregator.counters.completed).toBe(2);
    expect(aggregator.duplicateWindows).toBe(1);
  });

  it('corrects a sealed row with a late window', () => {
    const aggregator = new Aggregator();
    aggregator.add(windowOf('a1', 0, [1, 1, 1]));
    aggregator.sealBefore(5);
    expect(aggregator.row(0)!.latency.rtUs!.maxUs).toBeLessThan(1100);

    aggregator.add(windowOf('a2', 0, [50]));
    const row = aggregator.row(0)!;
    expect(aggregator.lateWindows).toBe(1);
    expect(row.counters.completed).toBe(4);
    expect(row.agents).toBe(2);
    expect(row.latency.rtUs!.maxUs).toBeGreaterThanOrEqual(50_000);
    aggregator.sealBefore(Infinity);
    expect(aggregator.totals.rtUs!.totalCount).toBe(4);
    expect(aggregator.total('rtUs').maxUs).toBeGreaterThanOrEqual(50_000);
  });

  it('fills ticks with no windows', () => {
    const aggregator = new Aggregator();
    aggregator.add(windowOf('a1', 2, [1]));
    const rows = aggregator.rows();
    expect(rows.map((r) => r.counters.completed)).toEqual([0, 0, 1]);
  });
});

describe('WindowRecorder', () => {
  it('keeps transport failures out of latencies', () => {
    const recorder = new WindowRecorder(0, 1000);
    recorder.recordSend(0);
    recorder.recordOutcome({ intendedMs: 0, sentMs: 0, endMs: 300, error: 'timeout' });
    recorder.recordSend(0);
    recorder.recordOutcome({ intendedMs: 0, sentMs: 0, endMs: 5, status: 503, error: 'status' });

    const [window] = recorder.takeWindows(1, { sent: 0, received: 0 }, ids);
    expect(window!.counters).toMatchObject({
      sent: 2,
      completed: 2,
      ok: 0,
      failed: 2,
      errors: { timeout: 1, status: 1 },
      statusCodes: { '503': 1 },
    });
    const aggregator = new Aggregator();
    aggregator.add(window!);
    aggregator.sealBefore(Infinity);
    expect(aggregator.totals.rtUs!.totalCount).toBe(1);
  });

  it('leaves drained requests out of every count', () => {
    const recorder = new WindowRecorder(0, 1000);
    recorder.recordSend(0);
    recorder.recordOutcome({ intendedMs: 0, sentMs: 0, endMs: 10, error: 'incomplete' });

    const [window] = recorder.takeWindows(1, { sent: 0, received: 0 }, ids);
    expect(window!.counters).toMatchObject({ sent: 1, completed: 0, failed: 0 });
  });

  it('measures from the intended send time', () => {
    const recorder = new WindowRecorder(0, 1000);
    recorder.recordSend(30);
    recorder.recordOutcome({ intendedMs: 10, sentMs: 30, endMs: 40, status: 200 });

    const aggregator = new Aggregator();
    aggregator.add(recorder.takeWindows(1, { sent: 0, received: 0 }, ids)[0]!);
    expect(aggregator.row(0)!.latency.rtUs!.maxUs).toBe(30_015);
    expect(aggregator.row(0)!.latency.serviceUs!.maxUs).toBe(10_007);
  });

  it('books bytes on the newest window taken', () => {
    const recorder = new WindowRecorder(0, 1000);
    recorder.recordSend(100);
    recorder.recordSend(1100);
    const windows = recorder.takeWindows(2, { sent: 300, received: 900 }, ids);
    expect(windows.map((w) => [w.tick, w.counters.bytesSent, w.counters.bytesReceived])).toEqual([
      [0, 0, 0],
      [1, 300, 900],
    ]);
  });

  it('books a late result on the oldest open window', () => {
    const recorder = new WindowRecorder(0, 1000);
    recorder.recordSend(100);
    recorder.recordEnd();
    const [first] = recorder.takeWindows(1, { sent: 0, received: 0 }, ids);

    // The request ended at 900 ms, in window 0, but its output tokens were counted after
    // window 0 had gone out.
    recorder.recordResult({ intendedMs: 100, sentMs: 100, endMs: 900, status: 200 });
    const late = recorder.takeWindows(2, { sent: 0, received: 0 }, ids);

    expect(first!.counters).toMatchObject({ sent: 1, completed: 0 });
    expect(late.map((w) => [w.tick, w.counters.completed])).toEqual([[1, 1]]);
  });

  it('tracks the true peak in flight', () => {
    const recorder = new WindowRecorder(0, 1000);
    for (let i = 0; i < 5; i++) recorder.recordSend(10);
    for (let i = 0; i < 5; i++)
      recorder.recordOutcome({ intendedMs: 10, sentMs: 10, endMs: 20, status: 200 });
    recorder.recordSend(30);
    const [window] = recorder.takeWindows(1, { sent: 0, received: 0 }, ids);
    expect(window!.counters.maxInFlight).toBe(5);
  });
});
