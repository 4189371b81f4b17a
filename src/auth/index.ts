// Identity and access in one call: the RBAC index and authorizer, service-account token issuing
// (TokenRequest) and authentication, and the access reviews answered by the authorizer. The
// request path still has to call the authorizer (see docs in rbac.ts: attributesFor,
// requireAllowed) and honour impersonation (impersonation.ts).
import type { Authenticator } from '../apiserver/authn.js';
import type { Resources } from '../apiserver/resources.js';
import type { SubresourceHandlers } from '../apiserver/subresources.js';
import { RbacAuthorizer, RbacIndex } from './rbac.js';
import { registerAuthorizationReviews } from './reviews.js';
import { registerTokenRequest, ServiceAccountTokenAuthenticator, TokenSigner, UidCache } from './tokens.js';

export interface AuthOptions {
  /** The cluster's service-account key pair (ClusterPki.serviceAccount). */
  serviceAccountKeys: { publicKey: string; privateKey: string };
  issuer?: string;
  apiAudiences?: string[];
}

export interface AuthSystem {
  index: RbacIndex;
  authorizer: RbacAuthorizer;
  signer: TokenSigner;
  uids: UidCache;
  tokenAuthenticator: ServiceAccountTokenAuthenticator;
  stop(): void;
}

export async function setupAuth(resources: Resources, subresources: SubresourceHandlers, authn: Authenticator, opts: AuthOptions): Promise<AuthSystem> {
  const index = new RbacIndex();
  await index.start(resources);
  const authorizer = new RbacAuthorizer(index);
  const signer = new TokenSigner(opts.serviceAccountKeys, { issuer: opts.issuer, apiAudiences: opts.apiAudiences });
  const uids = new UidCache();
  await uids.start(resources);
  const tokenAuthenticator = new ServiceAccountTokenAuthenticator(signer, uids);
  authn.addTokenAuthenticator(tokenAuthenticator);
  registerTokenRequest(subresources, resources, signer);
  registerAuthorizationReviews(subresources, authorizer);
  return {
    index,
    authorizer,
    signer,
    uids,
    tokenAuthenticator,
    stop: () => {
      index.stop();
      uids.stop();
    },
  };
}

export * from './rbac.js';
export * from './tokens.js';
export * from './impersonation.js';
export * from './reviews.js';
export * from './default-policy.js';
export * from './aggregation.js';
export * from './escalation.js';
