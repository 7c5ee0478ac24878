import { describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import {
  addSparseCounts,
  createLatencyHistogram,
  decodeSparseCounts,
  decodeHistogram,
  encodeHistogram,
  recordLatencyUs,
  summarizeLatency,
} from '../../src/protocol/index.ts';
import { SeededRandom } from '../../src/protocol/random.ts';

// Encoding of a histogram holding 1, 10, 100, ..., 1e9 microseconds once each, in the
// standard HdrHistogram V2 compressed format. A change here breaks agents of older builds.
const GOLDEN_DECADES =
  'HISTFAAAAD94nJNpmSzMwMAgw8DAwMjAwMDMAAEgNsO1yUsY4HwmfqaNjEytfEwfjZnemjB1mzEdNmG6b8L005QJAAxNCxw=';

function decadesHistogram() {
  const histogram = createLatencyHistogram();
  for (let exponent = 0; exponent <= 9; exponent++) recordLatencyUs(histogram, 10 ** exponent);
  return histogram;
}

describe('histogram codec', () => {
  it('encodes to the golden fixture', () => {
    expect(encodeHistogram(decadesHistogram())).toBe(GOLDEN_DECADES);
  });

  it('decodes the golden fixture', () => {
    const decoded = decodeHistogram(GOLDEN_DECADES);
    expect(decoded.totalCount).toBe(10);
    expect(summarizeLatency(decoded)).toEqual(summarizeLatency(decadesHistogram()));
  });

  it('round trip keeps every percentile', () => {
    const random = new SeededRandom(3);
    const histogram = createLatencyHistogram();
    for (let i = 0; i < 50_000; i++) recordLatencyUs(histogram, random.gamma(2, 5_000));

    const decoded = decodeHistogram(encodeHistogram(histogram));
    for (const p of [0, 1, 25, 50, 90, 99, 99.9, 99.99, 100]) {
      expect(decoded.getValueAtPercentile(p)).toBe(histogram.getValueAtPercentile(p));
    }
  });

  it('clamps values outside the range', () => {
    const histogram = createLatencyHistogram();
    recordLatencyUs(histogram, 0);
    recordLatencyUs(histogram, 1e12);
    expect(histogram.totalCount).toBe(2);
    expect(histogram.minNonZeroValue).toBe(1);
  });
});

describe('merged histograms', () => {
  it('equal one histogram of every sample', () => {
    const random = new SeededRandom(11);
    const whole = createLatencyHistogram();
    const agents = [
      createLatencyHistogram(),
      createLatencyHistogram(),
      createLatencyHistogram(),
      createLatencyHistogram(),
    ];

    // Agents see different latency shapes, as agents on different hosts do.
    for (let i = 0; i < 100_000; i++) {
      const agent = i % agents.length;
      const latencyUs = random.gamma(0.5 + agent, 2_000 * (agent + 1));
      recordLatencyUs(whole, latencyUs);
      recordLatencyUs(agents[agent]!, latencyUs);
    }

    const merged = createLatencyHistogram();
    for (const histogram of agents) merged.add(decodeHistogram(encodeHistogram(histogram)));

    expect(merged.totalCount).toBe(whole.totalCount);
    expect(summarizeLatency(merged)).toEqual(summarizeLatency(whole));
    for (const p of [50, 90, 95, 99, 99.9])
      expect(merged.getValueAtPercentile(p)).toBe(whole.getValueAtPercentile(p));
  });

  it('differ from averaged per-agent percentiles', () => {
    // The reason merging exists: averaging percentiles is wrong when agents differ.
    const fast = createLatencyHistogram();
    const slow = createLatencyHistogram();
    for (let i = 0; i < 1000; i++) recordLatencyUs(fast, 1_000);
    for (let i = 0; i < 10; i++) recordLatencyUs(slow, 100_000);

    const merged = createLatencyHistogram();
    merged.add(fast);
    merged.add(slow);
    const averagedP99 = (fast.getValueAtPercentile(99) + slow.getValueAtPercentile(99)) / 2;
    expect(merged.getValueAtPercentile(99)).not.toBe(averagedP99);
    expect(merged.getValueAtPercentile(99)).toBeLessThan(1_100);
  });
});

describe('sparse counts', () => {
  it('merge equals a full decode', () => {
    const random = new SeededRandom(5);
    const source = createLatencyHistogram();
    for (let i = 0; i < 20_000; i++) recordLatencyUs(source, random.gamma(0.7, 40_000));
    const encoded = encodeHistogram(source);

    const full = createLatencyHistogram();
    full.add(decodeHistogram(encoded));
    const sparse = createLatencyHistogram();
    addSparseCounts(sparse, decodeSparseCounts(encoded)!);

    expect(summarizeLatency(sparse)).toEqual(summarizeLatency(full));
    expect(summarizeLatency(sparse)).toEqual(summarizeLatency(source));
  });

  it('reads the golden fixture', () => {
    const sparse = decodeSparseCounts(GOLDEN_DECADES)!;
    expect(sparse.counts.reduce((a, b) => a + b, 0)).toBe(10);
    expect(sparse.indexes).toHaveLength(10);
  });

  it('declines another bucket layout', () => {
    const other = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 2,
    });
    other.recordValue(1234);
    expect(decodeSparseCounts(hdr.encodeIntoCompressedBase64(other))).toBeUndefined();
  });
});
