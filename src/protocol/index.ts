export * from './version.ts';
export * from './subjects.ts';
export * from './messages.ts';
export * from './codec.ts';
export * from './histogram.ts';
export * from './redact.ts';
export * from './config/index.ts';
