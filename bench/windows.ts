import { WindowRecorder } from '../src/agent/recorder.ts';
import type { SeededRandom } from '../src/protocol/random.ts';
import { encodeMessage, type MetricWindow } from '../src/protocol/index.ts';

/** Returns one agent's window of 200 requests with gamma-distributed latencies, encoded as on the wire. */
export function encodedWindow(
  agentId: string,
  tick: number,
  random: SeededRandom,
  taskId = 'bench',
): Uint8Array {
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
    { taskId, agentId },
  );
  return encodeMessage(window as MetricWindow);
}
