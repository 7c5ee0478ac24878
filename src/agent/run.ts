import type { Logger } from 'pino';
import type { Bus } from '../bus/index.ts';
import {
  encodeMessage,
  type RequestRecord,
  type RequestRecords,
  type Subjects,
  ArrivalSchedule,
  type RateTokens,
  type TaskAssign,
  type TaskDone,
} from '../protocol/index.ts';
import { HttpDriver } from './http/driver.ts';
import { TokenCounter } from './llm/counter.ts';
import { llmReaderFactory } from './llm/reader.ts';
import type { RequestOutcome } from './outcome.ts';
import { Outbox } from './outbox.ts';
import { TokenQueue, slotDueMs } from './pacer.ts';
import { WindowRecorder } from './recorder.ts';

/** How long an agent keeps a task running without any sign of a coordinator. */
const COORDINATOR_GRACE_MS = 60_000;

/** How long the end of a task waits for the coordinator to acknowledge its windows. */
const DONE_DELIVERY_TIMEOUT_MS = 30_000;

/** Most open-loop sends in one turn of the event loop. */
const SENDS_PER_TURN = 1_000;

/**
 * How long past the last dealt arrival an open-loop agent waits for rate tokens before it paces
 * itself. Tokens come every 100 ms and reach 500 ms ahead, so by then 8 ticks were missed.
 */
const HOLDOVER_AFTER_MS = 300;

/** How often an open-loop agent checks that rate tokens still come, and tops up its holdover. */
const HOLDOVER_TICK_MS = 100;

/** How far ahead a holdover draws its arrivals. */
const HOLDOVER_LOOKAHEAD_US = 200_000;

/** Delay after a window boundary before its window is sent, so requests ending right at it are in. */
const WINDOW_SETTLE_MS = 20;

/** The load of one task on one agent: pacing, sending, recording and reporting. */
export class TaskRun {
  readonly taskId: string;
  #assign: TaskAssign;
  #bus: Bus;
  #subjects: Subjects;
  #log: Logger;
  #driver: HttpDriver | undefined;
  #counter: TokenCounter | undefined;
  /** Requests that ended and wait for their output tokens to be counted. */
  #counting = 0;
  #recorder: WindowRecorder | undefined;
  #startMs = 0;
  #started = false;
  #tokens = new TokenQueue();
  /** Open loop: the coordinator has dealt every arrival before this offset, in µs. */
  #coveredUntilUs = 0;
  /** Open loop: this agent's share of the rate in the latest tokens. */
  #shareRatePerSec = 0;
  /**
   * Open loop: the agent's own arrivals at its last known share of the rate, while rate tokens
   * stop coming because the coordinator or NATS is away.
   */
  #holdover: ArrivalSchedule | undefined;
  #holdovers = 0;
  #holdoverTimer: NodeJS.Timeout | undefined;
  #sequence: number;
  #granted = 0;
  #concurrency: number;
  #requestBudget: number | undefined;
  /** Closed-loop users with a request in flight or about to send one. */
  #activeUsers = 0;
  /** Closed-loop users sleeping until their rate-cap slot. */
  #waitingForSlot = 0;
  #slots = 0;
  #stopping = false;
  #finished = false;
  #pumpTimer: NodeJS.Timeout | undefined;
  #windowTimer: NodeJS.Timeout | undefined;
  #drainTimer: NodeJS.Timeout | undefined;
  #incomplete = 0;
  #records: RequestRecord[] = [];
  #recordBatches = 0;
  #outbox: Outbox;
  #watchTimer: NodeJS.Timeout | undefined;
  #warnedDrop = false;
  #warnedKinds = new Set<string>();
  #onFinished: () => void;

  constructor(
    assign: TaskAssign,
    bus: Bus,
    subjects: Subjects,
    log: Logger,
    onFinished: () => void,
  ) {
    this.taskId = assign.taskId;
    this.#assign = assign;
    this.#bus = bus;
    this.#subjects = subjects;
    this.#log = log;
    this.#onFinished = onFinished;
    this.#sequence = assign.agentIndex;
    this.#outbox = new Outbox(bus, subjects.window(assign.taskId), log);
    this.#concurrency = assign.concurrency;
    this.#requestBudget = assign.requestBudget;
  }

  /** Sets up the driver, and for LLM tasks the tokenizer; throws when the task cannot run here. */
  async prepare(): Promise<void> {
    const { http, service, llm } = this.#assign.config;
    const createReader = llm ? llmReaderFactory(this.#assign.entries) : undefined;

    this.#driver = new HttpDriver({
      url: service.url,
      method: http.method,
      headers: http.headers,
      entries: this.#assign.entries,
      timeoutMs: http.timeout,
      // A closed loop has one connection per user. An open loop's pool has no limit: undici
      // opens connections as requests need them, up to the in-flight limit.
      connections: this.openLoop ? null : this.#concurrency,
      tls: { caPem: this.#assign.caPem, insecure: http.insecure },
      createReader,
    });

    // The tokenizer loads on the counting thread, so this thread keeps sending heartbeats.
    if (llm) {
      this.#counter = await TokenCounter.start({
        modelId: llm.modelId,
        tokenizerPath: llm.tokenizer,
      }).catch(async (error: unknown) => {
        await this.#driver?.destroy();
        throw error;
      });
    }
  }

  get #readyDriver(): HttpDriver {
    if (!this.#driver) throw new Error('task run used before prepare()');
    return this.#driver;
  }

  get #activeRecorder(): WindowRecorder {
    if (!this.#recorder) throw new Error('task run recorded before start()');
    return this.#recorder;
  }

  get openLoop(): boolean {
    return this.#assign.concurrency === 0;
  }

  /** Starts the load `startInMs` from now; windows count from that moment. */
  start(startInMs: number): void {
    if (this.#started || !this.#driver) return;
    this.#started = true;
    this.#startMs = performance.now() + startInMs;
    const llm = this.#assign.config.llm;
    const slo =
      llm && (llm.sloTtftMs ?? llm.sloTpotMs ?? llm.sloE2eMs) !== undefined
        ? { ttftMs: llm.sloTtftMs, tpotMs: llm.sloTpotMs, e2eMs: llm.sloE2eMs }
        : undefined;
    this.#recorder = new WindowRecorder(this.#startMs, this.#assign.windowMs, slo);
    this.#scheduleWindowFlush();
    this.#watchCoordinator();
    const startIn = startInMs;

    if (this.openLoop) {
      this.#pumpTimer = setTimeout(() => this.#pump(), startIn);
      this.#holdoverTimer = setInterval(() => this.#checkTokens(), HOLDOVER_TICK_MS);
      return;
    }
    setTimeout(() => this.#startUsers(), startIn);
  }

  /**
   * Stops the task when no coordinator has acknowledged a window for COORDINATOR_GRACE_MS, or
   * when the task's duration is long past without a stop, so an orphaned agent ends by itself.
   */
  #watchCoordinator(): void {
    const endMs =
      this.#startMs + this.#assign.config.optional.duration * 1000 + COORDINATOR_GRACE_MS;
    this.#watchTimer = setInterval(() => {
      const nowMs = performance.now();
      const silentMs = nowMs - Math.max(this.#outbox.lastAckMs, this.#startMs);
      if (silentMs < COORDINATOR_GRACE_MS && nowMs < endMs) return;
      this.#log.error(
        { silentMs: Math.round(silentMs) },
        'no coordinator for the grace period, or the task is long past its duration; stopping it',
      );
      clearInterval(this.#watchTimer);
      this.stop(this.#assign.config.optional.drainTimeout);
    }, 1_000);
  }

  /** Sends every window of the task again, for a coordinator that restarted. */
  resendWindows(): void {
    this.#outbox.resendHistory();
  }

  /** Closed loop: takes a new share after an agent of the task was lost. */
  setShare(share: { concurrency?: number; addRequests?: number }): void {
    if (this.#stopping || this.openLoop) return;
    if (share.concurrency !== undefined && share.concurrency !== this.#concurrency) {
      this.#concurrency = share.concurrency;
      this.#driver?.resize(share.concurrency);
    }
    if (share.addRequests !== undefined && this.#requestBudget !== undefined)
      this.#requestBudget += share.addRequests;
    if (this.#started && performance.now() >= this.#startMs) this.#startUsers();
  }

  /** Starts closed-loop users until `#concurrency` are active; extra ones end after their request. */
  #startUsers(): void {
    while (this.#activeUsers < this.#concurrency && !this.#stopping && !this.#budgetSpent()) {
      this.#activeUsers += 1;
      this.#nextClosedLoop();
    }
  }

  /** Queues open-loop send times that the coordinator scheduled for this agent. */
  addTokens(tokens: Pick<RateTokens, 'offsetsUs' | 'last' | 'untilUs' | 'ratePerSec'>): void {
    if (this.#stopping) return;
    this.#coveredUntilUs = Math.max(this.#coveredUntilUs, tokens.untilUs);
    this.#shareRatePerSec = tokens.ratePerSec;
    const offsetsUs = this.#holdover ? this.#endHoldover(tokens.offsetsUs) : tokens.offsetsUs;
    this.#tokens.push(offsetsUs, tokens.last);
    this.#wakePump();
  }

  #wakePump(): void {
    if (this.#started && !this.#pumpTimer && performance.now() >= this.#startMs) this.#pump();
  }

  /**
   * Open loop: starts a holdover when no tokens came for HOLDOVER_AFTER_MS past the last dealt
   * tick, and keeps a running holdover's arrivals queued ahead of the clock.
   */
  #checkTokens(): void {
    if (this.#stopping) return;
    const nowUs = (performance.now() - this.#startMs) * 1000;
    if (nowUs < 0) return;

    if (!this.#holdover) {
      const { optional } = this.#assign.config;
      const silent = nowUs > this.#coveredUntilUs + HOLDOVER_AFTER_MS * 1000;
      // NOTE: a task bounded by a request count has no holdover, because an agent alone cannot
      // tell how many requests the others sent.
      const paceable = this.#shareRatePerSec > 0 && optional.requestCount === undefined;
      if (!silent || !paceable || this.#tokens.ended) return;

      this.#holdovers += 1;
      this.#holdover = new ArrivalSchedule({
        ratePerSec: this.#shareRatePerSec,
        burstiness: optional.burstiness,
        seed: optional.seed + 7919 * (this.#assign.agentIndex + 1) + this.#holdovers,
        startUs: nowUs,
        durationUs: optional.duration * 1e6,
      });
      this.#log.warn(
        {
          ratePerSec: this.#shareRatePerSec,
          silentMs: Math.round(nowUs / 1000 - this.#coveredUntilUs / 1000),
        },
        'no rate tokens from the coordinator; this agent paces its share itself until they come back',
      );
    }

    const offsetsUs = this.#holdover.take(nowUs + HOLDOVER_LOOKAHEAD_US);
    this.#tokens.push(offsetsUs, this.#holdover.ended);
    this.#wakePump();
  }

  /** Hands pacing back to the coordinator: drops the holdover's queued arrivals and stale tokens. */
  #endHoldover(offsetsUs: number[]): number[] {
    const nowUs = (performance.now() - this.#startMs) * 1000;
    this.#holdover = undefined;
    this.#tokens.clear();
    this.#log.info('rate tokens are back; the coordinator paces this agent again');
    return offsetsUs.filter((offset) => offset >= nowUs);
  }

  /** Sends nothing more and gives in-flight requests `drainTimeoutMs` to end. */
  stop(drainTimeoutMs: number): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#tokens.clear();
    clearTimeout(this.#pumpTimer);
    clearInterval(this.#holdoverTimer);

    this.#drainTimer = setTimeout(() => {
      const cut = this.#driver?.inFlight ?? 0;
      if (cut === 0) return;
      this.#log.warn(
        { requests: cut, drainTimeoutMs },
        'drain timed out; cutting off requests still in flight',
      );
      this.#driver?.abortInFlight();
    }, drainTimeoutMs);
    this.#maybeFinish();
  }

  /** Closed loop: one user's next request, paced by the rate cap when there is one. */
  #nextClosedLoop(): void {
    if (this.#stopping || this.#activeUsers > this.#concurrency || !this.#takeBudget()) {
      this.#activeUsers -= 1;
      this.#maybeFinish();
      return;
    }

    const rate = this.#assign.maxRatePerSec ?? 0;
    if (rate <= 0) {
      // undici frees a connection in a setImmediate after the response ends. Sending from a
      // setImmediate queued after that one finds the connection free, so nothing waits in the pool.
      this.#send(performance.now(), () => setImmediate(() => this.#nextClosedLoop()));
      return;
    }
    const dueMs = this.#startMs + slotDueMs(this.#slots++, rate);
    const waitMs = dueMs - performance.now();
    if (waitMs <= 0) {
      this.#send(dueMs, () => this.#nextClosedLoop());
      return;
    }
    this.#waitingForSlot += 1;
    setTimeout(() => {
      this.#waitingForSlot -= 1;
      if (this.#stopping) {
        this.#activeUsers -= 1;
        this.#maybeFinish();
      } else this.#send(dueMs, () => this.#nextClosedLoop());
    }, waitMs);
  }

  #takeBudget(): boolean {
    if (this.#budgetSpent()) return false;
    this.#granted += 1;
    return true;
  }

  #budgetSpent(): boolean {
    return this.#requestBudget !== undefined && this.#granted >= this.#requestBudget;
  }

  /** Open loop: sends everything due, then sleeps until the next send time. */
  #pump(): void {
    this.#pumpTimer = undefined;
    if (this.#stopping) return;

    const nowMs = performance.now();
    let handled = 0;
    for (let offset = this.#tokens.peek(); offset !== undefined; offset = this.#tokens.peek()) {
      const intendedMs = this.#startMs + offset / 1000;
      if (intendedMs > nowMs) break;
      // A backlog goes out in bounded turns, so heartbeats and windows still leave on time.
      if (handled === SENDS_PER_TURN) {
        this.#pumpTimer = setTimeout(() => this.#pump(), 0);
        return;
      }
      handled += 1;
      this.#tokens.shift();

      if (this.#readyDriver.inFlight >= this.#assign.maxInFlight) {
        this.#activeRecorder.recordDrop(nowMs);
        this.#warnDrop();
        continue;
      }
      this.#send(intendedMs);
    }

    const next = this.#tokens.peek();
    if (next !== undefined) {
      // NOTE: timers fire up to about a millisecond late, and client wait shows it (a p50 near
      // 0.7 ms in a 50 to 1000 req/s run against nginx). Polling the clock until the due time
      // would remove most of it but keep the agent busy, which would spoil its CPU reading.
      const waitMs = this.#startMs + next / 1000 - performance.now();
      this.#pumpTimer = setTimeout(() => this.#pump(), Math.max(0, waitMs));
    } else {
      this.#maybeFinish();
    }
  }

  #send(dueMs: number, then?: () => void): void {
    // Agents step through the entries interleaved, so together they cycle over all of them.
    const sequence = this.#sequence;
    this.#sequence += this.#assign.agentCount;
    const nowMs = performance.now();
    this.#activeRecorder.recordSend(nowMs);
    // A timer can fire a little before its due time. Latency then starts at the actual send,
    // because counting from a later due time would make response time shorter than service time.
    const intendedMs = Math.min(dueMs, nowMs);

    this.#readyDriver.send(sequence, intendedMs, (outcome) => {
      this.#activeRecorder.recordEnd();
      if (outcome.llm?.uncountedText === undefined) this.#record(outcome);
      else this.#countThenRecord(outcome, outcome.llm.uncountedText);
      if (then) then();
      else this.#maybeFinish();
    });
  }

  /** Records an outcome once the counting thread has counted its output tokens. */
  #countThenRecord(outcome: RequestOutcome, text: string): void {
    const llm = outcome.llm!;
    delete llm.uncountedText;
    this.#counting += 1;

    const counted = this.#counter
      ? this.#counter.count(text)
      : Promise.reject(new Error('no tokenizer was loaded for this task'));
    counted
      .then(
        (count) => {
          llm.outputTokens = count;
          this.#record(outcome);
        },
        (error: unknown) => {
          const detail = `counting output tokens failed: ${(error as Error).message}`;
          this.#record({ ...outcome, llm: undefined, error: 'other', detail });
        },
      )
      .finally(() => {
        this.#counting -= 1;
        this.#maybeFinish();
      });
  }

  #record(outcome: RequestOutcome): void {
    if (outcome.error === 'incomplete') this.#incomplete += 1;
    else if (outcome.error && outcome.error !== 'status' && !this.#warnedKinds.has(outcome.error)) {
      this.#warnedKinds.add(outcome.error);
      this.#log.warn(
        { kind: outcome.error, detail: outcome.detail },
        'first request failure of this kind',
      );
    }
    this.#activeRecorder.recordResult(outcome);
    if (this.#assign.saveRequests) this.#records.push(this.#toRecord(outcome));
  }

  #toRecord(outcome: RequestOutcome): RequestRecord {
    const fromStart = (ms: number): number => Math.round((ms - this.#startMs) * 1000) / 1000;
    const { llm } = outcome;
    return {
      agentId: this.#assign.agentId,
      intendedMs: fromStart(outcome.intendedMs),
      sentMs: fromStart(outcome.sentMs),
      e2eMs: Math.round((outcome.endMs - outcome.intendedMs) * 1000) / 1000,
      ...(llm
        ? {
            ttftMs: Math.round((llm.firstTextMs - outcome.intendedMs) * 1000) / 1000,
            inputTokens: llm.inputTokens,
            outputTokens: llm.outputTokens,
            tokenSource: llm.tokenSource,
          }
        : {}),
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
    };
  }

  #warnDrop(): void {
    if (this.#warnedDrop) return;
    this.#warnedDrop = true;
    this.#log.warn(
      { maxInFlight: this.#assign.maxInFlight },
      'agent is at its in-flight limit; dropping sends and counting them as dropped',
    );
  }

  #maybeFinish(): void {
    const busy =
      (this.#driver?.inFlight ?? 0) > 0 || this.#counting > 0 || this.#waitingForSlot > 0;
    if (this.#finished || busy) return;
    if (!this.#started) {
      if (this.#stopping) void this.#finish();
      return;
    }

    const openDone = this.openLoop && this.#tokens.exhausted;
    const closedDone = !this.openLoop && this.#budgetSpent();
    if (!this.#stopping && !openDone && !closedDone) return;
    void this.#finish();
  }

  async #finish(): Promise<void> {
    this.#finished = true;
    this.#stopping = true;
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#windowTimer);
    clearTimeout(this.#drainTimer);
    clearInterval(this.#watchTimer);
    clearInterval(this.#holdoverTimer);

    const lastTick = this.#recorder ? this.#recorder.tickAt(performance.now()) : -1;
    if (this.#recorder) this.#publishWindows(lastTick + 1);
    const done: TaskDone = {
      type: 'done',
      taskId: this.taskId,
      agentId: this.#assign.agentId,
      lastTick,
      incomplete: this.#incomplete,
    };
    // The end report goes after every window is acknowledged, so the coordinator has them all.
    const left = await this.#outbox.drain(DONE_DELIVERY_TIMEOUT_MS);
    if (left > 0)
      this.#log.error({ windows: left }, 'windows not acknowledged before the end report');
    this.#outbox.send(encodeMessage(done));
    await this.#outbox.drain(DONE_DELIVERY_TIMEOUT_MS);
    this.#outbox.close();
    await this.#counter?.close();
    await this.#driver
      ?.destroy()
      .catch((error: unknown) => this.#log.warn({ err: error }, 'closing the HTTP pool failed'));
    this.#log.info({ lastTick, incomplete: this.#incomplete }, 'task finished on this agent');
    this.#onFinished();
  }

  #scheduleWindowFlush(): void {
    const nowMs = performance.now();
    const nextBoundaryMs =
      this.#startMs + (this.#activeRecorder.tickAt(nowMs) + 1) * this.#assign.windowMs;
    this.#windowTimer = setTimeout(
      () => {
        this.#publishWindows(this.#activeRecorder.tickAt(performance.now()));
        this.#scheduleWindowFlush();
      },
      Math.max(0, nextBoundaryMs - nowMs) + WINDOW_SETTLE_MS,
    );
  }

  #publishWindows(beforeTick: number): void {
    const bytes = {
      sent: this.#readyDriver.bytes.bytesWritten,
      received: this.#readyDriver.bytes.bytesRead,
    };
    const ids = { taskId: this.taskId, agentId: this.#assign.agentId };
    for (const window of this.#activeRecorder.takeWindows(beforeTick, bytes, ids)) {
      this.#outbox.send(encodeMessage(window));
    }
    if (this.#records.length > 0) {
      const records: RequestRecords = {
        type: 'records',
        ...ids,
        seq: this.#recordBatches++,
        records: this.#records,
      };
      this.#records = [];
      // A restarted coordinator rebuilds its totals from windows; records went to the client
      // already, so they are not sent again with the history.
      this.#outbox.send(encodeMessage(records), { keepInHistory: false });
    }
  }
}
