// `skiff node join`: run a node agent (kubelet) in this process and join a running cluster over
// HTTPS with a token, as `kubeadm join` does. It runs in the foreground until SIGTERM/SIGINT,
// which stops its pods and reports the node NotReady.
import path from 'node:path';
import { HttpClient } from '../client/http.js';
import { R } from '../client/client.js';
import { discoverCa } from '../cluster/join.js';
import { createCa, issueServingCert } from '../cluster/pki.js';
import { ProcessRuntime } from '../kubelet/runtime/process/runtime.js';
import { NodeAgent } from '../kubelet/node-agent.js';
import { CliError, type CliContext } from './commands.js';

export interface NodeJoinOptions {
  server: string;
  token: string;
  caCertHash: string;
  nodeName: string;
  nodeIp?: string;
  labels?: string;
  kubeletPort?: string;
}

function parseLabels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',').filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new CliError(`--labels: "${pair}" is not key=value`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** The cluster DNS server as the control plane publishes it (the kube-dns EndpointSlice). */
async function dnsAddress(client: HttpClient): Promise<string[]> {
  try {
    const slice = await client.get(R.endpointslices, 'kube-system', 'kube-dns-server');
    const ip = (slice.endpoints as { addresses: string[] }[] | undefined)?.[0]?.addresses?.[0];
    const port = (slice.ports as { port: number }[] | undefined)?.[0]?.port ?? 53;
    return ip ? [port === 53 ? ip : `${ip}:${port}`] : [];
  } catch {
    return [];
  }
}

export async function nodeJoin(ctx: CliContext, o: NodeJoinOptions): Promise<void> {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.nodeName)) throw new CliError(`--node-name "${o.nodeName}" is not a valid node name`);
  let ca: string;
  try {
    ca = await discoverCa(o.server, o.caCertHash);
  } catch (e) {
    throw new CliError(`cannot join ${o.server}: ${(e as Error).message}`);
  }
  const client = new HttpClient({ server: o.server, ca, token: o.token, identity: `system:node:${o.nodeName}` });
  const clusterDNS = await dnsAddress(client);
  const localCa = await createCa(`${o.nodeName}-kubelet-ca`);
  const serving = await issueServingCert({ ca: localCa }, o.nodeName, [o.nodeName, ...(o.nodeIp ? [o.nodeIp] : [])]);
  const rootDir = path.join(ctx.home, 'nodes', o.nodeName);
  const log = (line: string) => ctx.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const agent = new NodeAgent({
    client,
    nodeName: o.nodeName,
    role: 'worker',
    labels: parseLabels(o.labels),
    nodeIP: o.nodeIp,
    kubeletPort: Number(o.kubeletPort ?? 0),
    rootDir,
    runtime: new ProcessRuntime({ stateDir: path.join(rootDir, 'runtime') }),
    tls: { cert: serving.cert, key: serving.key, ca },
    clusterDNS,
    log,
  });
  await agent.start();
  log(`node ${o.nodeName} joined ${o.server} (kubelet on ${agent.nodeIP}:${agent.port})`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      log(`node ${o.nodeName} leaving`);
      agent
        .stop(true)
        .catch((e) => log(`stopping: ${(e as Error).message}`))
        .finally(() => {
          client.close();
          resolve();
        });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
