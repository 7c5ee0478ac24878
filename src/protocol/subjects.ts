/** Subject names on the bus, all under one configurable prefix (`lm` by default). */
export interface Subjects {
  agentHello: string;
  /** The coordinator requests every agent's hello again, e.g. after a restart. */
  agentDiscover: string;
  agentHeartbeat(agentId: string): string;
  /** Wildcard that matches every task's assignment subject. */
  anyAssign: string;
  assign(taskId: string): string;
  control(taskId: string): string;
  tokens(taskId: string, agentId: string): string;
  window(taskId: string): string;
  ctl(verb: string): string;
}

export const DEFAULT_SUBJECT_PREFIX = 'lm';

export function makeSubjects(prefix: string = DEFAULT_SUBJECT_PREFIX): Subjects {
  return {
    agentHello: `${prefix}.agent.hello`,
    agentDiscover: `${prefix}.agent.discover`,
    agentHeartbeat: (agentId) => `${prefix}.agent.heartbeat.${agentId}`,
    anyAssign: `${prefix}.task.*.assign`,
    assign: (taskId) => `${prefix}.task.${taskId}.assign`,
    control: (taskId) => `${prefix}.task.${taskId}.control`,
    tokens: (taskId, agentId) => `${prefix}.task.${taskId}.tokens.${agentId}`,
    window: (taskId) => `${prefix}.task.${taskId}.window`,
    ctl: (verb) => `${prefix}.ctl.${verb}`,
  };
}
