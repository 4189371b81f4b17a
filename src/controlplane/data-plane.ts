// The data plane of the cluster's local nodes: the service proxy (one for all local nodes: the
// process runtime's nodes share the host's network) and the ingress controller with its default
// IngressClass, serving on the ingress node's address (ports 80/443, and kind's
// extraPortMappings such as 127.0.0.1:80 when they can be bound).
import { StatusError } from '../machinery/errors.js';
import type { ApiClient } from '../client/client.js';
import type { ClusterConfig } from '../cluster/config.js';
import { openKernelProxy, ServiceProxy, type NftablesProxy } from '../proxy/index.js';
import { IngressBindError, IngressController, CONTROLLER_NAME } from '../ingress/index.js';
import type { NodeAgent } from '../kubelet/node-agent.js';
import type { CertKeyPair } from '../cluster/pki-files.js';

export interface DataPlane {
  ingressAddress: string;
  ingressPorts: { httpPort: number; httpsPort: number };
  stop(): Promise<void>;
}

async function ensureIngressClass(client: ApiClient) {
  try {
    await client.create({ group: 'networking.k8s.io', version: 'v1', resource: 'ingressclasses' }, undefined, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'skiff', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
      spec: { controller: CONTROLLER_NAME },
    });
  } catch (e) {
    if (!(e instanceof StatusError && e.code === 409)) throw e;
  }
}

const proxyTable = (cluster: string) => `skiff-${cluster}`;

/** What the data plane can do before the nodes exist: clear (and so probe) the proxy's nft table. */
export interface DataPlanePreparation {
  kernel: Promise<NftablesProxy | undefined>;
}

export function prepareDataPlane(opts: { name: string; log: (line: string) => void }): DataPlanePreparation {
  return { kernel: openKernelProxy(proxyTable(opts.name), opts.log) };
}

export async function startDataPlane(opts: {
  name: string;
  cluster: ClusterConfig;
  agents: NodeAgent[];
  client: (identity: string) => ApiClient;
  ingressCert: CertKeyPair;
  log: (line: string) => void;
  prepared?: DataPlanePreparation;
}): Promise<DataPlane> {
  const proxy = new ServiceProxy(opts.client('system:kube-proxy'), {
    nodeIPs: opts.agents.map((a) => a.nodeIP),
    tableName: proxyTable(opts.name),
    kernel: opts.prepared?.kernel,
    log: opts.log,
  });
  // The proxy's start is mostly waiting for nft: the ingress starts meanwhile.
  const [, { ingress, ports, agent }] = await Promise.all([proxy.start(), startIngress(opts)]);
  opts.log(`ingress serving http://${agent.nodeIP}:${ports.httpPort} and https://${agent.nodeIP}:${ports.httpsPort}`);
  return {
    ingressAddress: agent.nodeIP,
    ingressPorts: ports,
    async stop() {
      ingress.stop();
      await proxy.stop();
    },
  };
}

/** The ingress controller with its default IngressClass, on the first ports it can listen on. */
async function startIngress(opts: Parameters<typeof startDataPlane>[0]): Promise<{ ingress: IngressController; ports: { httpPort: number; httpsPort: number }; agent: NodeAgent }> {
  await ensureIngressClass(opts.client('system:skiff-bootstrap'));
  // kind puts ingress-nginx on the node labelled ingress-ready=true (else the first node).
  const ingressNode = opts.cluster.nodes.find((n) => n.labels['ingress-ready'] === 'true') ?? opts.cluster.nodes[0];
  const agent = opts.agents.find((a) => a.name === ingressNode.name) ?? opts.agents[0];
  const extra = ingressNode.extraPortMappings
    .filter((m) => m.protocol === 'TCP' && (m.containerPort === 80 || m.containerPort === 443) && m.hostPort > 0)
    .map((m) => ({ host: m.listenAddress === '0.0.0.0' ? '127.0.0.1' : m.listenAddress, port: m.hostPort, tls: m.containerPort === 443 }));
  const client = opts.client('system:serviceaccount:ingress-nginx:ingress-nginx');
  // Ports 80/443 need privileges and may be taken: fall back, and say where it ended up.
  const attempts = [
    { httpPort: 80, httpsPort: 443, extraListeners: extra },
    { httpPort: 80, httpsPort: 443, extraListeners: [] },
    { httpPort: 8080, httpsPort: 8443, extraListeners: [] },
    { httpPort: 0, httpsPort: 0, extraListeners: [] },
  ];
  for (const a of attempts) {
    const candidate = new IngressController(client, { address: agent.nodeIP, ...a, defaultCertificate: opts.ingressCert, log: opts.log });
    try {
      return { ingress: candidate, ports: await candidate.start(), agent };
    } catch (e) {
      if (!(e instanceof IngressBindError)) throw e;
      opts.log(`ingress: cannot listen on ${e.host}:${e.port} (${e.code}); trying the next option`);
    }
  }
  throw new Error('the ingress controller could not listen anywhere');
}
