import { describe, expect, it } from 'vitest';
import { ConfigError, parseTaskConfig, redactHeaders } from '../../src/protocol/index.ts';

const base = { service: { url: 'http://127.0.0.1:8080/predict' } };

function problemsOf(raw: unknown): string[] {
  try {
    parseTaskConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError)
      return error.problems.map((p) => `${p.path}: ${p.message}. ${p.fix}`);
    throw error;
  }
  return [];
}

describe('parseTaskConfig', () => {
  it('fills the documented defaults', () => {
    const config = parseTaskConfig(base);
    expect(config.http.timeout).toBe(20_000);
    expect(config.optional).toMatchObject({
      mode: 'manual',
      duration: 600,
      agentCount: 1,
      concurrency: 2,
      burstiness: 1,
      seed: 0,
      minQPS: 100,
      qpsGrowthDelta: 50,
      adjustInterval: 60,
      faultTolerate: 0.001,
      drainTimeout: 20_000,
    });
    expect(config.data.multiLine).toBe(false);
    expect(config.name).toBe('127.0.0.1-predict');
  });

  it('accepts the reference product manual-mode JSON', () => {
    const config = parseTaskConfig({
      service: { serviceName: 'demo', url: 'http://127.0.0.1:8080/' },
      data: { content: 'aGVsbG8K' },
      optional: { mode: 'manual', agentCount: 1, concurrency: 5 },
    });
    expect(config.name).toBe('demo');
    expect(config.optional.concurrency).toBe(5);
    expect(config.data.content).toBe('aGVsbG8K');
  });

  it('qps alone selects rate mode', () => {
    expect(parseTaskConfig({ ...base, optional: { qps: 50 } }).optional.mode).toBe('rate');
  });

  it('mode names ignore case', () => {
    expect(parseTaskConfig({ ...base, optional: { mode: 'Manual' } }).optional.mode).toBe('manual');
  });

  it('headers accept an object or "Name: value" lines', () => {
    const fromObject = parseTaskConfig({
      ...base,
      http: { headers: { Authorization: 'Bearer x' } },
    });
    const fromLines = parseTaskConfig({ ...base, http: { headers: ['Authorization: Bearer x'] } });
    expect(fromObject.http.headers).toEqual({ Authorization: 'Bearer x' });
    expect(fromLines.http.headers).toEqual(fromObject.http.headers);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({
      service: {},
      optional: { concurrency: 0, seed: 2 ** 32, burstiness: 0, concurency: 3 },
      data: { content: 'not base64!' },
    });
    expect(problems).toHaveLength(6);
    expect(problems).toContainEqual(expect.stringMatching(/^service\.url: is missing/));
    expect(problems).toContainEqual(
      expect.stringMatching(/^optional\.concurrency: 0 is too small: it must be at least 1/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/^optional\.seed: 4294967296 is too large/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/^optional\.burstiness: 0 is too small: it must be greater than 0/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/^optional\.concurency: .*did you mean optional\.concurrency\?/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/^data\.content: "not base64!" is not valid base64/),
    );
  });

  it.each([
    [{ concurrency: 1 }, 'concurrency: is not a known key. did you mean optional.concurrency?'],
    [{ sevice: base.service }, 'sevice: is not a known key. did you mean service?'],
    [
      { ...base, optional: { maxQps: 5 } },
      'optional.maxQps: is not a known key. did you mean optional.maxQPS?',
    ],
    [
      { ...base, http: { timeuot: 5 } },
      'http.timeuot: is not a known key. did you mean http.timeout?',
    ],
    [
      { ...base, llm: { modelId: 'a/b', inputLen: 16 } },
      'llm.inputLen: is not a known key. did you mean llm.inputLength?',
    ],
  ])('suggests a near key for %j', (raw, expected) => {
    expect(problemsOf(raw)).toContain(expected);
  });

  it('rejects a scheme other than http and https', () => {
    expect(problemsOf({ service: { url: 'ftp://127.0.0.1/' } })[0]).toMatch(
      /has scheme ftp: but only http: and https: are supported/,
    );
  });

  it('rejects rate mode without qps', () => {
    expect(problemsOf({ ...base, optional: { mode: 'rate' } })[0]).toMatch(
      /optional\.qps: is missing but mode is rate/,
    );
  });

  it('names a task after an IPv6 host', () => {
    expect(parseTaskConfig({ service: { url: 'http://[::1]:8080/' } }).name).toBe('ipv6-1');
    expect(parseTaskConfig({ service: { url: 'http://[fe80::2]/v1/' } }).name).toBe(
      'ipv6-fe80-2-v1',
    );
  });

  it('takes either model name for both', () => {
    const byName = parseTaskConfig({ ...base, llm: { modelName: 'org/served', tokenizer: 't' } });
    const byId = parseTaskConfig({ ...base, llm: { modelId: 'org/model' } });

    expect(byName.llm).toMatchObject({ modelId: 'org/served', modelName: 'org/served' });
    expect(byId.llm).toMatchObject({ modelId: 'org/model', modelName: 'org/model' });
  });

  it('rejects an LLM task without a model', () => {
    expect(problemsOf({ ...base, llm: { tokenizer: 't' } })).toEqual([
      expect.stringMatching(/^llm\.modelId: is missing\. .*or llm\.modelName \(or --model-name\)/),
    ]);
  });

  it('rejects a header value with a line break without echoing it', () => {
    const [problem] = problemsOf({
      ...base,
      http: { headers: { 'X-Api-Key': 'secret\r\nX-Evil: 1' } },
    });
    expect(problem).toMatch(/contains a line break/);
    expect(problem).not.toContain('secret');
  });

  it('rejects a root that is not an object', () => {
    expect(() => parseTaskConfig([1, 2])).toThrow(/is not a JSON object/);
  });
});

describe('redactHeaders', () => {
  it('hides credentials and keeps the rest', () => {
    expect(
      redactHeaders({
        Authorization: 'Bearer abc',
        'X-Api-Key': 'k',
        Cookie: 'c',
        'Content-Type': 'application/json',
        'X-Request-Id': '1',
      }),
    ).toEqual({
      Authorization: '[redacted]',
      'X-Api-Key': '[redacted]',
      Cookie: '[redacted]',
      'Content-Type': 'application/json',
      'X-Request-Id': '1',
    });
  });
});
