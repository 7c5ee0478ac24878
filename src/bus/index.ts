export * from './bus.ts';
export { MemoryBus } from './memory.ts';
export { PortBus, bridgePort } from './port.ts';
export { subjectMatches, newInbox } from './subject.ts';
