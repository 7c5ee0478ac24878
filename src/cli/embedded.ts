import { MessageChannel, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { MemoryBus, bridgePort } from '../bus/index.ts';
import type { AgentWorkerData } from '../agent/worker.ts';
import type { LogLevel } from '../log.ts';

const WORKER_BOOT = new URL('../agent/worker-boot.js', import.meta.url);
const AGENT_WORKER = new URL('../agent/worker.ts', import.meta.url).href;

/**
 * Embedded mode: one in-process bus in the main thread and agents in worker threads that reach
 * it over message ports, so the agents talk to the coordinator only over the bus, as in a cluster.
 */
export class EmbeddedMesh {
  readonly bus = new MemoryBus();
  #workers: Worker[] = [];
  #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Starts `count` agent threads; they announce themselves on the bus. */
  startAgents(count: number, options: { logLevel: LogLevel; version: string }): void {
    for (let i = 0; i < count; i++) {
      const { port1, port2 } = new MessageChannel();
      bridgePort(this.bus, port1);
      const workerData: AgentWorkerData = {
        entry: AGENT_WORKER,
        port: port2,
        agentId: `embedded-${i + 1}`,
        logLevel: options.logLevel,
        version: options.version,
      };
      const worker = new Worker(WORKER_BOOT, { workerData, transferList: [port2] });

      worker.on('error', (error) =>
        this.#log.error({ err: error, agentId: workerData.agentId }, 'agent thread failed'),
      );
      worker.unref();
      this.#workers.push(worker);
    }
  }

  /** Ends the agent threads and the bus. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    await this.bus.close();
  }
}
