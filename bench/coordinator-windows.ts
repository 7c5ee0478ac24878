/**
 * Feeds the coordinator's window path (msgpack decode, merge by tick, per-second sealing) with
 * windows from 1000 simulated agents every second, for 10 s, and prints the CPU it used as a
 * share of one core. Target: below 25%.
 *
 * Run: npx tsx bench/coordinator-windows.ts [--agents 1000] [--seconds 10]
 */
import { parseArgs } from 'node:util';
import { WindowRecorder } from '../src/agent/recorder.ts';
import { Aggregator } from '../src/coordinator/aggregator.ts';
import { SeededRandom } from '../src/protocol/random.ts';
import { decodeMessage, encodeMessage, type MetricWindow } from '../src/protocol/index.ts';

const { values } = parseArgs({
  options: { agents: { type: 'string' }, seconds: { type: 'string' } },
});
const agentCount = Number(values.agents ?? 1000);
const seconds = Number(values.seconds ?? 10);

/** Returns one agent's window of 200 requests with gamma-distributed latencies, encoded as on the wire. */
function encodedWindow(agentId: string, tick: number, random: SeededRandom): Uint8Array {
  const recorder = new WindowRecorder(0, 1000);
  for (let i = 0; i < 200; i++) {
    const latencyMs = random.gamma(2, 5);
    const endMs = tick * 1000 + 500;
    recorder.recordSend(endMs - latencyMs);
    recorder.recordOutcome({
      intendedMs: endMs - latencyMs,
      sentMs: endMs - latencyMs,
      endMs,
      status: 200,
    });
  }
  const [window] = recorder.takeWindows(
    tick + 1,
    { sent: 5000, received: 20000 },
    { taskId: 'bench', agentId },
  );
  return encodeMessage(window as MetricWindow);
}

// Windows are made before the clock starts: making them is the agents' work, not the coordinator's.
const random = new SeededRandom(1);
const windows: Uint8Array[][] = [];
for (let tick = 0; tick < seconds; tick++) {
  windows.push(
    Array.from({ length: agentCount }, (_, a) => encodedWindow(`agent-${a}`, tick, random)),
  );
}

const aggregator = new Aggregator();
const cpuStart = process.cpuUsage();
const wallStart = performance.now();
for (let tick = 0; tick < seconds; tick++) {
  const dueMs = wallStart + tick * 1000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueMs - performance.now())));
  for (const data of windows[tick]!) aggregator.add(decodeMessage(data) as MetricWindow);
  aggregator.sealBefore(tick);
}
await new Promise((resolve) =>
  setTimeout(resolve, Math.max(0, wallStart + seconds * 1000 - performance.now())),
);
aggregator.sealBefore(Number.MAX_SAFE_INTEGER);

const cpu = process.cpuUsage(cpuStart);
const wallMs = performance.now() - wallStart;
const sharePercent = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
console.log(
  `agents: ${agentCount}, seconds: ${seconds}, windows merged: ${aggregator.counters.sent / 200}`,
);
console.log(`coordinator CPU: ${sharePercent.toFixed(1)}% of one core (target below 25%)`);
console.log(
  `whole-task p99: ${(aggregator.total('rtUs').p99Us / 1000).toFixed(2)} ms over ${aggregator.counters.completed} requests`,
);
