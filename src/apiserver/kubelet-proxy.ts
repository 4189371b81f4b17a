// pods/log, pods/exec, pods/attach and pods/portforward are served by the kubelet of the pod's
// node, as upstream does: the API server checks the request, then relays it to the kubelet's
// streaming server (`/containerLogs`, `/exec`, `/attach`, `/portForward`) byte for byte, so the
// WebSocket/SPDY negotiation happens end to end between kubectl and the kubelet.
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { errors, StatusError } from '../machinery/errors.js';
import { isPlainObject, type KObject } from '../machinery/object.js';
import type { Authenticator } from './authn.js';
import type { Req, Res } from './handler.js';
import { requestInfo, splitTarget } from './request-info.js';
import { attributesFor, requireAllowed, type Authorizer } from '../auth/rbac.js';
import { impersonatedUser } from '../auth/impersonation.js';
import type { Resources } from './resources.js';
import type { SubresourceHandlers } from './subresources.js';

export interface KubeletClientCredentials {
  cert: string;
  key: string;
}

interface Target {
  host: string;
  port: number;
  path: string;
}

const STREAM_SUBRESOURCES: Record<string, string> = { exec: 'exec', attach: 'attach', portforward: 'portForward' };

export class KubeletProxy {
  private authz?: Authorizer;

  setAuthorizer(authz: Authorizer): void {
    this.authz = authz;
  }

  constructor(
    private resources: Resources,
    private authn: Authenticator,
    private creds: KubeletClientCredentials,
  ) {}

  /** Where a pod's kubelet serves `kind` for this request (404/400 as upstream when it cannot). */
  private async target(namespace: string, podName: string, kind: string, query: URLSearchParams): Promise<Target> {
    const pod = await this.resources.get(this.resources.spec('', 'v1', 'pods'), namespace, podName);
    const spec = (pod.spec ?? {}) as { nodeName?: string; containers?: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
    let container = query.get('container') ?? '';
    if (kind !== 'portForward') {
      const names = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name);
      if (!container) {
        if ((spec.containers ?? []).length !== 1)
          throw errors.badRequest(`a container name must be specified for pod ${podName}, choose one of: [${(spec.containers ?? []).map((c) => c.name).join(' ')}]`);
        container = spec.containers![0].name;
      } else if (!names.includes(container)) {
        throw errors.badRequest(`container ${container} is not valid for pod ${podName}`);
      }
    }
    if (!spec.nodeName) throw errors.badRequest(`pod ${podName} does not have a host assigned`);
    const node = await this.resources.get(this.resources.spec('', 'v1', 'nodes'), undefined, spec.nodeName);
    const { host, port } = kubeletAddress(node);
    const q = new URLSearchParams(query);
    q.delete('container');
    const qs = q.toString();
    const path = kind === 'portForward' ? `/portForward/${namespace}/${podName}` : `/${kind}/${namespace}/${podName}/${container}`;
    return { host, port, path: qs ? `${path}?${qs}` : path };
  }

  /** GET pods/log: streamed from the kubelet as text/plain. */
  register(h: SubresourceHandlers): void {
    h.register('', 'pods', 'log', async (req, res, _spec, ns, info) => {
      if (req.method !== 'GET') throw errors.methodNotAllowed();
      const t = await this.target(ns!, info.name!, 'containerLogs', splitTarget(req.url ?? '/').query);
      await this.relayGet(t, req, res);
      return {};
    });
    for (const sub of Object.keys(STREAM_SUBRESOURCES))
      h.register('', 'pods', sub, async () => {
        throw errors.badRequest('Upgrade request required');
      });
  }

  private relayGet(t: Target, req: Req, res: Res): Promise<void> {
    return new Promise((resolve, reject) => {
      const up = https.request(
        { host: t.host, port: t.port, path: t.path, method: 'GET', cert: this.creds.cert, key: this.creds.key, rejectUnauthorized: false, agent: false },
        (kres) => {
          if ((kres.statusCode ?? 500) >= 400) {
            const chunks: Buffer[] = [];
            kres.on('data', (c) => chunks.push(c));
            kres.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let status: { message?: string; reason?: string } | undefined;
              try {
                status = JSON.parse(text);
              } catch {
                status = undefined;
              }
              reject(new StatusError(kres.statusCode ?? 500, status?.reason ?? 'BadRequest', status?.message ?? text));
            });
            return;
          }
          (res as unknown as { writeHead(c: number, h: Record<string, string>): void }).writeHead(200, {
            'content-type': kres.headers['content-type'] ?? 'text/plain',
          });
          kres.pipe(res as unknown as NodeJS.WritableStream);
          kres.on('end', resolve);
          kres.on('error', resolve);
        },
      );
      up.on('error', (e) => reject(errors.internal(`could not reach the kubelet: ${e.message}`)));
      // The client going away ends the follow on the kubelet too.
      req.on('close', () => up.destroy());
      up.end();
    });
  }

  /** The HTTP/1.1 'upgrade' event: exec, attach and port-forward. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.serveUpgrade(req, socket, head).catch((e) => {
      const status = e instanceof StatusError ? e : errors.internal((e as Error).message);
      const body = JSON.stringify(status.toStatus());
      socket.end(`HTTP/1.1 ${status.code} ${status.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
  };

  private async serveUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', () => socket.destroy());
    let user = this.authn.authenticate(req);
    if (!user) throw errors.unauthorized();
    const { pathname, query } = splitTarget(req.url ?? '/');
    const info = requestInfo(req.method ?? 'GET', pathname, query);
    if (this.authz) {
      user = impersonatedUser(req.headers, user, this.authz);
      // Upstream (1.30+) requires `create` on the subresource whether kubectl upgrades with GET or POST.
      requireAllowed(this.authz, user, { ...attributesFor(info), verb: 'create' });
    }
    const kind = info.subresource ? STREAM_SUBRESOURCES[info.subresource] : undefined;
    if (!info.isResourceRequest || info.group !== '' || info.resource !== 'pods' || !kind || !info.namespace || !info.name)
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const t = await this.target(info.namespace, info.name, kind, query);
    const upstream = tls.connect({ host: t.host, port: t.port, cert: this.creds.cert, key: this.creds.key, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve, reject) => {
      upstream.once('secureConnect', resolve);
      upstream.once('error', (e) => reject(errors.internal(`could not reach the kubelet: ${e.message}`)));
    });
    let head1 = `${req.method} ${t.path} HTTP/1.1\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      if (/^(host|authorization|impersonate-.*)$/i.test(name)) continue;
      head1 += `${name}: ${req.rawHeaders[i + 1]}\r\n`;
    }
    head1 += `Host: ${t.host}:${t.port}\r\n\r\n`;
    upstream.write(head1);
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
    const close = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', close);
    upstream.on('close', close);
    socket.on('close', close);
  }
}

/** The kubelet's address as its Node publishes it (InternalIP and the kubelet endpoint port). */
export function kubeletAddress(node: KObject): { host: string; port: number } {
  const status = (isPlainObject(node.status) ? node.status : {}) as {
    addresses?: { type: string; address: string }[];
    daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
  };
  const host = status.addresses?.find((a) => a.type === 'InternalIP')?.address;
  const port = status.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!host || !port) throw errors.badRequest(`node ${node.metadata.name} has no kubelet address yet`);
  return { host, port };
}

