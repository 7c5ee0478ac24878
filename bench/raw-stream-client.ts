/**
 * The ceiling for bench/llm-stream.ts: undici's dispatch reads each streamed response and only
 * counts its bytes, with no SSE parsing, JSON or timing. Prints {"tokensPerSec": N}.
 *
 * Run: node --import tsx bench/raw-stream-client.ts URL STREAMS TOKENS REQUESTS
 */
import { Pool } from 'undici';

const [url, streamsText, tokensText, requestsText] = process.argv.slice(2);
const streams = Number(streamsText);
const tokens = Number(tokensText);
const requests = Number(requestsText);
const pool = new Pool(url!, { connections: streams });
const body = JSON.stringify({
  model: 'mock-llm',
  messages: [{ role: 'user', content: 'hello '.repeat(16) }],
  max_tokens: tokens,
  stream: true,
  ignore_eos: true,
});

let started = 0;
let finished = 0;
let bytes = 0;
const startMs = performance.now();

await new Promise<void>((resolve, reject) => {
  const next = (): void => {
    if (started >= requests) {
      if (finished === requests) resolve();
      return;
    }
    started += 1;
    pool.dispatch(
      {
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      },
      {
        onRequestStart() {},
        onResponseStart() {},
        onResponseData(_controller, chunk: Buffer) {
          bytes += chunk.length;
        },
        onResponseEnd() {
          finished += 1;
          next();
        },
        onResponseError(_controller, error: Error) {
          reject(error);
        },
      },
    );
  };
  for (let i = 0; i < streams; i++) next();
});

const seconds = (performance.now() - startMs) / 1000;
await pool.close();
console.log(JSON.stringify({ tokensPerSec: (requests * tokens) / seconds, bytes, seconds }));
