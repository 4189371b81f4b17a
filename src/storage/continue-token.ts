// The opaque `continue` token of a paged list: the last key returned and the revision the
// first page was served at. The next page resumes strictly after that key against the current
// state (no snapshot), and keeps reporting the first page's revision so that a watch started
// from it after the last page misses no change made while the client was paging.
import { errors } from '../machinery/errors.js';

const VERSION = 'skiff.store/v1';

export interface ContinueToken {
  revision: number;
  lastKey: string;
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: VERSION, rv: t.revision, start: t.lastKey })).toString('base64url');
}

/** Decodes a token for a list of `prefix`; anything else is a 400 `continue key is not valid`. */
export function decodeContinue(token: string, prefix: string): ContinueToken {
  const invalid = (why: string) => errors.badRequest(`continue key is not valid: ${why}`);
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(token)) throw invalid('illegal base64 data');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid('unable to decode the token');
  }
  const p = parsed as { v?: unknown; rv?: unknown; start?: unknown } | null;
  if (typeof p !== 'object' || p === null || p.v !== VERSION) throw invalid('unrecognized token version');
  if (typeof p.rv !== 'number' || !Number.isSafeInteger(p.rv) || p.rv < 0) throw invalid('incorrect encoded start resourceVersion');
  if (typeof p.start !== 'string' || !p.start.startsWith(prefix)) throw invalid('the token does not belong to this list');
  return { revision: p.rv, lastKey: p.start };
}
