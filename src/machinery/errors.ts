// Kubernetes `Status` errors. Every failure that reaches a client is one of these, with the
// HTTP code equal to `code` and a reason kubectl knows how to render.
import type { FieldError } from './validation.js';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): Status {
    const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** A group-qualified resource, e.g. {group:'apps', resource:'deployments'}: what NotFound/Conflict name. */
export interface GroupResource {
  group: string;
  resource: string;
}

function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

export const errors = {
  notFound: (gr: GroupResource, name: string) =>
    new StatusError(404, 'NotFound', `${qualified(gr)} "${name}" not found`, { name, group: gr.group || undefined, kind: gr.resource }),
  alreadyExists: (gr: GroupResource, name: string) =>
    new StatusError(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, { name, group: gr.group || undefined, kind: gr.resource }),
  conflict: (gr: GroupResource, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
    new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, { name, group: gr.group || undefined, kind: gr.resource }),
  /** 422 with one cause per field error; `kind` is the Kind (e.g. Deployment), as upstream. */
  invalid: (gk: { group: string; kind: string }, name: string, errs: FieldError[]) => {
    const q = gk.group ? `${gk.kind}.${gk.group}` : gk.kind;
    const list = errs.map((e) => e.toString());
    const msg = `${q} "${name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(', ')}]`}`;
    return new StatusError(422, 'Invalid', msg, { name, group: gk.group || undefined, kind: gk.kind, causes: errs.map((e) => e.toCause()) });
  },
  badRequest: (message: string) => new StatusError(400, 'BadRequest', message),
  unauthorized: (message = 'Unauthorized') => new StatusError(401, 'Unauthorized', message),
  forbidden: (message: string) => new StatusError(403, 'Forbidden', message),
  methodNotAllowed: (message = 'the server does not allow this method on the requested resource') =>
    new StatusError(405, 'MethodNotAllowed', message),
  notAcceptable: (message: string) => new StatusError(406, 'NotAcceptable', message),
  gone: (message: string) => new StatusError(410, 'Expired', message),
  tooLarge: (message = 'the server has received a request that is too large') => new StatusError(413, 'RequestEntityTooLarge', message),
  unsupportedMediaType: (contentType: string) =>
    new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`.replace('the body', contentType ? `the body (${contentType})` : 'the body')),
  tooManyRequests: (message: string, retryAfterSeconds?: number) =>
    new StatusError(429, 'TooManyRequests', message, retryAfterSeconds ? { retryAfterSeconds } : undefined),
  internal: (message: string) => new StatusError(500, 'InternalError', `Internal error occurred: ${message}`),
  timeout: (message: string) => new StatusError(504, 'Timeout', message),
};

export function isStatusError(e: unknown): e is StatusError {
  return e instanceof StatusError;
}

/** Storage-level failure; the API layer turns it into a Status naming the resource. */
export class StoreError extends Error {
  constructor(
    readonly code: 'NotFound' | 'Exists' | 'Conflict' | 'Expired' | 'Closed',
    message: string,
  ) {
    super(message);
  }
}
