// One default service range per cluster on this machine. Every Skiff cluster serves its service
// IPs on the host's loopback network, so two clusters with the same range would both program
// 127.96.0.1 (kubernetes) and 127.96.0.10 (kube-dns) into nftables, and the first table would win
// for both. kind avoids this with a network namespace per cluster; Skiff gives each cluster that
// does not choose its own range one /16 of 127.96.0.0/12, claimed by a file in a machine-wide
// directory (written under a lock) for as long as the cluster exists (its state directory): a
// stopped cluster keeps its range, a deleted one's claim is taken over by the next that needs it.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FIRST_OCTET = 96; // 127.96.0.0/16 … 127.111.0.0/16: the default range's sixteen /16s
const BLOCKS = 16;

export function defaultClaimsDir(): string {
  return path.join(os.tmpdir(), 'skiff-service-subnets');
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 30_000;

/** Runs `fn` holding the claims directory's lock (mkdir is atomic); a lock older than 10 s is broken. */
async function locked<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await fs.mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = await fs.stat(lock).catch(() => undefined);
    if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) await fs.rm(lock, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`cannot lock ${dir}: held for ${LOCK_WAIT_MS / 1000} s`);
    else await new Promise((r) => setTimeout(r, 5));
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

/**
 * A free /16 for the cluster whose state directory is `owner` (a claim it already holds comes
 * back), or undefined when live clusters hold all sixteen.
 */
export async function claimServiceSubnet(owner: string, dir = defaultClaimsDir()): Promise<string | undefined> {
  await fs.mkdir(dir, { recursive: true });
  const owned = path.resolve(owner);
  return locked(dir, async () => {
    let free: string | undefined;
    for (let i = 0; i < BLOCKS; i++) {
      const subnet = `127.${FIRST_OCTET + i}.0.0/16`;
      const holder = await fs.readFile(path.join(dir, subnet.replace('/', '_')), 'utf8').catch(() => '');
      if (holder === owned) return subnet;
      // A claim whose cluster is gone (or an empty one) is free again.
      if (!free && !(holder && (await exists(holder)))) free = subnet;
    }
    if (free) await fs.writeFile(path.join(dir, free.replace('/', '_')), owned);
    return free;
  });
}
