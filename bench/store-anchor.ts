// The second anchor: the raw in-process store numbers, from bench/store.ts run as its own
// process (it runs on import), so they are measured in the same session as the API figures.
import { fileURLToPath } from 'node:url';
import { timeCommand } from './procs.js';

export interface StoreAnchor {
  output: string;
  createsPerSecond: number;
  getsPerSecond: number;
  listMs: number;
}

const STORE_BENCH = fileURLToPath(new URL('./store.js', import.meta.url));

export async function runStoreAnchor(count: number): Promise<StoreAnchor> {
  const r = await timeCommand(process.execPath, [STORE_BENCH, String(count)], process.env, 120_000);
  if (r.code !== 0) throw new Error(`bench/store.js failed (${r.code}):\n${r.output}`);
  // e.g. "sqlite   creates/s    12345  (0.50x anchor)   gets/s   123456   list 10000: 45.6 ms"
  const m = /^sqlite\s+creates\/s\s+(\d+).*gets\/s\s+(\d+)\s+list \d+: ([\d.]+) ms/m.exec(r.output);
  if (!m) throw new Error(`cannot read bench/store.js output:\n${r.output}`);
  return { output: r.output.trimEnd(), createsPerSecond: Number(m[1]), getsPerSecond: Number(m[2]), listMs: Number(m[3]) };
}
