// Cluster DNS as a control-plane component, published the way kubeadm publishes CoreDNS: the
// `kube-dns` Service in kube-system (ClusterIP = the service range's .10, as kind's 10.96.0.10)
// with an EndpointSlice pointing at the server. The server's own loopback address is chosen once
// per cluster and kept, so pods that outlive a restart still reach it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ClusterDns } from '../dns/server.js';
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { R, type ApiClient } from '../client/client.js';

interface DnsAddress {
  host: string;
  port: number;
}

function tenthAddress(serviceSubnet: string): string {
  const o = serviceSubnet.split('/')[0].split('.').map(Number);
  o[3] += 10;
  return o.join('.');
}

function chooseAddress(file: string): DnsAddress {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DnsAddress;
  const byte = () => 1 + Math.floor(Math.random() * 254);
  return { host: `127.53.${byte()}.${byte()}`, port: 53 };
}

/** Start the DNS server and publish it as kube-system/kube-dns. Returns the server address pods use. */
export async function startClusterDns(client: ApiClient, opts: { stateDir: string; serviceSubnet: string; log: (l: string) => void }) {
  const file = path.join(opts.stateDir, 'dns.json');
  const want = chooseAddress(file);
  let dns = new ClusterDns(client, { host: want.host, port: want.port, log: opts.log });
  let addr: DnsAddress;
  try {
    addr = await dns.start();
  } catch (e) {
    // Port 53 needs root: fall back to any port (pods are told host:port).
    opts.log(`cluster DNS: cannot listen on ${want.host}:${want.port} (${(e as Error).message}); using another port`);
    await dns.stop();
    dns = new ClusterDns(client, { host: want.host, port: 0, log: opts.log });
    addr = await dns.start();
  }
  writeFileSync(file, JSON.stringify(addr));
  await publish(client, tenthAddress(opts.serviceSubnet), addr);
  return { dns, address: addr.port === 53 ? addr.host : `${addr.host}:${addr.port}` };
}

async function publish(client: ApiClient, clusterIP: string, addr: DnsAddress) {
  const labels = { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' };
  const service: KObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
    spec: {
      clusterIP,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: addr.port },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: addr.port },
      ],
    },
  };
  await createOrKeep(client, R.services, service);
  const slice: KObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kube-dns-server', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'cluster-dns.skiff.dev' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [addr.host], conditions: { ready: true, serving: true, terminating: false } }],
    ports: [
      { name: 'dns', port: addr.port, protocol: 'UDP' },
      { name: 'dns-tcp', port: addr.port, protocol: 'TCP' },
    ],
  };
  try {
    await client.create(R.endpointslices, 'kube-system', slice);
  } catch (e) {
    if (!(e instanceof StatusError && e.code === 409)) throw e;
    const live = await client.get(R.endpointslices, 'kube-system', 'kube-dns-server');
    await client.update(R.endpointslices, 'kube-system', { ...live, endpoints: slice.endpoints, ports: slice.ports });
  }
}

async function createOrKeep(client: ApiClient, r: typeof R.services, obj: KObject) {
  try {
    await client.create(r, obj.metadata.namespace, obj);
  } catch (e) {
    if (!(e instanceof StatusError && e.code === 409)) throw e;
  }
}
