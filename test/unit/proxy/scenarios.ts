// The service proxy's behaviour over real sockets, run once per data plane (userspace.test.ts,
// kernel.test.ts): pods → the EndpointSlice controller → the proxy → backend servers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import dgram from 'node:dgram';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { EndpointSliceController } from '../../../src/controllers/endpointslice.js';
import { EndpointsController } from '../../../src/controllers/endpoints.js';
import { LoadBalancerController } from '../../../src/controllers/loadbalancer.js';
import { ServiceProxy } from '../../../src/proxy/service-proxy.js';
import { ask, closeServer, connectLine, expectRejected, lineServer, pod, randomNet, runPod, service, setPodStatus, udpAsk, udpEcho, waitFor } from './helpers.js';

export function proxySuite(mode: 'userspace' | 'kernel', opts: { skip?: string | false; skipUdpMove?: string | false } = {}): void {
  describe(`service proxy (${mode})`, { skip: opts.skip }, () => {
    let t: TestApi;
    let admin: ApiClient;
    let proxy: ServiceProxy;
    let slices: EndpointSliceController;
    let endpoints: EndpointsController;
    let lb: LoadBalancerController;
    const servers: net.Server[] = [];
    const udps: dgram.Socket[] = [];
    const net16 = randomNet();
    const nodeIPs = [`${net16}250.1`, `${net16}251.1`];
    const lbPool = `${randomNet()}0.0/16`;
    const table = `skiff-test-${process.pid}`;
    let n = 0;
    const podIP = () => `${net16}${1 + Math.floor(n / 200)}.${2 + (n++ % 200)}`;
    const PORT = 18080;

    const svcPorts = (name: string) => proxy.snapshot().filter((p) => p.name === name);
    /** Waits until the proxy programmed `name`'s first port with `count` endpoints. */
    async function settled(name: string, count: number, portName?: string) {
      await waitFor(() => {
        const ps = svcPorts(name).filter((p) => portName === undefined || p.portName === portName);
        return ps.length > 0 && ps.every((p) => p.endpoints.length === count);
      }, `${name} with ${count} endpoints`);
      await proxy.flush();
      const ps = svcPorts(name);
      return ps[0];
    }
    async function backends(names: string[], labels: Record<string, string>, ports = [{ name: 'http', containerPort: PORT }]) {
      const ips: Record<string, string> = {};
      for (const name of names) {
        const ip = podIP();
        ips[name] = ip;
        for (const p of ports) {
          if ((p as { protocol?: string }).protocol === 'UDP') udps.push(await udpEcho(ip, p.containerPort, name));
          else servers.push(await lineServer(ip, p.containerPort, name));
        }
        await runPod(admin, pod(name, ports, labels), ip);
      }
      return ips;
    }
    async function clusterIP(name: string): Promise<string> {
      const svc = await admin.get(R.services, 'default', name);
      return (svc.spec as { clusterIP: string }).clusterIP;
    }

    before(async () => {
      t = await startTestApi();
      admin = t.client('admin');
      await admin.create(R.nodes, undefined, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } },
        spec: {},
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      });
      slices = new EndpointSliceController(t.client('slices'));
      endpoints = new EndpointsController(t.client('endpoints'));
      lb = new LoadBalancerController(t.client('lb'), { pool: lbPool });
      proxy = new ServiceProxy(t.client('proxy'), { nodeIPs, mode, tableName: table, minSyncIntervalMs: 20 });
      await slices.start();
      await endpoints.start();
      await lb.start();
      await proxy.start();
      assert.equal(proxy.mode, mode);
    });

    after(async () => {
      await proxy.stop();
      lb.stop();
      slices.stop();
      endpoints.stop();
      for (const s of servers) await closeServer(s);
      for (const u of udps) u.close();
      await t.close();
    });

    it('spreads TCP connections to a ClusterIP across two backends, resolving a named targetPort', async () => {
      await backends(['spread-a', 'spread-b'], { app: 'spread' });
      await admin.create(R.services, 'default', service('spread', { selector: { app: 'spread' }, ports: [{ name: 'web', port: 7080, targetPort: 'http' }] }));
      const sp = await settled('spread', 2);
      assert.deepEqual(sp.endpoints.map((e) => e.port), [PORT, PORT]);
      const vip = await clusterIP('spread');
      const seen = new Map<string, number>();
      for (let i = 0; i < 20; i++) {
        const who = (await ask(vip, 7080)).split('|')[0];
        seen.set(who, (seen.get(who) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), ['spread-a', 'spread-b']);
      // Round robin (the default) alternates exactly.
      assert.equal(seen.get('spread-a'), 10);
    });

    it('forwards UDP through a ClusterIP', async () => {
      await backends(['udp-a'], { app: 'udp' }, [{ name: 'dns', containerPort: 18053, protocol: 'UDP' } as { name: string; containerPort: number }]);
      await admin.create(R.services, 'default', service('udp', { selector: { app: 'udp' }, ports: [{ name: 'dns', port: 7053, protocol: 'UDP', targetPort: 'dns' }] }));
      await settled('udp', 1);
      const vip = await clusterIP('udp');
      assert.equal(await udpAsk(vip, 7053, 'hello'), 'udp-a:hello');
      assert.equal(await udpAsk(vip, 7053, 'again'), 'udp-a:again');
    });

    it('moves a UDP flow off an endpoint that left', { skip: opts.skipUdpMove }, async () => {
      await backends(['udpmv-a', 'udpmv-b'], { app: 'udpmv' }, [{ name: 'dns', containerPort: 18053, protocol: 'UDP' } as { name: string; containerPort: number }]);
      await admin.create(R.services, 'default', service('udpmv', { selector: { app: 'udpmv' }, ports: [{ name: 'dns', port: 7053, protocol: 'UDP', targetPort: 'dns' }] }));
      await settled('udpmv', 2);
      const vip = await clusterIP('udpmv');
      const sock = dgram.createSocket('udp4');
      try {
        const q = (m: string) =>
          new Promise<string>((res, rej) => {
            const t = setTimeout(() => rej(new Error('no UDP answer')), 3000);
            sock.once('message', (b) => (clearTimeout(t), res(String(b))));
            sock.send(m, 7053, vip);
          });
        const first = (await q('1')).split(':')[0];
        assert.equal((await q('2')).split(':')[0], first, 'one flow, one backend');
        await admin.delete(R.pods, 'default', first, { gracePeriodSeconds: 0 });
        await settled('udpmv', 1);
        assert.notEqual((await q('3')).split(':')[0], first);
      } finally {
        sock.close();
      }
    });

    it('serves every port of a multi-port Service on its own target port', async () => {
      await backends(['multi-a'], { app: 'multi' }, [
        { name: 'http', containerPort: PORT },
        { name: 'admin', containerPort: 18081 },
      ]);
      await admin.create(
        R.services,
        'default',
        service('multi', {
          selector: { app: 'multi' },
          ports: [
            { name: 'http', port: 7080, targetPort: 'http' },
            { name: 'admin', port: 7081, targetPort: 18081 },
          ],
        }),
      );
      await settled('multi', 1);
      const vip = await clusterIP('multi');
      assert.equal(await ask(vip, 7080), `multi-a|${PORT}`);
      assert.equal(await ask(vip, 7081), 'multi-a|18081');
    });

    it('sends no new connections to a removed endpoint; open ones finish', async () => {
      const ips = await backends(['gone-a', 'gone-b'], { app: 'gone' });
      await admin.create(R.services, 'default', service('gone', { selector: { app: 'gone' }, ports: [{ port: 7080, targetPort: PORT }] }));
      await settled('gone', 2);
      const vip = await clusterIP('gone');
      const open = await connectLine(vip, 7080);
      const victim = (await open.ask()).split('|')[0];
      await admin.delete(R.pods, 'default', victim, { gracePeriodSeconds: 0 });
      const sp = await settled('gone', 1);
      assert.deepEqual(sp.endpoints.map((e) => e.ip), [ips[victim === 'gone-a' ? 'gone-b' : 'gone-a']]);
      for (let i = 0; i < 6; i++) assert.notEqual((await ask(vip, 7080)).split('|')[0], victim);
      assert.equal((await open.ask()).split('|')[0], victim, 'the established connection keeps working');
      open.close();
    });

    it('excludes a backend as soon as it is not ready', async () => {
      const ips = await backends(['ready-a', 'ready-b'], { app: 'ready' });
      await admin.create(R.services, 'default', service('ready', { selector: { app: 'ready' }, ports: [{ port: 7080, targetPort: PORT }] }));
      await settled('ready', 2);
      await setPodStatus(admin, 'ready-a', ips['ready-a'], false);
      await settled('ready', 1);
      const vip = await clusterIP('ready');
      for (let i = 0; i < 6; i++) assert.equal((await ask(vip, 7080)).split('|')[0], 'ready-b');
    });

    it('refuses connections quickly when a Service has no endpoints', async () => {
      await admin.create(R.services, 'default', service('empty', { selector: { app: 'nothing' }, ports: [{ port: 7080, targetPort: PORT }] }));
      await settled('empty', 0);
      const vip = await clusterIP('empty');
      const how = await expectRejected(vip, 7080);
      assert.ok(['refused', 'reset', 'closed'].includes(how), how);
    });

    it('answers a NodePort on every node IP', async () => {
      await backends(['np-a'], { app: 'np' });
      await admin.create(R.services, 'default', service('np', { type: 'NodePort', selector: { app: 'np' }, ports: [{ port: 7080, targetPort: PORT }] }));
      const sp = await settled('np', 1);
      assert.ok(sp.nodePort);
      for (const ip of nodeIPs) assert.equal(await ask(ip, sp.nodePort!), `np-a|${PORT}`);
    });

    it('gives a LoadBalancer Service an address from the pool, reachable from the host', async () => {
      await backends(['lb-a'], { app: 'lb' });
      await admin.create(R.services, 'default', service('lb', { type: 'LoadBalancer', selector: { app: 'lb' }, ports: [{ port: 7080, targetPort: PORT }] }));
      const ingress = await waitFor(async () => {
        const svc = await admin.get(R.services, 'default', 'lb');
        const ing = (svc.status as { loadBalancer?: { ingress?: { ip: string; ipMode?: string }[] } })?.loadBalancer?.ingress;
        return ing?.length ? ing : undefined;
      }, 'an ingress address');
      assert.equal(ingress[0].ipMode, 'VIP');
      assert.ok(ingress[0].ip.startsWith(lbPool.split('0.0/')[0]), ingress[0].ip);
      await waitFor(() => svcPorts('lb')[0]?.loadBalancerIPs.includes(ingress[0].ip), 'the proxy to see the address');
      await proxy.flush();
      assert.equal(await ask(ingress[0].ip, 7080), `lb-a|${PORT}`);
      const events = await admin.list(R.events, 'default');
      assert.ok(events.items.some((e) => e.reason === 'IPAllocated' && (e.involvedObject as { name: string }).name === 'lb'));
    });

    it('keeps a client on one backend with sessionAffinity ClientIP', async () => {
      await backends(['aff-a', 'aff-b', 'aff-c'], { app: 'aff' });
      await admin.create(
        R.services,
        'default',
        service('aff', { selector: { app: 'aff' }, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: [{ port: 7080, targetPort: PORT }] }),
      );
      await settled('aff', 3);
      const vip = await clusterIP('aff');
      const first = (await ask(vip, 7080)).split('|')[0];
      for (let i = 0; i < 8; i++) assert.equal((await ask(vip, 7080)).split('|')[0], first);
    });

    it('balances by least connection when the Service asks for lc', async () => {
      await backends(['lc-a', 'lc-b'], { app: 'lc' });
      await admin.create(R.services, 'default', service('lc', { selector: { app: 'lc' }, ports: [{ port: 7080, targetPort: PORT }] }, { 'skiff.dev/lb-algorithm': 'lc' }));
      const sp = await settled('lc', 2);
      const vip = await clusterIP('lc');
      const held = await connectLine(vip, 7080);
      const busy = (await held.ask()).split('|')[0];
      // While one backend holds a connection, every new one goes to the other.
      const b = proxy.relay.balancer('default/lc:/TCP')!;
      const total = () => sp.endpoints.reduce((a, e) => a + b.activeCount(e), 0);
      for (let i = 0; i < 4; i++) {
        assert.notEqual((await ask(vip, 7080)).split('|')[0], busy);
        await waitFor(() => total() === 1, 'the closed connection to be released');
      }
      held.close();
    });

    it('serves a selectorless Service from its Endpoints', async () => {
      const ip = podIP();
      servers.push(await lineServer(ip, PORT, 'manual'));
      await admin.create(R.services, 'default', service('manual', { ports: [{ port: 7080, targetPort: PORT }] }));
      await admin.create(R.endpoints, 'default', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'manual', namespace: 'default' }, subsets: [{ addresses: [{ ip }], ports: [{ port: PORT }] }] });
      await settled('manual', 1);
      assert.equal(await ask(await clusterIP('manual'), 7080), `manual|${PORT}`);
    });
  });
}
