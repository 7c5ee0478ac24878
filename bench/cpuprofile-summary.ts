/**
 * Summarizes one thread's `.cpuprofile` from `node --cpu-prof` by where the time went, over the
 * part of the run with load on it.
 *
 *   npx tsx bench/cpuprofile-summary.ts FILE.cpuprofile [FROM_US TO_US]
 *
 * Without a window, the loaded part runs from 1 s after the first sample with an undici frame on
 * the stack to 0.5 s before the last one, which leaves out start-up and the drain. It prints the
 * window, so that a second thread's profile of the same run can be read over the same window.
 * A native frame (a socket write, a Buffer copy) counts toward the nearest JavaScript caller
 * outside node's own modules, so that the time of a write shows up under the library that wrote.
 */
import { readFile } from 'node:fs/promises';

/** The parts of V8's CPU profile format that this summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

const TOP_FUNCTIONS = 25;

async function main(): Promise<number> {
  const [file, fromText, toText] = process.argv.slice(2);
  if (!file) {
    process.stderr.write(
      'Usage: npx tsx bench/cpuprofile-summary.ts FILE.cpuprofile [FROM_US TO_US]\n',
    );
    return 2;
  }
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const stacks = buildStacks(profile);
  const samples = timedSamples(profile);

  const window =
    fromText && toText
      ? { fromUs: Number(fromText), toUs: Number(toText) }
      : loadedWindow(samples, stacks);
  if (!window) {
    process.stderr.write(`${file} has no sample with an undici frame; pass FROM_US and TO_US\n`);
    return 1;
  }

  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let totalUs = 0;
  for (const sample of samples) {
    if (sample.atUs < window.fromUs || sample.atUs > window.toUs) continue;
    const stack = stacks.get(sample.nodeId)!;
    add(byCategory, categorize(stack), sample.durationUs);
    add(byFunction, describe(stack[0]!), sample.durationUs);
    totalUs += sample.durationUs;
  }

  const idleUs = byCategory.get('idle') ?? 0;
  const busyUs = totalUs - idleUs;
  const lines = [
    `window ${window.fromUs} ${window.toUs} (${((window.toUs - window.fromUs) / 1e6).toFixed(2)} s), busy ${percent(busyUs, totalUs)}`,
    '',
    '% of busy time by category:',
    ...sortedEntries(byCategory)
      .filter(([name]) => name !== 'idle')
      .map(([name, us]) => `${percent(us, busyUs)}  ${name}`),
    '',
    `% of busy time by function (self), top ${TOP_FUNCTIONS}:`,
    ...sortedEntries(byFunction)
      .filter(([name]) => !name.startsWith('(idle)'))
      .slice(0, TOP_FUNCTIONS)
      .map(([name, us]) => `${percent(us, busyUs)}  ${name}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** Maps each node id to its stack, leaf first. */
function buildStacks(profile: CpuProfile): Map<number, CallFrame[]> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id);

  const stacks = new Map<number, CallFrame[]>();
  for (const node of profile.nodes) {
    const stack: CallFrame[] = [];
    for (let id: number | undefined = node.id; id !== undefined; id = parentOf.get(id))
      stack.push(byId.get(id)!.callFrame);
    stacks.set(node.id, stack);
  }
  return stacks;
}

/** Gives each sample its time and the time until the next sample, in microseconds. */
function timedSamples(profile: CpuProfile): { nodeId: number; atUs: number; durationUs: number }[] {
  let atUs = profile.startTime;
  return profile.samples.map((nodeId, i) => {
    atUs += profile.timeDeltas[i] ?? 0;
    return { nodeId, atUs, durationUs: profile.timeDeltas[i + 1] ?? 0 };
  });
}

function loadedWindow(
  samples: { nodeId: number; atUs: number }[],
  stacks: Map<number, CallFrame[]>,
): { fromUs: number; toUs: number } | undefined {
  const loaded = samples.filter((s) =>
    stacks.get(s.nodeId)!.some((f) => f.url.includes('/undici/lib/')),
  );
  if (loaded.length === 0) return undefined;
  return { fromUs: loaded[0]!.atUs + 1e6, toUs: loaded[loaded.length - 1]!.atUs - 0.5e6 };
}

/** Names the package or project file that the time of this stack belongs to. */
function categorize(stack: CallFrame[]): string {
  const leaf = stack[0]!;
  if (leaf.functionName === '(idle)') return 'idle';
  if (leaf.functionName === '(garbage collector)') return 'GC (this thread only)';
  if (leaf.functionName === '(program)') return 'V8 and native, unattributed';

  for (const frame of stack) {
    const { url, functionName } = frame;
    if (url === '' || url.startsWith('node:')) continue;
    if (url.startsWith('wasm://')) return 'undici: llhttp parser (wasm)';
    if (url.includes('/node_modules/undici/')) {
      const file = url.split('/').pop()!;
      if (/^(write|writeH1|writeBuffer)$/.test(functionName)) return 'undici: write request head';
      return `undici: ${file}`;
    }
    if (url.includes('/node_modules/')) return url.split('/node_modules/').pop()!.split('/')[0]!;
    if (url.includes('/src/')) return `loadmesh ${url.slice(url.lastIndexOf('/src/') + 1)}`;
    return url.split('/').pop()!;
  }
  return 'node core, no package caller';
}

function describe(frame: CallFrame): string {
  const file = frame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/src\//, 'src/');
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

function add(totals: Map<string, number>, key: string, value: number): void {
  totals.set(key, (totals.get(key) ?? 0) + value);
}

function sortedEntries(totals: Map<string, number>): [string, number][] {
  return [...totals].sort((a, b) => b[1] - a[1]);
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / Math.max(whole, 1)).toFixed(1).padStart(5)} %`;
}

process.exitCode = await main();
