/**
 * A model's tokenizer, loaded with @huggingface/tokenizers from tokenizer.json and
 * tokenizer_config.json: token counts of generated text, and prompts of an exact length.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { Tokenizer } from '@huggingface/tokenizers';

import { createRandom, randomInt, type RandomSource } from './random.ts';
import {
  DEFAULT_HUGGING_FACE_ENDPOINT,
  DEFAULT_MODELSCOPE_ENDPOINT,
  TokenizerDownloadError,
  downloadTokenizer,
  type TokenizerHub,
} from './tokenizer-download.ts';
import {
  findTokenizerFiles,
  huggingFaceCacheDir,
  isHubModelId,
  type Environment,
  type TokenizerFiles,
  type TokenizerSearchOptions,
} from './tokenizer-files.ts';

export interface LoadTokenizerOptions extends TokenizerSearchOptions {
  /** Hub to download from when no local copy is found, or 'none'; default 'huggingface'. */
  download?: TokenizerHub | 'none';
  /** Hugging Face endpoint; default HF_ENDPOINT, else https://huggingface.co. */
  huggingFaceEndpoint?: string;
  /** ModelScope endpoint; default https:// plus MODELSCOPE_DOMAIN, else https://www.modelscope.cn. */
  modelScopeEndpoint?: string;
  /** Token for gated models; default HF_TOKEN or HUGGING_FACE_HUB_TOKEN for Hugging Face. */
  token?: string;
  downloadTimeoutMs?: number;
}

/** No tokenizer was found for a model, locally or by download. */
export class TokenizerNotFoundError extends Error {
  readonly code = 'ERR_TOKENIZER_NOT_FOUND';

  constructor(
    readonly modelId: string,
    readonly searched: string[],
    readonly downloadError: TokenizerDownloadError | undefined,
  ) {
    const places = searched.map((place) => `  - ${place}`);
    if (downloadError !== undefined) places.push(`  - download: ${downloadError.message}`);
    super(
      [
        `tokenizer for model "${modelId}" not found. Searched:`,
        ...places,
        'Fix: pass --tokenizer PATH (a tokenizer.json file or the folder that contains it), or set',
        'HF_HOME (or HF_HUB_CACHE) to a Hugging Face cache that contains the model.',
      ].join('\n'),
      { cause: downloadError },
    );
    this.name = 'TokenizerNotFoundError';
  }
}

/** A tokenizer file exists but is not valid JSON or not a tokenizer that the library can load. */
export class TokenizerInvalidError extends Error {
  readonly code = 'ERR_TOKENIZER_INVALID';

  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`invalid tokenizer file ${path}: ${reason}`, options);
    this.name = 'TokenizerInvalidError';
  }
}

/** No prompt of the requested token count could be built from the vocabulary. */
export class PromptLengthError extends Error {
  readonly code = 'ERR_PROMPT_LENGTH';

  constructor(
    readonly tokenCount: number,
    reason: string,
  ) {
    super(`cannot build a prompt of exactly ${tokenCount} tokens: ${reason}`);
    this.name = 'PromptLengthError';
  }
}

/**
 * Finds the tokenizer for a model (see findTokenizerFiles for the search order), downloads it
 * into the Hugging Face cache when no local copy exists and downloads are allowed, and loads it.
 * Throws TokenizerNotFoundError, TokenizerInvalidError.
 */
export async function loadTokenizer(options: LoadTokenizerOptions): Promise<LlmTokenizer> {
  const env = options.env ?? process.env;
  const search = await findTokenizerFiles(options);
  let files = search.files;
  let downloadError: TokenizerDownloadError | undefined;

  const hub = downloadHub(options, env);
  if (files === undefined && hub !== undefined && options.tokenizerPath === undefined) {
    const endpoint = hubEndpoint(hub, options, env);
    search.searched.push(
      `${hub === 'huggingface' ? 'Hugging Face' : 'ModelScope'} download from ${endpoint}`,
    );
    try {
      files = await downloadTokenizer({
        hub,
        endpoint,
        modelId: options.modelId,
        revision: options.revision,
        cacheDir: huggingFaceCacheDir(env, options.homeDir ?? homedir()),
        token:
          options.token ??
          (hub === 'huggingface' ? (env['HF_TOKEN'] ?? env['HUGGING_FACE_HUB_TOKEN']) : undefined),
        timeoutMs: options.downloadTimeoutMs,
      });
    } catch (error) {
      if (!(error instanceof TokenizerDownloadError)) throw error;
      downloadError = error;
    }
  }

  if (files === undefined)
    throw new TokenizerNotFoundError(options.modelId, search.searched, downloadError);
  return LlmTokenizer.fromFiles(options.modelId, files);
}

function downloadHub(options: LoadTokenizerOptions, env: Environment): TokenizerHub | undefined {
  const hub = options.download ?? 'huggingface';
  if (hub === 'none' || !isHubModelId(options.modelId)) return undefined;
  // HF_HUB_OFFLINE is huggingface_hub's switch for "use the cache only".
  const offline = (env['HF_HUB_OFFLINE'] ?? '').toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(offline)) return undefined;
  return hub;
}

function hubEndpoint(hub: TokenizerHub, options: LoadTokenizerOptions, env: Environment): string {
  if (hub === 'huggingface') {
    return options.huggingFaceEndpoint ?? env['HF_ENDPOINT'] ?? DEFAULT_HUGGING_FACE_ENDPOINT;
  }
  const domain = env['MODELSCOPE_DOMAIN'];
  return options.modelScopeEndpoint ?? (domain ? `https://${domain}` : DEFAULT_MODELSCOPE_ENDPOINT);
}

/** Words for exact-length prompts: enough for variety, found within a bounded number of tries. */
const PROMPT_WORD_COUNT = 2048;
const MIN_PROMPT_WORD_COUNT = 16;
const MAX_WORD_CANDIDATES = 200_000;
const MAX_PROMPT_ADJUSTMENTS = 64;
const WORD_POOL_SEED = 0x5eed;

export class LlmTokenizer {
  readonly #tokenizer: Tokenizer;
  #promptWords: string[] | undefined;

  /** Number of token ids, added and special tokens included. */
  readonly vocabSize: number;

  constructor(
    readonly modelId: string,
    readonly files: TokenizerFiles,
    tokenizer: Tokenizer,
  ) {
    this.#tokenizer = tokenizer;
    this.vocabSize = tokenizer.get_vocab(true).size;
  }

  /** Reads and parses the files; throws TokenizerInvalidError when either is unusable. */
  static async fromFiles(modelId: string, files: TokenizerFiles): Promise<LlmTokenizer> {
    const tokenizerJson = await readJson(files.tokenizerPath);
    const configJson = files.configPath === undefined ? {} : await readJson(files.configPath);

    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, configJson);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TokenizerInvalidError(files.tokenizerPath, reason, { cause: error });
    }
    return new LlmTokenizer(modelId, files, tokenizer);
  }

  /** Counts the tokens of a text without adding special tokens such as BOS. */
  countTokens(text: string): number {
    return this.encode(text).length;
  }

  /** Encodes a text to token ids without adding special tokens. */
  encode(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Decodes ids to text, special tokens included and spaces left as the tokens spell them. */
  decode(ids: readonly number[]): string {
    return this.#tokenizer.decode([...ids], {
      skip_special_tokens: false,
      clean_up_tokenization_spaces: false,
    });
  }

  /**
   * Builds a prompt of vocabulary words, drawn with `random`, that encodes to exactly
   * `tokenCount` tokens. The same random sequence gives the same prompt.
   * Throws PromptLengthError when 64 adjustments of the word list do not reach the count.
   */
  buildExactLengthPrompt(tokenCount: number, random: RandomSource): string {
    if (!Number.isInteger(tokenCount) || tokenCount < 0) {
      throw new PromptLengthError(tokenCount, 'the token count must be an integer of 0 or more');
    }
    if (tokenCount === 0) return '';

    const pool = this.#wordPool(tokenCount);
    const pickWord = (): string => pool[randomInt(random, pool.length)]!;
    const words = Array.from({ length: tokenCount }, pickWord);

    // Pool words are one token each, standalone and after a space, so the first count is
    // normally exact. The loop covers tokenizers that merge tokens across words.
    for (let adjustment = 0; adjustment < MAX_PROMPT_ADJUSTMENTS; adjustment++) {
      const text = words.join(' ');
      const count = this.countTokens(text);
      if (count === tokenCount) return text;

      if (count > tokenCount) {
        words.length = Math.max(0, words.length - (count - tokenCount));
        if (words.length === 0) words.push(pickWord());
        else words[words.length - 1] = pickWord();
      } else {
        for (let missing = tokenCount - count; missing > 0; missing--) words.push(pickWord());
      }
    }
    throw new PromptLengthError(
      tokenCount,
      `no exact fit after ${MAX_PROMPT_ADJUSTMENTS} adjustments`,
    );
  }

  /**
   * Collects ASCII words that are one token on their own and one token after a space, sampled
   * from the vocabulary with a fixed seed so that every process gets the same pool.
   */
  #wordPool(tokenCount: number): string[] {
    if (this.#promptWords !== undefined) return this.#promptWords;

    const random = createRandom(WORD_POOL_SEED);
    const words = new Set<string>();
    const contextTokens = this.countTokens('x');
    for (
      let candidate = 0;
      candidate < MAX_WORD_CANDIDATES && words.size < PROMPT_WORD_COUNT;
      candidate++
    ) {
      const word = this.decode([randomInt(random, this.vocabSize)]).trim();
      if (!/^[A-Za-z]{2,16}$/.test(word) || words.has(word)) continue;
      if (this.countTokens(word) !== 1) continue;
      if (this.countTokens(`x ${word}`) !== contextTokens + 1) continue;
      words.add(word);
    }

    if (words.size < MIN_PROMPT_WORD_COUNT) {
      throw new PromptLengthError(
        tokenCount,
        `the vocabulary of ${this.modelId} has too few single-token words`,
      );
    }
    this.#promptWords = [...words];
    return this.#promptWords;
  }
}

async function readJson(path: string): Promise<object> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TokenizerInvalidError(path, `cannot read the file: ${reason}`, { cause: error });
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TokenizerInvalidError(path, 'not valid JSON', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenizerInvalidError(path, 'expected a JSON object');
  }
  return value;
}
