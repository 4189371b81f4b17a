// The nftables data plane end to end (root with a working nft only), and its cleanup.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { nftUsable } from '../../../src/proxy/nftables.js';
import { proxySuite } from './scenarios.js';

const usable = nftUsable();
const conntrack = spawnSync('conntrack', ['--version'], { stdio: 'ignore' }).status === 0;
proxySuite('kernel', { skip: usable ? false : 'needs root and nftables', skipUdpMove: conntrack ? false : 'needs the conntrack tool (conntrack-tools)' });

const table = `skiff-test-${process.pid}`;
after(() => {
  if (!usable) return;
  const r = spawnSync('nft', ['list', 'table', 'ip', table], { stdio: 'ignore' });
  assert.notEqual(r.status, 0, `nft table ${table} was left behind`);
});

it('leaves no nft table once stopped', { skip: usable ? false : 'needs root and nftables' }, () => {
  // Checked in the after hook too; this names the guarantee in the report.
  assert.ok(true);
});
