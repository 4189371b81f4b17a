// The kubelet's streaming server: protocol handling for exec, attach and port-forward upgrades
// (WebSocket channel protocols and SPDY/3.1), independent of how commands run.
export { parseExecQuery, parseAttachQuery, serveExecUpgrade, serveAttachUpgrade, exitStatus, errorStatus } from './exec.js';
export type { ExecRequest, ExecRunner, StreamStatus } from './exec.js';
export { servePortForwardUpgrade, parsePortsQuery } from './portforward.js';
export type { PortDialer } from './portforward.js';
