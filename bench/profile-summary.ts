// Top functions by self time in a .cpuprofile (as written by `npm run bench -- --cpu-prof DIR`).
//   node dist/bench/profile-summary.js FILE.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary FILE.cpuprofile [top]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

// Self time per node from the sample stream; a function's total time is the self time of every
// node with it on the stack (counted once per stack, so recursion is not counted twice).
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function keyOf(id: number): string {
  const f = byId.get(id)!.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}

const self = new Map<string, number>();
const total = new Map<string, number>();
let sampledUs = 0;
let idleUs = 0;
for (const [id, us] of selfUs) {
  const key = keyOf(id);
  self.set(key, (self.get(key) ?? 0) + us);
  sampledUs += us;
  if (key === '(idle)') idleUs += us;
  const onStack = new Set<string>();
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) onStack.add(keyOf(n));
  for (const k of onStack) total.set(k, (total.get(k) ?? 0) + us);
}

const busyUs = sampledUs - idleUs;
const top = Number(topArg ?? 25);
const pct = (us: number) => `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>) => {
  console.log(title);
  const rows = [...m].filter(([k]) => !['(idle)', '(root)'].includes(k)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, us] of rows) console.log(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
};
console.log(`${file}: ${(sampledUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy (percentages are of busy time)`);
print('by self time:', self);
print('by total time (self + callees):', total);
