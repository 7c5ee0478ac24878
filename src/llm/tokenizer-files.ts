/**
 * Finds a model's tokenizer.json (and tokenizer_config.json beside it) on this machine: an
 * explicit path, a local folder named like the model id, the Hugging Face hub cache, then the
 * ModelScope cache. Only reads the file system.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

export type TokenizerSource =
  | 'path'
  | 'local-folder'
  | 'huggingface-cache'
  | 'modelscope-cache'
  | 'huggingface-download'
  | 'modelscope-download';

/** Paths and source of a tokenizer that was found. */
export interface TokenizerFiles {
  source: TokenizerSource;
  tokenizerPath: string;
  /** tokenizer_config.json beside tokenizer.json, when there is one. */
  configPath: string | undefined;
}

export type Environment = Record<string, string | undefined>;

export interface TokenizerSearchOptions {
  modelId: string;
  /** A tokenizer.json file, or a folder that contains one; when given, nothing else is searched. */
  tokenizerPath?: string;
  /** Hugging Face revision whose `refs/` entry selects the snapshot; default `main`. */
  revision?: string;
  /** Source of HF_HOME, HF_HUB_CACHE, XDG_CACHE_HOME and MODELSCOPE_CACHE; default process.env. */
  env?: Environment;
  /** Folder that a relative model id or path is resolved against; default process.cwd(). */
  cwd?: string;
  /** Home folder for the default cache locations; default os.homedir(). */
  homeDir?: string;
}

export interface TokenizerSearch {
  files: TokenizerFiles | undefined;
  /** Every place looked at, in order, readable by a person. */
  searched: string[];
}

/** Characters of a hub repository id (`org/name` or `name`); anything else is no hub id. */
const HUB_MODEL_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export function isHubModelId(modelId: string): boolean {
  return HUB_MODEL_ID.test(modelId) && !modelId.includes('..');
}

/** Returns the Hugging Face hub cache folder, resolved as huggingface_hub resolves it. */
export function huggingFaceCacheDir(env: Environment = process.env, homeDir = homedir()): string {
  const hubCache = env['HF_HUB_CACHE'] ?? env['HUGGINGFACE_HUB_CACHE'];
  if (hubCache) return expandHome(hubCache, homeDir);

  const hfHome = env['HF_HOME'];
  if (hfHome) return join(expandHome(hfHome, homeDir), 'hub');

  const xdgCache = env['XDG_CACHE_HOME'];
  const cacheRoot = xdgCache ? expandHome(xdgCache, homeDir) : join(homeDir, '.cache');
  return join(cacheRoot, 'huggingface', 'hub');
}

/** Returns the ModelScope cache folder: MODELSCOPE_CACHE, else ~/.cache/modelscope/hub. */
export function modelScopeCacheDir(env: Environment = process.env, homeDir = homedir()): string {
  const cache = env['MODELSCOPE_CACHE'];
  return cache ? expandHome(cache, homeDir) : join(homeDir, '.cache', 'modelscope', 'hub');
}

/** Returns a repository's folder in the Hugging Face cache: `models--ORG--NAME`. */
export function huggingFaceRepoDir(cacheDir: string, modelId: string): string {
  return join(cacheDir, `models--${modelId.replaceAll('/', '--')}`);
}

/** Searches in order and stops at the first folder that contains tokenizer.json. */
export async function findTokenizerFiles(
  options: TokenizerSearchOptions,
): Promise<TokenizerSearch> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const homeDir = options.homeDir ?? homedir();
  const searched: string[] = [];

  if (options.tokenizerPath !== undefined) {
    const path = resolve(cwd, expandHome(options.tokenizerPath, homeDir));
    searched.push(`path ${path}`);
    return { files: await filesAtPath(path, 'path'), searched };
  }

  const localFolder = resolve(cwd, expandHome(options.modelId, homeDir));
  searched.push(`local folder ${localFolder}`);
  const local = await filesInFolder(localFolder, 'local-folder');
  if (local !== undefined) return { files: local, searched };

  if (!isHubModelId(options.modelId)) return { files: undefined, searched };

  const repoDir = huggingFaceRepoDir(huggingFaceCacheDir(env, homeDir), options.modelId);
  const revision = options.revision ?? 'main';
  searched.push(`Hugging Face cache ${repoDir} (refs/${revision}, then any snapshot)`);
  const cached = await findInHuggingFaceRepo(repoDir, revision);
  if (cached !== undefined) return { files: cached, searched };

  for (const folder of modelScopeFolders(modelScopeCacheDir(env, homeDir), options.modelId)) {
    searched.push(`ModelScope cache ${folder}`);
    const files = await filesInFolder(folder, 'modelscope-cache');
    if (files !== undefined) return { files, searched };
  }

  return { files: undefined, searched };
}

/**
 * Looks up the snapshot that `refs/<revision>` names, then a snapshot folder named like the
 * revision (a commit hash), then the most recently modified snapshot with a tokenizer.json.
 */
async function findInHuggingFaceRepo(
  repoDir: string,
  revision: string,
): Promise<TokenizerFiles | undefined> {
  const snapshotsDir = join(repoDir, 'snapshots');
  const commit = await readTextIfExists(join(repoDir, 'refs', revision));

  for (const snapshot of [commit?.trim(), revision]) {
    if (!snapshot || !isPlainName(snapshot)) continue;
    const files = await filesInFolder(join(snapshotsDir, snapshot), 'huggingface-cache');
    if (files !== undefined) return files;
  }

  let entries: string[];
  try {
    entries = await readdir(snapshotsDir);
  } catch {
    return undefined;
  }

  let newest: { files: TokenizerFiles; modifiedMs: number } | undefined;
  for (const entry of entries) {
    const files = await filesInFolder(join(snapshotsDir, entry), 'huggingface-cache');
    if (files === undefined) continue;
    const modifiedMs = (await stat(files.tokenizerPath)).mtimeMs;
    if (newest === undefined || modifiedMs > newest.modifiedMs) newest = { files, modifiedMs };
  }
  return newest?.files;
}

/**
 * Lists the folders where the ModelScope SDK may have stored a model: `ORG/NAME` (older SDKs)
 * and `models/ORG/NAME` (SDKs from 2025 on). Each comes twice, as named and with `.` written
 * as `___`, because the SDK writes a name with dots that way on disk.
 */
function modelScopeFolders(cacheDir: string, modelId: string): string[] {
  const masked = modelId.replaceAll('.', '___');
  const folders = [
    join(cacheDir, modelId),
    join(cacheDir, masked),
    join(cacheDir, 'models', modelId),
    join(cacheDir, 'models', masked),
  ];
  return [...new Set(folders)];
}

async function filesAtPath(
  path: string,
  source: TokenizerSource,
): Promise<TokenizerFiles | undefined> {
  const info = await statIfExists(path);
  if (info === undefined) return undefined;
  if (info.isDirectory()) return filesInFolder(path, source);

  const configPath = join(dirname(path), TOKENIZER_CONFIG_FILE);
  const hasConfig = basename(path) !== TOKENIZER_CONFIG_FILE && (await isFile(configPath));
  return { source, tokenizerPath: path, configPath: hasConfig ? configPath : undefined };
}

async function filesInFolder(
  folder: string,
  source: TokenizerSource,
): Promise<TokenizerFiles | undefined> {
  const tokenizerPath = join(folder, TOKENIZER_FILE);
  if (!(await isFile(tokenizerPath))) return undefined;

  const configPath = join(folder, TOKENIZER_CONFIG_FILE);
  return { source, tokenizerPath, configPath: (await isFile(configPath)) ? configPath : undefined };
}

async function isFile(path: string): Promise<boolean> {
  return (await statIfExists(path))?.isFile() ?? false;
}

async function statIfExists(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Checks that a name is one path segment, so that joining it cannot leave its folder. */
export function isPlainName(name: string): boolean {
  return /^[\w.-]+$/.test(name) && name !== '.' && name !== '..';
}

function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return path;
}
