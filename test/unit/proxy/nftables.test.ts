// The nftables transaction as text (no root needed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kernelCapable, renderTransaction } from '../../../src/proxy/nftables.js';
import type { ProxyServicePort } from '../../../src/proxy/model.js';

function sp(over: Partial<ProxyServicePort>): ProxyServicePort {
  return {
    key: 'default/web:/TCP',
    namespace: 'default',
    name: 'web',
    portName: '',
    protocol: 'TCP',
    port: 80,
    clusterIPs: ['127.96.0.10'],
    loadBalancerIPs: [],
    externalIPs: [],
    algorithm: 'rr',
    endpoints: [
      { ip: '127.244.1.2', port: 8080 },
      { ip: '127.244.1.3', port: 8080 },
    ],
    ...over,
  };
}

describe('nftables rendering', () => {
  it('dispatches every frontend to a service chain that DNATs round robin', () => {
    const { script } = renderTransaction('skiff-t', [sp({ nodePort: 30080, loadBalancerIPs: ['127.112.0.7'] })], ['127.244.1.1', '127.244.2.1']);
    assert.match(script, /add chain ip skiff-t nat-output \{ type nat hook output priority -100; policy accept; \}/);
    for (const f of ['127.96.0.10 . tcp . 80', '127.244.1.1 . tcp . 30080', '127.244.2.1 . tcp . 30080', '127.112.0.7 . tcp . 80']) assert.ok(script.includes(f), f);
    assert.match(script, /numgen inc mod 2 vmap \{ 0 : goto ep-\w+, 1 : goto ep-\w+ \}/);
    assert.match(script, /meta l4proto tcp dnat to 127\.244\.1\.2:8080/);
    assert.doesNotMatch(script, /reject/);
  });

  it('uses hashes for sh/dh, timeout sets for affinity, and rejects services without endpoints', () => {
    const { script, state } = renderTransaction('skiff-t', [sp({ algorithm: 'sh', affinityTimeoutS: 60 }), sp({ key: 'default/none:/UDP', protocol: 'UDP', clusterIPs: ['127.96.0.11'], endpoints: [] })], []);
    assert.match(script, /jhash ip saddr mod 2/);
    assert.match(script, /add set ip skiff-t aff-\w+ \{ type ipv4_addr; flags dynamic,timeout; timeout 60s; \}/);
    assert.match(script, /update @aff-\w+ \{ ip saddr \}/);
    assert.match(script, /127\.96\.0\.11 \. udp \. 80 \} reject/);
    assert.equal(state.sets.size, 2);
    // A later sync without the service deletes its chains and sets.
    const next = renderTransaction('skiff-t', [], [], state).script;
    for (const c of state.chains) if (c.startsWith('svc-') || c.startsWith('ep-')) assert.ok(next.includes(`delete chain ip skiff-t ${c}`), c);
    for (const s of state.sets) assert.ok(next.includes(`delete set ip skiff-t ${s}`), s);
  });

  it('leaves connection-counting algorithms to userspace', () => {
    assert.deepEqual(
      (['rr', 'sh', 'dh', 'lc', 'sed', 'nq'] as const).map((a) => kernelCapable(sp({ algorithm: a }))),
      [true, true, true, false, false, false],
    );
  });
});
