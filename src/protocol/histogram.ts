import * as hdr from 'hdr-histogram-js';
import { inflateSync } from 'node:zlib';
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
    // The bucket's lowest value, because a histogram merged from bucket counts stores only that.
    minUs: (histogram as JsBuckets).lowestEquivalentValue(histogram.minNonZeroValue),
    meanUs: Math.round(meanOf(histogram as JsBuckets, count)),
    p50Us: histogram.getValueAtPercentile(50),
    p90Us: histogram.getValueAtPercentile(90),
    p95Us: histogram.getValueAtPercentile(95),
    p99Us: histogram.getValueAtPercentile(99),
    p999Us: histogram.getValueAtPercentile(99.9),
    // The percentile form gives the bucket's highest equivalent value, as a decoded copy does.
    maxUs: histogram.getValueAtPercentile(100),
  };
}

/** Bucket methods of hdr-histogram-js's JsHistogram that its Histogram interface leaves out. */
type JsBuckets = Histogram & {
  valueFromIndex(index: number): number;
  medianEquivalentValue(value: number): number;
  getCountAtIndex(index: number): number;
  countsArrayLength: number;
  _counts?: Int32Array;
  lowestEquivalentValue(value: number): number;
  highestEquivalentValue(value: number): number;
  addToCountAtIndex(index: number, count: number): void;
  setTotalCount(count: number): void;
  updatedMaxValue(value: number): void;
  updateMinNonZeroValue(value: number): void;
};

/** The non-zero buckets of an encoded histogram: bucket indexes and their counts. */
export interface SparseCounts {
  indexes: number[];
  counts: number[];
}

const COMPRESSED_COOKIE_BASE = 0x1c849304;
const ENCODING_COOKIE_BASE = 0x1c849303;
const V2_HEADER_BYTES = 40;

/**
 * Reads the bucket counts of a histogram in the standard V2 compressed encoding without building
 * a histogram: merging a few hundred non-zero buckets costs far less than decoding and adding
 * arrays of 23,552 counts. Returns undefined for an encoding of another bucket layout, which
 * the caller then decodes in full.
 */
export function decodeSparseCounts(encoded: string): SparseCounts | undefined {
  const compressed = Buffer.from(encoded, 'base64');
  const outer = new DataView(compressed.buffer, compressed.byteOffset, compressed.byteLength);
  if ((outer.getInt32(0) & ~0xf0) !== COMPRESSED_COOKIE_BASE) return undefined;
  const payload = inflateSync(compressed.subarray(8, 8 + outer.getInt32(4)));

  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if ((view.getInt32(0) & ~0xf0) !== ENCODING_COOKIE_BASE) return undefined;
  const payloadBytes = view.getInt32(4);
  const digits = view.getInt32(12);
  const lowest = Number(view.getBigInt64(16));
  const highest = Number(view.getBigInt64(24));
  if (digits !== 3 || lowest !== 1 || highest !== MAX_LATENCY_US) return undefined;

  const sparse: SparseCounts = { indexes: [], counts: [] };
  let offset = V2_HEADER_BYTES;
  const end = V2_HEADER_BYTES + payloadBytes;
  let index = 0;
  while (offset < end) {
    // ZigZag LEB128-64b9B: 7 bits a byte for 8 bytes, then 8; negative values are zero runs.
    let value = 0;
    let scale = 1;
    for (let byte = 0; byte < 9; byte++) {
      const b = payload[offset++]!;
      if (byte === 8) {
        value += b * scale;
        break;
      }
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) break;
    }
    const count = value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    if (count < 0) {
      index += -count;
    } else {
      if (count > 0) {
        sparse.indexes.push(index);
        sparse.counts.push(count);
      }
      index += 1;
    }
  }
  return sparse;
}

/** Adds sparse counts to a latency histogram of the same layout, bucket by bucket. */
export function addSparseCounts(target: Histogram, sparse: SparseCounts): void {
  const { indexes, counts } = sparse;
  if (indexes.length === 0) return;

  const histogram = target as JsBuckets;
  let total = 0;
  for (let i = 0; i < indexes.length; i++) {
    histogram.addToCountAtIndex(indexes[i]!, counts[i]!);
    total += counts[i]!;
  }
  // The same bookkeeping as the library's own add() of a histogram of the same layout.
  histogram.setTotalCount(histogram.totalCount + total);
  const highest = histogram.highestEquivalentValue(
    histogram.valueFromIndex(indexes[indexes.length - 1]!),
  );
  histogram.updatedMaxValue(Math.max(histogram.maxValue, highest));
  const lowest = histogram.valueFromIndex(indexes[0]!);
  if (lowest > 0) histogram.updateMinNonZeroValue(Math.min(histogram.minNonZeroValue, lowest));
}

/**
 * Returns the mean as HdrHistogram defines it (each bucket at its median equivalent value) in one
 * plain pass over the counts; the library's own getter walks an iterator, about 10x slower.
 */
function meanOf(histogram: JsBuckets, count: number): number {
  // The 32-bit histograms built here keep their counts in a typed array, the fastest to scan.
  const counts = histogram._counts;
  const length = histogram.countsArrayLength;
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const bucketCount = counts ? counts[i]! : histogram.getCountAtIndex(i);
    if (bucketCount > 0)
      sum += histogram.medianEquivalentValue(histogram.valueFromIndex(i)) * bucketCount;
  }
  return sum / count;
}
