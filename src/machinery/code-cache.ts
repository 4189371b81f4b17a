// Runs a CommonJS bundle (dist/bundle/*.cjs) with a V8 code cache beside it, as Node 22's module
// compile cache would: Node 20 has none, and compiling the server's 1.5 MiB of code costs it
// more than 100 ms of CPU on every start. With the cache V8 deserializes the code instead, including
// every function that ran when the cache was written (the server writes it once it serves).
//
// The cache file is `<bundle>.cache`: a header line `skiff-code-cache <source sha256> <tag>` and
// V8's data. V8 itself rejects data from another V8 version or other flags, but it recognises its
// source only by length, so the header binds the cache to the exact source. A cache that cannot be
// read, is stale or is rejected is ignored (and replaced when the caller saves one); one that
// cannot be written (read-only installation) is not an error.
import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const MAGIC = 'skiff-code-cache';

export type CacheState = 'used' | 'missing' | 'stale' | 'rejected';

export interface LoadedBundle {
  exports: Record<string, unknown>;
  /** What became of the cache on this load. */
  cache: CacheState;
  /** The tag the cache was written with (when it was used). */
  cacheTag?: string;
  /** Write the cache from what V8 has compiled so far (atomically; errors ignored). */
  saveCache(tag: string): void;
}

export function sourceHash(source: string | Buffer): string {
  return createHash('sha256').update(source).digest('hex');
}

function readCache(file: string, hash: string): { data?: Buffer; tag?: string; state: CacheState } {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch {
    return { state: 'missing' };
  }
  const nl = raw.indexOf(10);
  const [magic, forHash, tag] = raw.subarray(0, Math.max(0, nl)).toString('utf8').split(' ');
  if (nl < 0 || magic !== MAGIC || forHash !== hash) return { state: 'stale' };
  return { data: raw.subarray(nl + 1), tag, state: 'used' };
}

/**
 * Compile and run the CommonJS bundle `file` (its own require, __filename and __dirname), with its
 * code cache when there is a valid one. `hash` is the source's sha256 when the caller knows it
 * (the build writes it into the bundle's entry); otherwise it is computed.
 */
export function loadBundle(file: string | URL, hash?: string): LoadedBundle {
  const filename = file instanceof URL ? fileURLToPath(file) : file;
  const bytes = readFileSync(filename);
  // The build leaves the bundles pure ASCII, which decodes faster (and V8 stores it one byte a character).
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const digest = hash ?? sourceHash(bytes);
  const cacheFile = `${filename}.cache`;
  const cached = readCache(cacheFile, digest);
  const script = new vm.Script(Module.wrap(source), {
    filename,
    cachedData: cached.data,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const state: CacheState = cached.data && script.cachedDataRejected ? 'rejected' : cached.state;
  const module = { exports: {} as Record<string, unknown>, filename, id: filename };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(filename), module, filename, path.dirname(filename));
  return {
    exports: module.exports,
    cache: state,
    cacheTag: state === 'used' ? cached.tag : undefined,
    saveCache(tag: string) {
      if (/\s/.test(tag)) throw new Error(`code cache tag ${JSON.stringify(tag)} has white space`);
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, Buffer.concat([Buffer.from(`${MAGIC} ${digest} ${tag}\n`), script.createCachedData()]));
        renameSync(tmp, cacheFile);
      } catch {
        // a read-only installation runs without the cache
        rmSync(tmp, { force: true });
      }
    },
  };
}
