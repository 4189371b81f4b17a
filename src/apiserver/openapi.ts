// /openapi/v2 and /openapi/v3: what kubectl reads to decide on validation, to compute client-side
// apply patches, and to answer `kubectl explain`.
import type { Registry } from '../api/registry.js';
import { openapiV2Protobuf, openapiV3Document, openapiV3Root } from '../api/openapi/documents.js';
import { StatusError } from '../machinery/errors.js';
import type { Req, Res } from './handler.js';
import { send } from './handler.js';

export class OpenApiServer {
  constructor(private registry: Registry) {}

  serve(path: string, _q: URLSearchParams, _req: Req, res: Res): void {
    if (path === '/openapi/v2') {
      // See kubectl-wire §0.1: the `.v1.0` spelling; Go's MIME parser rejects `@v1.0`.
      return send(res, 200, openapiV2Protobuf(), 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    }
    if (path === '/openapi/v3') return send(res, 200, JSON.stringify(openapiV3Root(this.registry)), 'application/json');
    if (path.startsWith('/openapi/v3/')) {
      const doc = openapiV3Document(this.registry, path.slice('/openapi/v3/'.length));
      if (doc !== undefined) {
        const body = typeof doc === 'string' ? doc : JSON.stringify(doc);
        (res as { setHeader(n: string, v: string): void }).setHeader('cache-control', 'public, immutable');
        return send(res, 200, body, 'application/json');
      }
    }
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }
}
