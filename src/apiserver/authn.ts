// Who is asking: a client certificate signed by the cluster CA (CN = user, O = groups), or a
// bearer token the cluster knows. Anything else is anonymous, which the handler refuses (401).
import type { TLSSocket } from 'node:tls';
import type { Req } from './handler.js';
import type { UserInfo } from './context.js';

export interface TokenAuthenticator {
  authenticateToken(token: string): UserInfo | undefined;
}

const certUsers = new WeakMap<object, UserInfo | undefined>();

/** The object that lives as long as the client's TLS connection (HTTP/2 session or HTTP/1.1 socket). */
function sessionOf(req: Req): object | undefined {
  const stream = (req as { stream?: { session?: object } }).stream;
  return stream?.session ?? (req.socket as object | undefined);
}

export class Authenticator {
  private tokens: TokenAuthenticator[] = [];

  /** Static tokens (the admin token written to the kubeconfig, node bootstrap tokens). */
  constructor(staticTokens: Map<string, UserInfo> = new Map()) {
    this.tokens.push({ authenticateToken: (t) => staticTokens.get(t) });
  }

  addTokenAuthenticator(t: TokenAuthenticator): void {
    this.tokens.push(t);
  }

  authenticateBearer(token: string): UserInfo | undefined {
    if (!token) return undefined;
    for (const t of this.tokens) {
      const u = t.authenticateToken(token);
      if (u) return { ...u, groups: [...new Set([...u.groups, 'system:authenticated'])] };
    }
    return undefined;
  }

  authenticate(req: Req): UserInfo | undefined {
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Bearer ')) return this.authenticateBearer(auth.slice(7).trim());
    const socket = req.socket as TLSSocket;
    // A connection's certificate never changes: decode it once per TLS session, not per request.
    const session = sessionOf(req);
    if (session && certUsers.has(session)) return certUsers.get(session);
    const user = this.certificateUser(socket);
    if (session) certUsers.set(session, user);
    return user;
  }

  private certificateUser(socket: TLSSocket): UserInfo | undefined {
    if (socket && typeof socket.getPeerCertificate === 'function' && socket.authorized) {
      const cert = socket.getPeerCertificate();
      const subject = cert?.subject as unknown as Record<string, string | string[]> | undefined;
      const cn = subject?.CN;
      if (typeof cn === 'string' && cn) {
        const o = subject?.O;
        const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
        return { name: cn, groups: [...new Set([...groups, 'system:authenticated'])] };
      }
    }
    return undefined;
  }
}
