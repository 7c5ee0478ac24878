import { createRandom } from '../../src/llm/random.ts';

/** How a test body is cut into reads, as a socket might deliver it. */
export interface Split {
  name: string;
  cut(body: Uint8Array): Uint8Array[];
}

export const wholeBody: Split = { name: 'whole', cut: (body) => [body] };

export const byteByByte: Split = {
  name: 'byte by byte',
  cut: (body) => Array.from(body, (_, index) => body.subarray(index, index + 1)),
};

/** Cuts the body at seeded random points into reads of 1 to `maxReadBytes` bytes. */
export function randomSplit(seed: number, maxReadBytes = 17): Split {
  return {
    name: `random seed ${seed}`,
    cut: (body) => {
      const random = createRandom(seed);
      const reads: Uint8Array[] = [];
      let offset = 0;
      while (offset < body.length) {
        const size = 1 + Math.floor(random() * maxReadBytes);
        reads.push(body.subarray(offset, offset + size));
        offset += size;
      }
      return reads;
    },
  };
}

/** Whole, byte by byte, and ten seeded random splits. */
export const allSplits: Split[] = [
  wholeBody,
  byteByByte,
  ...Array.from({ length: 10 }, (_, index) => randomSplit(index + 1)),
];

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
