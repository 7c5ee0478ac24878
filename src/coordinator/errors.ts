/** Agents could not take the task: too few joined, or one could not prepare it. */
export class AgentTaskError extends Error {
  override readonly name = 'AgentTaskError';
  readonly code = 'ERR_AGENT_TASK';
}
