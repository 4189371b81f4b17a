// The LoadBalancer address controller (MetalLB's role) over the in-memory API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { LoadBalancerController, inPool, parsePool } from '../../../src/controllers/loadbalancer.js';
import { service, waitFor } from './helpers.js';

type Ing = { ip: string; ipMode?: string }[] | undefined;

describe('LoadBalancerController', () => {
  let t: TestApi;
  let admin: ApiClient;
  let ctrl: LoadBalancerController;
  const pool = '127.112.7.0/29'; // 6 usable: .1 … .6

  const ingress = async (name: string): Promise<Ing> => {
    const s = await admin.get(R.services, 'default', name);
    return (s.status as { loadBalancer?: { ingress?: Ing } } | undefined)?.loadBalancer?.ingress;
  };
  const lb = (name: string, extra: Record<string, unknown> = {}) =>
    service(name, { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80 }], ...extra });

  before(async () => {
    t = await startTestApi();
    admin = t.client('admin');
    ctrl = new LoadBalancerController(t.client('lb'), { pool });
    await ctrl.start();
  });
  after(async () => {
    ctrl.stop();
    await t.close();
  });

  it('parses pools inside 127.0.0.0/8 only, without network and broadcast addresses', () => {
    const p = parsePool('127.112.0.0/16');
    assert.ok(inPool(p, '127.112.3.4'));
    assert.ok(!inPool(p, '127.112.0.0'));
    assert.ok(!inPool(p, '127.112.255.255'));
    assert.ok(!inPool(p, '127.113.0.1'));
    assert.throws(() => parsePool('10.0.0.0/24'));
  });

  it('assigns an address from the pool with ipMode VIP and an IPAllocated event', async () => {
    await admin.create(R.services, 'default', lb('one'));
    const ing = await waitFor(() => ingress('one'), 'an address');
    assert.equal(ing!.length, 1);
    assert.equal(ing![0].ipMode, 'VIP');
    assert.ok(inPool(parsePool(pool), ing![0].ip), ing![0].ip);
    await waitFor(async () => (await admin.list(R.events, 'default')).items.some((e) => e.reason === 'IPAllocated' && String(e.message).includes(ing![0].ip)), 'the event');
  });

  let wanted = '';
  it('honours spec.loadBalancerIP when free, and refuses one that is taken or outside the pool', async () => {
    const taken = (await ingress('one'))![0].ip;
    wanted = taken === '127.112.7.5' ? '127.112.7.4' : '127.112.7.5';
    await admin.create(R.services, 'default', lb('wants', { loadBalancerIP: wanted }));
    assert.equal((await waitFor(() => ingress('wants'), 'an address'))![0].ip, wanted);
    await admin.create(R.services, 'default', lb('clash', { loadBalancerIP: wanted }));
    await admin.create(R.services, 'default', lb('outside', { loadBalancerIP: '127.113.0.9' }));
    await waitFor(async () => {
      const evs = (await admin.list(R.events, 'default')).items.filter((e) => e.reason === 'AllocationFailed');
      const names = evs.map((e) => (e.involvedObject as { name: string }).name);
      return names.includes('clash') && names.includes('outside');
    }, 'AllocationFailed events');
    assert.equal(await ingress('clash'), undefined);
  });

  it('releases the address on delete and on type change, and hands distinct addresses out', async () => {
    await admin.delete(R.services, 'default', 'clash');
    await admin.delete(R.services, 'default', 'outside');
    const held = (await waitFor(() => ingress('one'), 'one'))![0].ip;
    const live = await admin.get(R.services, 'default', 'one');
    const spec = live.spec as Record<string, unknown>;
    spec.type = 'ClusterIP';
    delete spec.allocateLoadBalancerNodePorts;
    delete spec.externalTrafficPolicy;
    for (const p of spec.ports as Record<string, unknown>[]) delete p.nodePort;
    await admin.update(R.services, 'default', live);
    await waitFor(async () => !(await ingress('one'))?.length, 'status cleared');
    await waitFor(() => ![...ctrl.allocations().values()].includes(held), 'the address released');
    // The pool has 6 addresses; 'wants' holds one: five more fit, all distinct, the sixth waits.
    for (let i = 0; i < 6; i++) await admin.create(R.services, 'default', lb(`fill-${i}`));
    const ips = await waitFor(async () => {
      const got = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => ingress(`fill-${i}`)));
      const have = got.filter((g) => g?.length).map((g) => g![0].ip);
      return have.length === 5 ? have : undefined;
    }, 'five addresses');
    assert.equal(new Set([...ips, wanted]).size, 6);
    await admin.delete(R.services, 'default', 'wants');
    await waitFor(async () => {
      const got = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => ingress(`fill-${i}`)));
      return got.every((g) => g?.length);
    }, 'the freed address to go to the waiting Service');
  });
});
