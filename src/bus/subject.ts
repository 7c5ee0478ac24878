import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  RequestTimeoutError,
  type Bus,
  type RequestOptions,
} from './bus.ts';

/** Tells whether a NATS-style subscription pattern (`*` one token, `>` the rest) matches a subject. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;

  const want = pattern.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === '>') return have.length > i;
    if (i >= have.length) return false;
    if (token !== '*' && token !== have[i]) return false;
  }
  return want.length === have.length;
}

let inboxCounter = 0;

/** Returns a reply subject that no other request of this process uses. */
export function newInbox(prefix = '_INBOX'): string {
  inboxCounter += 1;
  return `${prefix}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.${inboxCounter}`;
}

/**
 * Request-reply on any bus that can publish and subscribe: a private inbox subject, the first
 * reply wins, and RequestTimeoutError when none comes within `timeoutMs`.
 */
export function requestViaInbox(
  bus: Pick<Bus, 'publish' | 'subscribe'>,
  subject: string,
  data: Uint8Array,
  options: RequestOptions = {},
): Promise<Uint8Array> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const inbox = newInbox();

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new RequestTimeoutError(`no reply on ${subject} within ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = bus.subscribe(inbox, (reply) => {
      clearTimeout(timer);
      subscription.unsubscribe();
      resolve(reply.data);
    });
    bus.publish(subject, data, { reply: inbox });
  });
}
