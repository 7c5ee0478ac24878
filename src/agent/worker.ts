import { threadId, workerData, type MessagePort } from 'node:worker_threads';
import { PortBus } from '../bus/index.ts';
import { createLogger, type LogLevel } from '../log.ts';
import { Agent } from './agent.ts';

/** Data that the embedded host passes to each agent thread. */
export interface AgentWorkerData {
  /** This module's URL, which worker-boot.js imports. */
  entry: string;
  port: MessagePort;
  agentId: string;
  logLevel: LogLevel;
  version: string;
}

const data = workerData as AgentWorkerData;
const bus = new PortBus(data.port);
const agent = new Agent({
  agentId: data.agentId,
  bus,
  log: createLogger(data.logLevel).child({ thread: threadId }),
  version: data.version,
});
agent.start();
