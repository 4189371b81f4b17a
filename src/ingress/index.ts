// The Ingress controller (issue 4, section 3): see controller.ts for the contract.
export { IngressController, IngressBindError, CONTROLLER_NAME, DEFAULT_CLASS_ANNOTATION, INGRESSES, INGRESS_CLASSES } from './controller.js';
export type { IngressControllerOptions, ExtraListener } from './controller.js';
export { buildRouteTable, route, normalizeHost, type RouteTable, type BackendRef, type PathRule } from './routing.js';
export { Http1Engine, type RequestRouter, type Decision, type ListenerInfo } from './http1.js';
export { Upstream, Upstreams, type Endpoint } from './upstreams.js';
