import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

export type { Histogram };

/** One hour in microseconds: latencies above it are recorded as one hour. */
export const MAX_LATENCY_US = 3_600_000_000;

/** Creates a latency histogram in microseconds with 3 significant digits. */
export function createLatencyHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_LATENCY_US,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** Records a latency, rounding to whole microseconds and clamping to the histogram's range. */
export function recordLatencyUs(histogram: Histogram, latencyUs: number): void {
  const value = Math.min(MAX_LATENCY_US, Math.max(1, Math.round(latencyUs)));
  histogram.recordValue(value);
}

/** Encodes a histogram in the standard HdrHistogram compressed format, as base64. */
export function encodeHistogram(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Latency distribution in microseconds; all zeros when the histogram is empty. */
export interface LatencySummary {
  count: number;
  minUs: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p95Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export function summarizeLatency(histogram: Histogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) {
    return {
      count: 0,
      minUs: 0,
      meanUs: 0,
      p50Us: 0,
      p90Us: 0,
      p95Us: 0,
      p99Us: 0,
      p999Us: 0,
      maxUs: 0,
    };
  }
  return {
    count,
    minUs: histogram.minNonZeroValue,
    meanUs: Math.round(histogram.mean),
    p50Us: histogram.getValueAtPercentile(50),
    p90Us: histogram.getValueAtPercentile(90),
    p95Us: histogram.getValueAtPercentile(95),
    p99Us: histogram.getValueAtPercentile(99),
    p999Us: histogram.getValueAtPercentile(99.9),
    // The percentile form gives the bucket's highest equivalent value, as a decoded copy does.
    maxUs: histogram.getValueAtPercentile(100),
  };
}
