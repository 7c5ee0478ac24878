import { ConfigError, showValue, suggestKey, type ConfigProblem } from './problems.ts';
import { checkLlmCombinations, parseLlmSection } from './llm.ts';
import { LLM_SECTION } from './llm-schema.ts';
import { MAX_QPS_PER_AGENT, SECTIONS, TOP_LEVEL_KEYS, type FieldSpec } from './schema.ts';
import type { TaskConfig } from './types.ts';

type Json = Record<string, unknown>;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Validates a raw task config and fills in defaults. Collects every problem before it throws,
 * so one run shows the user all that needs fixing.
 */
export function parseTaskConfig(raw: unknown): TaskConfig {
  const problems: ConfigProblem[] = [];

  if (!isObject(raw)) {
    throw new ConfigError([
      {
        path: '(root)',
        value: raw,
        message: `${showValue(raw)} is not a JSON object`,
        fix: 'write the task as {"service": {...}, "data": {...}}',
      },
    ]);
  }

  checkUnknownKeys(raw, problems);
  const resolved: Json = {};
  for (const [section, fields] of Object.entries(SECTIONS)) {
    resolved[section] = parseSection(section, raw[section], fields, problems);
  }

  const name = raw.name;
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    problems.push({
      path: 'name',
      value: name,
      message: `${showValue(name)} is not a non-empty string`,
      fix: 'give the task a name such as "checkout-api"',
    });
  }

  const config = resolved as unknown as TaskConfig;
  if (raw.llm !== undefined) {
    config.llm = parseLlmSection(raw.llm, config, (section, value, fields) =>
      parseSection(section, value, fields, problems),
    );
  }
  config.optional.mode ??= config.optional.qps !== undefined ? 'rate' : 'manual';
  // Combination checks read only keys that parsed, so they run even when others did not.
  checkCombinations(config, problems);
  if (config.llm) checkLlmCombinations(config, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  config.optional.drainTimeout ??= config.http.timeout;
  config.name = typeof name === 'string' && name.trim() !== '' ? name.trim() : defaultName(config);
  return config;
}

function checkUnknownKeys(raw: Json, problems: ConfigProblem[]): void {
  const allFields = Object.entries({ ...SECTIONS, llm: LLM_SECTION }).flatMap(([s, f]) =>
    Object.keys(f).map((k) => `${s}.${k}`),
  );

  for (const key of Object.keys(raw)) {
    if (TOP_LEVEL_KEYS.includes(key)) continue;

    // A key written at the top level that belongs in a section is the most common slip.
    const fieldNames = allFields.map((f) => f.slice(f.indexOf('.') + 1));
    const nearField = suggestKey(key, fieldNames);
    const inSection = nearField && allFields.find((f) => f.endsWith(`.${nearField}`));
    const suggestion = suggestKey(key, TOP_LEVEL_KEYS) ?? inSection;
    problems.push(unknownKey(key, raw[key], suggestion));
  }
}

function parseSection(
  section: string,
  raw: unknown,
  fields: Record<string, FieldSpec>,
  problems: ConfigProblem[],
): Json {
  const out: Json = {};
  if (raw !== undefined && !isObject(raw)) {
    problems.push({
      path: section,
      value: raw,
      message: `${showValue(raw)} is not an object`,
      fix: `write ${section} as {"key": value}`,
    });
    raw = {};
  }
  const given = (raw ?? {}) as Json;

  for (const key of Object.keys(given)) {
    if (key in fields) continue;
    const suggestion = suggestKey(key, Object.keys(fields));
    problems.push(
      unknownKey(`${section}.${key}`, given[key], suggestion && `${section}.${suggestion}`),
    );
  }

  for (const [key, spec] of Object.entries(fields)) {
    const value = parseField(`${section}.${key}`, given[key], spec, problems);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function parseField(
  path: string,
  value: unknown,
  spec: FieldSpec,
  problems: ConfigProblem[],
): unknown {
  const bad = (message: string): undefined => {
    problems.push({ path, value, message: `${showValue(value)} ${message}`, fix: spec.fix });
    return undefined;
  };

  if (value === undefined || value === null) {
    if ('required' in spec && spec.required) {
      problems.push({ path, value, message: 'is missing', fix: spec.fix });
      return undefined;
    }
    if ('default' in spec) return spec.default;
    return spec.type === 'headers' ? {} : undefined;
  }

  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string' || value.trim() === '') return bad('is not a non-empty string');
      if (!spec.values) return value;
      const match = spec.values.find((v) => v.toLowerCase() === value.toLowerCase());
      return match ?? bad(`is not one of ${spec.values.join(', ')}`);
    }
    case 'url':
      return parseUrl(value, bad);
    case 'base64': {
      if (typeof value !== 'string') return bad('is not a base64 string');
      const compact = value.replace(/\s+/g, '');
      if (!BASE64.test(compact) || compact.length % 4 === 1) return bad('is not valid base64');
      return compact;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return bad('is not a number');
      if (spec.type === 'integer' && !Number.isInteger(value)) return bad('is not a whole number');
      const belowMin = spec.exclusiveMin ? value <= spec.min : value < spec.min;
      if (belowMin)
        return bad(
          `is too small: it must be ${spec.exclusiveMin ? 'greater than' : 'at least'} ${spec.min}`,
        );
      if (spec.max !== undefined && value > spec.max)
        return bad(`is too large: it must be at most ${spec.max}`);
      return value;
    }
    case 'boolean':
      return typeof value === 'boolean' ? value : bad('is not true or false');
    case 'headers':
      return parseHeaders(path, value, spec.fix, problems);
  }
}

function parseUrl(value: unknown, bad: (message: string) => undefined): string | undefined {
  if (typeof value !== 'string') return bad('is not a URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return bad('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return bad(`has scheme ${url.protocol} but only http: and https: are supported`);
  return value;
}

/** Accepts {"Name": "value"} or ["Name: value", ...]; returns a plain name-to-value object. */
function parseHeaders(
  path: string,
  value: unknown,
  fix: string,
  problems: ConfigProblem[],
): Record<string, string> {
  const headers: Record<string, string> = {};
  const entries: [string, unknown][] = [];

  if (Array.isArray(value)) {
    value.forEach((line, i) => {
      const colon = typeof line === 'string' ? line.indexOf(':') : -1;
      if (colon <= 0) {
        problems.push({
          path: `${path}[${i}]`,
          value: '(hidden)',
          // Only the first word is shown: the rest may be a credential.
          message: `${showValue(firstWord(line))}... is not a "Name: value" string`,
          fix,
        });
        return;
      }
      entries.push([
        (line as string).slice(0, colon).trim(),
        (line as string).slice(colon + 1).trim(),
      ]);
    });
  } else if (isObject(value)) {
    entries.push(...Object.entries(value));
  } else {
    problems.push({ path, value, message: `${showValue(value)} is not an object or a list`, fix });
    return headers;
  }

  for (const [name, headerValue] of entries) {
    const where = `${path}.${name}`;
    if (!HEADER_NAME.test(name)) {
      problems.push({
        path: where,
        value: name,
        message: `${showValue(name)} is not a valid header name`,
        fix: 'use letters, digits and dashes, e.g. X-Request-Id',
      });
    } else if (typeof headerValue !== 'string' && typeof headerValue !== 'number') {
      problems.push({
        path: where,
        value: headerValue,
        message: `${showValue(headerValue)} is not a string`,
        fix: 'give the header value as a string',
      });
    } else if (/[\r\n]/.test(String(headerValue))) {
      problems.push({
        path: where,
        value: '(hidden)',
        message: 'contains a line break',
        fix: 'remove the line break from the header value',
      });
    } else {
      headers[name] = String(headerValue);
    }
  }
  return headers;
}

function checkCombinations(config: TaskConfig, problems: ConfigProblem[]): void {
  const { data, optional } = config;

  if (data.content !== undefined && data.path !== undefined) {
    problems.push({
      path: 'data',
      value: data,
      message: 'has both content and path',
      fix: 'keep data.content for one body or data.path for files, not both',
    });
  }
  if (data.multiLine && data.path === undefined) {
    problems.push({
      path: 'data.multiLine',
      value: true,
      message: 'needs data.path',
      fix: 'set data.path to the file to split by line, or remove multiLine',
    });
  }
  // A qps given but invalid has its own problem already.
  const qpsReported = problems.some((problem) => problem.path === 'optional.qps');
  if (optional.mode === 'rate' && optional.qps === undefined && !qpsReported) {
    problems.push({
      path: 'optional.qps',
      value: undefined,
      message: 'is missing but mode is rate',
      fix: 'set optional.qps (or --rate) to the arrival rate in requests per second',
    });
  }
  const maxQps = MAX_QPS_PER_AGENT * optional.agentCount;
  if (optional.qps !== undefined && optional.qps > maxQps) {
    problems.push({
      path: 'optional.qps',
      value: optional.qps,
      message: `${optional.qps} req/s is above the ${MAX_QPS_PER_AGENT} req/s that one agent can be dealt, times ${optional.agentCount} agent(s)`,
      fix: 'lower the rate, or spread it over more agents with optional.agentCount (--agents)',
    });
  }
  if (optional.qps !== undefined && optional.mode !== 'rate') {
    problems.push({
      path: 'optional.qps',
      value: optional.qps,
      message: `${optional.qps} is only used in rate mode but mode is ${optional.mode}`,
      fix: 'set optional.mode to "rate" or remove optional.qps',
    });
  }
  if (
    optional.mode === 'scan' &&
    optional.maxQPS !== undefined &&
    optional.maxQPS < optional.minQPS
  ) {
    problems.push({
      path: 'optional.maxQPS',
      value: optional.maxQPS,
      message: `${optional.maxQPS} is below optional.minQPS (${optional.minQPS})`,
      fix: 'make maxQPS at least minQPS',
    });
  }
}

function unknownKey(path: string, value: unknown, suggestion: string | undefined): ConfigProblem {
  return {
    path,
    value,
    message: 'is not a known key',
    fix: suggestion
      ? `did you mean ${suggestion}?`
      : 'remove it; see the task config reference in the README',
  };
}

function defaultName(config: TaskConfig): string {
  if (config.service.serviceName) return config.service.serviceName;
  const url = new URL(config.service.url);
  // An IPv6 host such as [::1] would otherwise leave only dashes and digits.
  const host = url.hostname.startsWith('[') ? `ipv6-${url.hostname}` : url.hostname;
  const name = `${host}${url.pathname === '/' ? '' : url.pathname}`
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return name === '' ? 'task' : name;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstWord(line: unknown): unknown {
  return typeof line === 'string' ? line.trim().split(/\s+/)[0] : line;
}
