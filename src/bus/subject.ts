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
