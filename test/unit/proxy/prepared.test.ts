// The service proxy's kernel table opened ahead of the proxy (the control plane does that first
// thing at start-up, so the nft run overlaps the API's start): openKernelProxy clears what an
// earlier run left, and doubles as the probe for whether nft works.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { NftablesProxy, nftUsable, openKernelProxy } from '../../../src/proxy/nftables.js';
import { ServiceProxy } from '../../../src/proxy/service-proxy.js';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';

const usable = nftUsable();
const table = `skiff-prep-${process.pid}`;
const tableExists = () => spawnSync('nft', ['list', 'table', 'ip', table], { stdio: 'ignore' }).status === 0;
let t: TestApi;

before(async () => {
  t = await startTestApi();
});
after(async () => {
  await t.close();
  if (usable) assert.equal(tableExists(), false, `nft table ${table} was left behind`);
});

it('openKernelProxy clears a table left by an earlier run; the proxy started with it programs that table', { skip: usable ? false : 'needs root and nftables' }, async () => {
  spawnSync('nft', ['-f', '-'], { input: `add table ip ${table}\nadd chain ip ${table} leftover\n` });
  assert.ok(tableExists());
  const kernel = await openKernelProxy(table);
  assert.ok(kernel instanceof NftablesProxy);
  assert.equal(tableExists(), false, 'the leftover table is gone');
  const lines: string[] = [];
  const proxy = new ServiceProxy(t.client('proxy'), { nodeIPs: ['127.0.0.1'], tableName: table, kernel: Promise.resolve(kernel), log: (l) => lines.push(l) });
  await proxy.start();
  try {
    assert.equal(proxy.mode, 'kernel');
    assert.ok(tableExists(), 'the first sync wrote the table');
    assert.doesNotMatch(spawnSync('nft', ['list', 'table', 'ip', table], { encoding: 'utf8' }).stdout, /leftover/);
  } finally {
    await proxy.stop();
  }
  assert.equal(tableExists(), false);
});

it('where nft does not work, openKernelProxy gives nothing and the proxy runs in userspace', async () => {
  const lines: string[] = [];
  const proxy = new ServiceProxy(t.client('proxy'), { nodeIPs: ['127.0.0.1'], tableName: table, kernel: Promise.resolve(undefined), log: (l) => lines.push(l) });
  await proxy.start();
  try {
    assert.equal(proxy.mode, 'userspace');
    assert.ok(lines.includes('service proxy: nftables not usable here, using the userspace proxy'), lines.join('\n'));
  } finally {
    await proxy.stop();
  }
  const strict = new ServiceProxy(t.client('proxy'), { nodeIPs: ['127.0.0.1'], mode: 'kernel', tableName: table, kernel: Promise.resolve(undefined) });
  await assert.rejects(strict.start(), /kernel mode needs root and a working nft/);
  await strict.stop();
  if (!usable) assert.equal(await openKernelProxy(table), undefined);
});
