// How traffic finds pods: the service proxy, cluster DNS, NodePort and LoadBalancer, and the
// Ingress — proved with the seed's Shopping Portal and real programs over real sockets.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { REPO, TestCluster, eventually, run } from './harness.js';

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('net');
});
after(async () => {
  await c?.destroy();
});

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

async function json(args: string[]) {
  return JSON.parse(await c.k([...args, '-o', 'json']));
}

interface DnsReply {
  rcode?: string;
  answers?: { data: unknown }[];
}

function dnsQuery(server: string, port: number, name: string, type: 'A' | 'SRV' | 'PTR' | 'CNAME' | 'AAAA') {
  return new Promise<DnsReply>((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      sock.close();
      reject(new Error(`no DNS answer for ${name}`));
    }, 3000);
    sock.on('message', (m) => {
      clearTimeout(t);
      sock.close();
      resolve(dnsPacket.decode(m) as unknown as DnsReply);
    });
    sock.send(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), port, server);
  });
}

describe('service networking', () => {
  let ingress = '';
  let ingressPort = 80;

  it('deploys the Shopping Portal and serves it through the Ingress by path and by host', async () => {
    const r = await run(process.execPath, [path.join(REPO, 'examples/shopping-portal/deploy.mjs'), '--kubectl', '/usr/lib/google-cloud-sdk/bin/kubectl.1.32', '--timeout', '120'], {
      env: { ...c.env, KUBECACHEDIR: c.cacheDir },
      timeoutMs: 180_000,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m = /Shopping Portal: http:\/\/([\d.]+)(?::(\d+))?\/ui\//.exec(r.stdout);
    assert.ok(m, r.stdout);
    ingress = m[1];
    ingressPort = Number(m[2] ?? 80);
    const ing = await json(['get', 'ingress', '-n', 'shopping', 'shopping-portal']);
    assert.equal(ing.status.loadBalancer.ingress[0].ip, ingress);
    const page = await eventually(async () => {
      const p = await get(`http://${ingress}:${ingressPort}/ui/`);
      return p.status === 200 && /review/i.test(p.body) && p;
    }, 'the portal page with reviews', 60_000);
    assert.match(page.body, /Apple/);
    const products = await get(`http://${ingress}:${ingressPort}/productms/product/catalogue`);
    assert.equal(products.status, 200);
    const reviews = await get(`http://${ingress}:${ingressPort}/productreview/1`);
    assert.equal(reviews.status, 200);
    const byHost = await get(`http://${ingress}:${ingressPort}/ui/`, { host: 'shopping.local' });
    assert.equal(byHost.status, 200);
    assert.equal((await get(`http://${ingress}:${ingressPort}/nothing-here`, { host: 'unknown.example' })).status, 404);
  });

  it('spreads requests across replicas', async () => {
    const servedBy = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await get(`http://${ingress}:${ingressPort}/productreview/1`);
      servedBy.add(String(r.headers['x-served-by']));
    }
    assert.equal(servedBy.size, 2, `both review replicas answered: ${[...servedBy].join(', ')}`);
  });

  it('answers "review not available" when Review is down (the seed\'s circuit breaker)', async () => {
    await c.k(['scale', 'deploy', 'productreview', '-n', 'shopping', '--replicas=0']);
    await eventually(async () => /review not available/.test((await get(`http://${ingress}:${ingressPort}/productms/product/catalogue/1`)).body), 'the fallback answer', 30_000);
    await c.k(['scale', 'deploy', 'productreview', '-n', 'shopping', '--replicas=2']);
    await c.k(['rollout', 'status', 'deploy/productreview', '-n', 'shopping', '--timeout=60s']);
  });

  it('reaches services from a pod by short name, FQDN and _SERVICE_HOST', async () => {
    // A pod created after the services exist gets their environment variables.
    await c.k(['run', 'curl', '-n', 'shopping', '--image=node:20', '--command', '--', 'sleep', '3600']);
    await c.k(['wait', '--for=condition=Ready', 'pod/curl', '-n', 'shopping', '--timeout=60s']);
    const fetchFrom = (url: string) =>
      c.k(['exec', '-n', 'shopping', 'curl', '--', 'node', '-e', `fetch(${JSON.stringify(url)}).then(r=>r.text()).then(t=>console.log(t.slice(0,200)))`]);
    assert.match(await fetchFrom('http://productreview/productreview/1'), /\S/);
    assert.match(await fetchFrom('http://productreview.shopping.svc.cluster.local/productreview/1'), /\S/);
    const env = await c.k(['exec', '-n', 'shopping', 'curl', '--', 'sh', '-c', 'echo $PRODUCTREVIEW_SERVICE_HOST:$PRODUCTREVIEW_SERVICE_PORT']);
    const svc = await json(['get', 'svc', 'productreview', '-n', 'shopping']);
    assert.equal(env.trim(), `${svc.spec.clusterIP}:80`);
    assert.match(await fetchFrom(`http://${env.trim()}/productreview/1`), /\S/);
  });

  it('stops sending traffic to a deleted pod at once, without failed requests once a replacement is ready', async () => {
    const pods = (await json(['get', 'pods', '-n', 'shopping', '-l', 'app=productreview'])).items;
    const victim = pods[0].metadata.name;
    const svcIP = (await json(['get', 'svc', 'productreview', '-n', 'shopping'])).spec.clusterIP;
    let failures = 0;
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop && i < 2000; i++) {
        const r = await get(`http://${svcIP}/productreview/1`).catch(() => ({ status: 0 }));
        if (r.status !== 200) failures++;
      }
    })();
    await c.k(['delete', 'pod', '-n', 'shopping', victim]);
    await c.k(['rollout', 'status', 'deploy/productreview', '-n', 'shopping', '--timeout=60s']);
    stop = true;
    await load;
    assert.equal(failures, 0, 'no request failed while a replica was replaced');
  });

  it('serves NodePort on the node address and LoadBalancer on its external IP', async () => {
    await c.k(['create', 'deployment', 'lb', '--image=nginx']);
    await c.k(['expose', 'deployment', 'lb', '--port=80', '--type=LoadBalancer']);
    await c.k(['rollout', 'status', 'deploy/lb', '--timeout=60s']);
    const svc = await eventually(async () => {
      const s = await json(['get', 'svc', 'lb']);
      return s.status.loadBalancer?.ingress?.[0]?.ip && s;
    }, 'an external IP');
    const node = (await json(['get', 'nodes'])).items[0].status.addresses.find((a: { type: string }) => a.type === 'InternalIP').address;
    assert.match((await get(`http://${node}:${svc.spec.ports[0].nodePort}/`)).body, /Welcome to nginx/);
    assert.match((await get(`http://${svc.status.loadBalancer.ingress[0].ip}/`)).body, /Welcome to nginx/);
    assert.match(await c.k(['get', 'svc', 'lb']), /^lb\s+LoadBalancer\s+\S+\s+127\.\d+\.\d+\.\d+\s+80:\d+\/TCP/m);
  });

  it('answers cluster DNS record by record through the kube-dns Service', async () => {
    const dnsIP = (await json(['get', 'svc', 'kube-dns', '-n', 'kube-system'])).spec.clusterIP;
    const review = (await json(['get', 'svc', 'productreview', '-n', 'shopping'])).spec.clusterIP;
    const a = await dnsQuery(dnsIP, 53, 'productreview.shopping.svc.cluster.local', 'A');
    assert.deepEqual(a.answers?.map((x) => x.data), [review]);
    const srv = await dnsQuery(dnsIP, 53, '_http._tcp.productreview.shopping.svc.cluster.local', 'SRV');
    assert.equal((srv.answers?.[0]?.data as { port: number }).port, 80);
    const nx = await dnsQuery(dnsIP, 53, 'nope.shopping.svc.cluster.local', 'A');
    assert.equal(nx.rcode, 'NXDOMAIN');
    const ptr = await dnsQuery(dnsIP, 53, `${review.split('.').reverse().join('.')}.in-addr.arpa`, 'PTR');
    assert.equal(ptr.answers?.[0]?.data, 'productreview.shopping.svc.cluster.local');
    await c.k(['create', 'service', 'externalname', 'ext', '--external-name', 'example.com']);
    const cname = await dnsQuery(dnsIP, 53, 'ext.default.svc.cluster.local', 'CNAME');
    assert.equal(cname.answers?.[0]?.data, 'example.com');
  });
});
