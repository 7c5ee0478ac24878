import { FAULT_ACTIONS, LOAD_MODES } from './types.ts';

/** Rules for one key of the task config; `fix` describes a valid value. */
export type FieldSpec =
  | { type: 'string'; required?: boolean; values?: readonly string[]; fix: string }
  | { type: 'url'; required?: boolean; fix: string }
  | { type: 'base64'; fix: string }
  | {
      type: 'integer' | 'number';
      default?: number;
      /** Smallest valid value; `exclusiveMin` makes it an open bound. */
      min: number;
      exclusiveMin?: boolean;
      max?: number;
      fix: string;
    }
  | { type: 'boolean'; default: boolean; fix: string }
  | { type: 'headers'; fix: string };

export type SectionSpec = Record<string, FieldSpec>;

export const UINT32_MAX = 2 ** 32 - 1;

/**
 * Highest open-loop rate per agent, in requests per second. Rate tokens for one agent then stay
 * near 10,000 offsets per 100 ms tick, well inside NATS's default 1 MB message limit.
 */
export const MAX_QPS_PER_AGENT = 100_000;

export const SECTIONS: Record<string, SectionSpec> = {
  service: {
    serviceName: { type: 'string', fix: 'set a short name such as "demo"' },
    url: {
      type: 'url',
      required: true,
      fix: 'set service.url (or --url) to the full http(s) address, e.g. http://127.0.0.1:8000/predict',
    },
  },
  data: {
    content: {
      type: 'base64',
      fix: 'encode the body with: echo -n \'{"key": "value"}\' | base64',
    },
    path: {
      type: 'string',
      fix: 'give local files, http(s) URLs or .zip archives separated by commas',
    },
    multiLine: { type: 'boolean', default: false, fix: 'use true or false' },
  },
  http: {
    method: {
      type: 'string',
      values: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
      fix: 'use an HTTP method such as GET or POST',
    },
    headers: {
      type: 'headers',
      fix: 'use an object such as {"Authorization": "Bearer ..."} or a list of "Name: value" strings',
    },
    timeout: {
      type: 'integer',
      default: 20_000,
      min: 1,
      fix: 'give the per-request timeout in milliseconds, e.g. 20000',
    },
    caFile: { type: 'string', fix: 'give the path of a PEM file with the CA certificate' },
    insecure: { type: 'boolean', default: false, fix: 'use true or false' },
  },
  optional: {
    mode: { type: 'string', values: LOAD_MODES, fix: `use one of ${LOAD_MODES.join(', ')}` },
    duration: {
      type: 'number',
      default: 600,
      min: 0,
      exclusiveMin: true,
      fix: 'give the test duration in seconds, e.g. 60',
    },
    requestCount: {
      type: 'integer',
      min: 1,
      fix: 'give the total number of requests, e.g. 1000, or leave it out to run for the duration',
    },
    agentCount: {
      type: 'integer',
      default: 1,
      min: 1,
      max: 10_000,
      fix: 'give a number of agents such as 1',
    },
    concurrency: {
      type: 'integer',
      default: 2,
      min: 1,
      max: 1_000_000,
      fix: 'give the number of requests in flight per agent, e.g. 8',
    },
    qps: {
      type: 'number',
      min: 0,
      exclusiveMin: true,
      fix: 'give the arrival rate of the whole task in requests per second, e.g. 100',
    },
    burstiness: {
      type: 'number',
      default: 1,
      min: 0,
      exclusiveMin: true,
      fix: 'use 1 for Poisson arrivals, a value below 1 for burstier, above 1 for more even',
    },
    seed: {
      type: 'integer',
      default: 0,
      min: 0,
      max: UINT32_MAX,
      fix: `use an integer from 0 to ${UINT32_MAX}`,
    },
    maxQPS: {
      type: 'number',
      min: 0,
      exclusiveMin: true,
      fix: 'give the highest request rate allowed, in requests per second',
    },
    maxRT: {
      type: 'number',
      min: 0,
      exclusiveMin: true,
      fix: 'give the p99 response time limit in milliseconds',
    },
    minQPS: {
      type: 'number',
      default: 100,
      min: 0,
      exclusiveMin: true,
      fix: 'give the starting rate of scan mode in requests per second',
    },
    qpsGrowthDelta: {
      type: 'number',
      default: 50,
      min: 0,
      exclusiveMin: true,
      fix: 'give the rate step of scan mode in requests per second',
    },
    adjustInterval: {
      type: 'number',
      default: 60,
      min: 0,
      exclusiveMin: true,
      fix: 'give the seconds between rate steps of scan mode',
    },
    faultTolerate: {
      type: 'number',
      default: 0.001,
      min: 0,
      max: 1,
      fix: 'give the tolerated fraction of failed requests, e.g. 0.01 for 1%',
    },
    faultAction: {
      type: 'string',
      values: FAULT_ACTIONS,
      fix: `use one of ${FAULT_ACTIONS.join(', ')}`,
    },
    drainTimeout: {
      type: 'integer',
      min: 0,
      fix: 'give the milliseconds that in-flight requests get to finish at the end',
    },
  },
};

export const TOP_LEVEL_KEYS = ['name', ...Object.keys(SECTIONS), 'llm'];
