'use strict';
// Preloaded into Node.js containers by the process runtime (NODE_OPTIONS=--require …).
// In the process runtime every pod shares the host's network stack and owns one loopback
// address (POD_IP). Programs written for Kubernetes listen on "all interfaces" (no host,
// 0.0.0.0 or ::), which on a shared host would make every replica fight for the same port.
// This rewrites exactly those listens to POD_IP, so each pod gets its own <POD_IP>:<port>
// without code changes. Explicit hosts (127.0.0.1, a named interface) and Unix sockets,
// handles and fds are left alone.
const net = require('node:net');

const podIp = process.env.POD_IP;
const UNSPECIFIED = new Set(['0.0.0.0', '::', '::0', '0:0:0:0:0:0:0:0', '']);

function isPort(v) {
  return (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\d+$/.test(v));
}

if (podIp && !net.Server.prototype.__skiffPodIp) {
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function listen(...args) {
    if (args.length === 0) args.push(0);
    const first = args[0];
    if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
      // listen(options[, cb]): only port-based options, never handle/fd/path.
      if (first.path === undefined && first.handle === undefined && first._handle === undefined && first.fd === undefined &&
          (first.host === undefined || first.host === null || UNSPECIFIED.has(first.host))) {
        args[0] = Object.assign({}, first, { host: podIp });
      }
    } else if (first === undefined || first === null || isPort(first)) {
      // listen([port[, host[, backlog]]][, cb])
      const second = args[1];
      if (second === undefined || second === null || typeof second === 'function') {
        args.splice(1, 0, podIp);
        if (args[0] === undefined || args[0] === null) args[0] = 0;
      } else if (typeof second === 'string' && UNSPECIFIED.has(second)) {
        args[1] = podIp;
      } else if (typeof second === 'number') {
        // listen(port, backlog[, cb])
        args.splice(1, 0, podIp);
      }
    }
    return original.apply(this, args);
  };
  Object.defineProperty(net.Server.prototype, '__skiffPodIp', { value: podIp });
}
