import type { LatencySummary } from '../protocol/index.ts';
import type { TaskSummary } from '../coordinator/index.ts';

/** Formats the summary table that `loadmesh run` prints at the end. */
export function formatSummary(summary: TaskSummary, resultsPath: string): string {
  const { totals, config, latency } = summary;
  const { optional } = config;
  const load =
    optional.mode === 'rate'
      ? `rate ${optional.qps} req/s (burstiness ${optional.burstiness}, seed ${optional.seed}) on ${optional.agentCount} agent(s)`
      : config.llm?.mode === 'throughput'
        ? `throughput: all ${optional.requestCount} requests at once on ${optional.agentCount} agent(s)`
        : `${config.llm?.mode ?? optional.mode}, ${optional.agentCount} agent(s) x ${optional.concurrency} concurrency`;
  const cap = optional.maxQPS === undefined ? '' : `, capped at ${optional.maxQPS} req/s (maxQPS)`;

  const lines: [string, string][] = [
    ['Task', summary.taskId],
    [
      'Target',
      `${config.http.method ?? (config.data.content || config.data.path || config.llm ? 'POST' : 'GET')} ${config.service.url}`,
    ],
    ['Load', `${load}${cap}`],
    ['Ended by', summary.endReason],
    ['Duration', `${summary.durationSec.toFixed(2)} s`],
    ['Requests sent', String(totals.sent)],
    ['Completed', String(totals.completed)],
    ['Successful (2xx, 3xx)', String(totals.ok)],
    ['Failed', `${totals.failed} (${(totals.errorRate * 100).toFixed(2)}%)`],
    ['Incomplete (cut by drain)', String(totals.incomplete)],
    ['Dropped (in-flight limit)', String(totals.dropped)],
    ['Request throughput', `${totals.requestsPerSec.toFixed(2)} req/s`],
    ['Peak in flight', String(totals.maxInFlight)],
    [
      'Bytes sent / received',
      `${formatBytes(totals.bytesSent)} / ${formatBytes(totals.bytesReceived)}`,
    ],
    ['Status codes', formatCounts(totals.statusCodes)],
    ['Errors', formatCounts(totals.errors)],
  ];
  if (summary.windows.late > 0) lines.push(['Late windows merged', String(summary.windows.late)]);

  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  const out = [`==================== loadmesh: ${summary.name} ====================`];
  for (const [key, value] of lines) out.push(`${key.padEnd(width)}${value}`);

  out.push(
    '',
    latencyTable([
      ['Response time', latency.rtUs],
      ['Service time', latency.serviceUs],
      ['Client wait', latency.waitUs],
    ]),
  );
  if (summary.llm) out.push('', formatLlm(summary));
  if (summary.agents.length > 1) {
    out.push('', 'Agents:');
    for (const agent of summary.agents) {
      const state = agent.lost
        ? `lost after tick ${agent.lastTick}`
        : agent.reportedEnd
          ? 'done'
          : 'no end report';
      const capacity =
        agent.freeCapacity === undefined ? '' : `  free capacity ${agent.freeCapacity.toFixed(2)}`;
      out.push(
        `  ${agent.agentId.padEnd(24)} ${agent.host.padEnd(16)} sent ${String(agent.sent).padStart(8)}  completed ${String(agent.completed).padStart(8)}  failed ${String(agent.failed).padStart(6)}  ${state}${capacity}`,
      );
    }
  }
  for (const warning of summary.warnings) out.push(`warning: ${warning}`);
  out.push('', `Results: ${resultsPath}`);
  return out.join('\n');
}

/** Formats the LLM results with the names and layout of vLLM's benchmark summary. */
function formatLlm(summary: TaskSummary): string {
  const llm = summary.llm!;
  const rows: [string, string][] = [
    ['Successful requests:', String(llm.successfulRequests)],
    ['Failed requests:', String(llm.failedRequests)],
    ['Benchmark duration (s):', summary.durationSec.toFixed(2)],
    ['Total input tokens:', String(llm.inputTokens)],
    ['Total generated tokens:', String(llm.outputTokens)],
    [
      'Tokens counted by (requests):',
      `usage ${llm.outputTokensCountedBy.usage}, tokenizer ${llm.outputTokensCountedBy.tokenizer}`,
    ],
    ['Request throughput (req/s):', llm.requestThroughput.toFixed(2)],
    ['Output token throughput (tok/s):', llm.outputTokenThroughput.toFixed(2)],
    ['Total token throughput (tok/s):', llm.totalTokenThroughput.toFixed(2)],
    ['Peak concurrent requests:', String(summary.totals.maxInFlight)],
  ];
  if (llm.goodput) {
    const slo = Object.entries(llm.goodput.slo)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k.replace('Ms', '')} <= ${v} ms`);
    rows.push([
      'Goodput (req/s):',
      `${llm.goodput.requestsPerSec.toFixed(2)} (${llm.goodput.requests} requests with ${slo.join(', ')})`,
    ]);
  }

  const out = ['=============== LLM serving results ==============='];
  for (const [key, value] of rows) out.push(`${key.padEnd(34)}${value}`);
  const sections: [string, string, LatencySummary][] = [
    ['Time to First Token', 'TTFT', llm.ttftUs],
    ['Time per Output Token (excl. 1st token)', 'TPOT', llm.tpotUs],
    ['Inter-token Latency (per chunk)', 'ITL', llm.itlUs],
    ['End-to-end Latency', 'E2E', llm.e2eUs],
  ];
  for (const [title, short, values] of sections) {
    out.push(` ${title} `.padStart(25 + title.length / 2, '-').padEnd(50, '-'));
    out.push(`${`Mean ${short} (ms):`.padEnd(34)}${formatLatency(values, 'meanUs')}`);
    out.push(`${`Median ${short} (ms):`.padEnd(34)}${formatLatency(values, 'p50Us')}`);
    out.push(`${`P90 ${short} (ms):`.padEnd(34)}${formatLatency(values, 'p90Us')}`);
    out.push(`${`P99 ${short} (ms):`.padEnd(34)}${formatLatency(values, 'p99Us')}`);
  }
  out.push('='.repeat(50));
  return out.join('\n');
}

const COLUMNS: [string, keyof LatencySummary][] = [
  ['mean', 'meanUs'],
  ['p50', 'p50Us'],
  ['p90', 'p90Us'],
  ['p95', 'p95Us'],
  ['p99', 'p99Us'],
  ['p99.9', 'p999Us'],
  ['max', 'maxUs'],
];

/** Latencies of requests that got a whole response; `count` shows how many that is. */
function latencyTable(rows: [string, LatencySummary][]): string {
  const header = [
    '(ms)'.padEnd(16),
    'count'.padStart(10),
    ...COLUMNS.map(([name]) => name.padStart(10)),
  ].join('');
  const body = rows.map(([name, summary]) =>
    [
      name.padEnd(16),
      String(summary.count).padStart(10),
      ...COLUMNS.map(([, key]) => formatLatency(summary, key).padStart(10)),
    ].join(''),
  );
  return [header, ...body].join('\n');
}

/** Formats one figure of a latency summary, or n/a when no request was measured. */
function formatLatency(summary: LatencySummary, key: keyof LatencySummary): string {
  return summary.count === 0 ? 'n/a' : formatMs(summary[key]);
}

export function formatMs(us: number): string {
  const ms = us / 1000;
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}: ${v}`).join(', ');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
