/**
 * Feeds the coordinator's window path (msgpack decode, merge by tick, per-second sealing) with
 * windows from 1000 simulated agents every second, for 10 s, and prints the CPU it used as a
 * share of one core. Target: below 25%.
 *
 * Run: npx tsx bench/coordinator-windows.ts [--agents 1000] [--seconds 10]
 */
import { parseArgs } from 'node:util';
import { Aggregator } from '../src/coordinator/aggregator.ts';
import { SeededRandom } from '../src/protocol/random.ts';
import { decodeMessage, type MetricWindow } from '../src/protocol/index.ts';
import { encodedWindow } from './windows.ts';

const { values } = parseArgs({
  options: { agents: { type: 'string' }, seconds: { type: 'string' } },
});
const agentCount = Number(values.agents ?? 1000);
const seconds = Number(values.seconds ?? 10);

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
