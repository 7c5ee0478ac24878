import { join } from 'node:path';
import {
  AgentTaskError,
  ConfigFileError,
  Coordinator,
  DataError,
  DatasetError,
  PreflightError,
  ResultsDirError,
  newTaskId,
  prepareResultsDir,
  writeResults,
  type TaskProgress,
} from '../coordinator/index.ts';
import { createLogger, type LogLevel } from '../log.ts';
import type { TaskConfig } from '../protocol/index.ts';
import { EmbeddedMesh } from './embedded.ts';
import { RecordFile } from './records.ts';
import { exitCodeOf, fail } from './exit.ts';
import type { RunValues } from './flags.ts';
import { formatMs, formatSummary } from './report.ts';
import { VERSION } from './version.ts';

export interface ExecuteOptions {
  values: RunValues;
  /** Folder that relative paths in the task start from. */
  baseDir: string;
  logLevel: LogLevel;
}

/**
 * Runs a validated task on an embedded mesh: agents in worker threads, the coordinator here.
 * Loaded only once the config is valid, so that a bad command line fails fast.
 */
export async function executeTask(
  config: TaskConfig,
  { values, baseDir, logLevel }: ExecuteOptions,
): Promise<number> {
  const taskId = newTaskId(config.name);
  const dir = values.out ?? join('results', taskId);
  try {
    await prepareResultsDir(dir, { saveRequests: values['save-requests'] === true });
  } catch (error) {
    if (error instanceof ResultsDirError) return fail(error.message);
    throw error;
  }

  const log = createLogger(logLevel);
  const mesh = new EmbeddedMesh(log);
  const coordinator = new Coordinator({ bus: mesh.bus, log });
  coordinator.start();
  mesh.startAgents(config.optional.agentCount, { logLevel, version: VERSION });

  let interrupts = 0;
  const onSignal = (): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(
      '\nstopping: draining in-flight requests (press Ctrl-C again to quit at once)\n',
    );
    coordinator.stopTask();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const progress = new ProgressLine(values.quiet === true);
  const records = values['save-requests']
    ? await RecordFile.open(join(dir, 'requests.jsonl'))
    : undefined;
  try {
    const summary = await coordinator.runTask(config, {
      taskId,
      baseDir,
      preflight: values['no-preflight'] !== true,
      agentWaitMs: 30_000,
      onPreflight: (result) =>
        result.warnings.forEach((w) => process.stderr.write(`warning: ${w}\n`)),
      onProgress: (p) => progress.update(p),
      onRecords: records && ((batch) => records.write(batch)),
    });
    progress.end();
    await records?.close();

    const path = await writeResults(dir, summary);
    process.stdout.write(`${formatSummary(summary, path)}\n`);
    return exitCodeOf(summary);
  } catch (error) {
    progress.end();
    if (
      error instanceof DataError ||
      error instanceof PreflightError ||
      error instanceof ConfigFileError
    )
      return fail(error.message);
    if (error instanceof AgentTaskError || error instanceof DatasetError)
      return fail(error.message);
    if (isTokenizerError(error)) return fail((error as Error).message);
    throw error;
  } finally {
    await records?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    coordinator.close();
    await mesh.close();
  }
}

/** One status line on stderr: rewritten in place on a terminal, every 10 s otherwise. */
class ProgressLine {
  #quiet: boolean;
  #tty = process.stderr.isTTY === true;
  #lastPrintMs = 0;
  #written = false;

  constructor(quiet: boolean) {
    this.#quiet = quiet;
  }

  update({ elapsedMs, durationMs, aggregator, ...progress }: TaskProgress): void {
    if (this.#quiet) return;
    if (!this.#tty && elapsedMs - this.#lastPrintMs < 10_000) return;
    this.#lastPrintMs = elapsedMs;
    const row = progress.row();

    const c = aggregator.counters;
    const rate = row
      ? `${row.counters.completed} req/s, p50 ${formatMs(row.latency.rtUs?.p50Us ?? 0)} ms, p99 ${formatMs(row.latency.rtUs?.p99Us ?? 0)} ms`
      : 'starting';
    const line = `[${(elapsedMs / 1000).toFixed(0)}s/${(durationMs / 1000).toFixed(0)}s] sent ${c.sent}, ok ${c.ok}, failed ${c.failed} | ${rate}`;
    process.stderr.write(this.#tty ? `\r\x1b[K${line}` : `${line}\n`);
    this.#written = true;
  }

  end(): void {
    if (this.#written && this.#tty) process.stderr.write('\n');
    this.#written = false;
  }
}

/** Errors of the tokenizer search and loading, which carry a stable `ERR_TOKENIZER` code. */
function isTokenizerError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (
    typeof code === 'string' && (code.startsWith('ERR_TOKENIZER') || code === 'ERR_PROMPT_LENGTH')
  );
}
