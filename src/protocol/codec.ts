import { Packr } from 'msgpackr';
import { MESSAGE_TYPES, type Message } from './messages.ts';
import { PROTOCOL_VERSION } from './version.ts';

/** A message that cannot be read: another protocol version, no known type, or bad msgpack. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code = 'ERR_PROTOCOL';
}

// Records off: each message is a plain map, readable by any msgpack decoder.
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeMessage(message: Message): Uint8Array {
  return packr.pack({ v: PROTOCOL_VERSION, ...message });
}

/** Decodes and checks the version and type; throws ProtocolError instead of returning part of a message. */
export function decodeMessage(data: Uint8Array): Message {
  let decoded: unknown;
  try {
    decoded = packr.unpack(data);
  } catch (error) {
    throw new ProtocolError('message is not valid msgpack', { cause: error });
  }

  if (typeof decoded !== 'object' || decoded === null) {
    throw new ProtocolError(`message is a ${typeof decoded}, not a map`);
  }
  const { v, ...message } = decoded as { v?: unknown; type?: unknown };
  if (v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      `message has protocol version ${String(v)} but this build reads version ${PROTOCOL_VERSION}`,
    );
  }
  if (!MESSAGE_TYPES.includes(message.type as Message['type'])) {
    throw new ProtocolError(`message has unknown type ${JSON.stringify(message.type)}`);
  }
  return message as Message;
}

/** The one logger method that `decodeOrLog` calls, as pino has it. */
export interface ErrorLog {
  error(fields: object, message: string): void;
}

/**
 * Decodes a message, or logs why it cannot be read, with `fields` to name where it came from,
 * and returns undefined, so that a receiver skips it and goes on.
 */
export function decodeOrLog(data: Uint8Array, log: ErrorLog, fields: object): Message | undefined {
  try {
    return decodeMessage(data);
  } catch (error) {
    log.error({ ...fields, err: error }, 'rejected a message that cannot be read');
    return undefined;
  }
}
