import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  decodeMessage,
  decodeOrLog,
  encodeMessage,
  type Message,
} from '../../src/protocol/index.ts';

describe('message codec', () => {
  it('round trip keeps the message', () => {
    const message: Message = {
      type: 'tokens',
      taskId: 't1',
      tick: 3,
      offsetsUs: [1.5, 200, 3000],
      last: false,
      untilUs: 400_000,
      ratePerSec: 125.5,
    };
    expect(decodeMessage(encodeMessage(message))).toEqual(message);
  });

  it('logs a message that cannot be read', () => {
    const logged: Array<{ fields: object; message: string }> = [];
    const log = { error: (fields: object, message: string) => logged.push({ fields, message }) };
    const stop: Message = { type: 'control', taskId: 't1', action: 'stop', drainTimeoutMs: 5 };

    expect(decodeOrLog(new Uint8Array([0xc1]), log, { subject: 'lm.x' })).toBeUndefined();
    expect(decodeOrLog(encodeMessage(stop), log, { subject: 'lm.x' })).toEqual(stop);

    expect(logged).toHaveLength(1);
    expect(logged[0]!.message).toBe('rejected a message that cannot be read');
    expect(logged[0]!.fields).toMatchObject({ subject: 'lm.x', err: expect.any(ProtocolError) });
  });

  it('rejects another protocol version', () => {
    const packr = new Packr({ useRecords: false });
    const data = packr.pack({ v: PROTOCOL_VERSION + 1, type: 'hello', agentId: 'a' });
    expect(() => decodeMessage(data)).toThrow(ProtocolError);
    expect(() => decodeMessage(data)).toThrow(
      `protocol version ${PROTOCOL_VERSION + 1} but this build reads version ${PROTOCOL_VERSION}`,
    );
  });

  it('rejects an unknown type', () => {
    const data = new Packr({ useRecords: false }).pack({ v: PROTOCOL_VERSION, type: 'gossip' });
    expect(() => decodeMessage(data)).toThrow(/unknown type "gossip"/);
  });

  it('rejects bytes that are not msgpack', () => {
    expect(() => decodeMessage(new Uint8Array([0xc1]))).toThrow(ProtocolError);
  });

  it('is plain msgpack with the version key', () => {
    const decoded = new Packr({ useRecords: false }).unpack(
      encodeMessage({ type: 'done', taskId: 't', agentId: 'a', lastTick: 4, incomplete: 0 }),
    );
    expect(decoded).toMatchObject({ v: PROTOCOL_VERSION, type: 'done', lastTick: 4 });
  });
});
