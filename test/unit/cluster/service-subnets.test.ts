import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { claimServiceSubnet } from '../../../src/cluster/service-subnets.js';

const root = mkdtempSync(join(tmpdir(), 'skiff-subnets-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const claims = join(root, 'claims');
const cluster = (name: string) => {
  const dir = join(root, 'homes', name);
  mkdirSync(dir, { recursive: true });
  return dir;
};

test('clusters get different /16s of 127.96.0.0/12; a cluster asking again keeps its own', async () => {
  const a = cluster('a');
  const b = cluster('b');
  const first = await claimServiceSubnet(a, claims);
  const second = await claimServiceSubnet(b, claims);
  assert.equal(first, '127.96.0.0/16');
  assert.equal(second, '127.97.0.0/16');
  assert.equal(await claimServiceSubnet(a, claims), first);
  // Claims made at the same moment never share a range.
  const many = await Promise.all(Array.from({ length: 8 }, (_, i) => claimServiceSubnet(cluster(`c${i}`), claims)));
  assert.equal(new Set([first, second, ...many]).size, 10);
});

test('the range of a deleted cluster (or a half-written claim) goes to the next one; none left means undefined', async () => {
  const dir = join(root, 'claims-2');
  const owners = Array.from({ length: 16 }, (_, i) => cluster(`full-${i}`));
  for (const o of owners) assert.ok(await claimServiceSubnet(o, dir));
  assert.equal(await claimServiceSubnet(cluster('late'), dir), undefined);
  rmSync(owners[5], { recursive: true });
  assert.equal(await claimServiceSubnet(cluster('late'), dir), '127.101.0.0/16');
  writeFileSync(join(dir, '127.101.0.0_16'), '');
  assert.equal(await claimServiceSubnet(cluster('later'), dir), '127.101.0.0/16');
});
