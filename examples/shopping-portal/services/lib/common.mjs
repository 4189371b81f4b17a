// Shared helpers of the Shopping Portal services: plain node:http, no dependencies.
import http from 'node:http';
import os from 'node:os';

/** The pod's name (HOSTNAME in a pod), shown in responses so load balancing is visible. */
export const podName = process.env.HOSTNAME || os.hostname();

const LOG_PROBES = process.env.LOG_PROBES === '1' || process.env.LOG_PROBES === 'true';

/**
 * One line per request on stdout, so `kubectl logs` shows the traffic. The kubelet's probes
 * (User-Agent kube-probe/…) are left out unless LOG_PROBES=1, so real traffic stays visible.
 */
function logRequest(service, req, res, started) {
  if (!LOG_PROBES && String(req.headers['user-agent'] ?? '').startsWith('kube-probe/')) return;
  const ms = (Number(process.hrtime.bigint() - started) / 1e6).toFixed(1);
  const from = req.socket.remoteAddress ?? '-';
  process.stdout.write(`${new Date().toISOString()} ${service} ${podName} ${from} "${req.method} ${req.url}" ${res.statusCode} ${ms}ms\n`);
}

export function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}
export const sendJson = (res, status, value) => send(res, status, 'application/json', JSON.stringify(value));
export const sendText = (res, status, text) => send(res, status, 'text/plain; charset=utf-8', text + '\n');

/** Reads a request body (bounded) as text. */
export function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * GETs a JSON document with a hard deadline (connect + headers + body). Resolves
 * { ok: true, status, body, servedBy } or { ok: false, error }; never rejects.
 * node:http (not fetch) so the name is resolved by dns.lookup, which the cluster's preload serves.
 */
export function getJson(url, timeoutMs) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = http.get(url, { headers: { accept: 'application/json' }, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (err) => finish({ ok: false, error: err.message }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
          finish({ ok: false, error: `HTTP ${res.statusCode}`, status: res.statusCode });
          return;
        }
        try {
          finish({ ok: true, status: res.statusCode, body: JSON.parse(text), servedBy: res.headers['x-served-by'] });
        } catch {
          finish({ ok: false, error: 'invalid JSON' });
        }
      });
    });
    const timer = setTimeout(() => {
      finish({ ok: false, error: `timed out after ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => finish({ ok: false, error: err.code || err.message }));
  });
}

/**
 * Starts an HTTP server for `handler(req, res, url)` on $PORT (default `defaultPort`) and
 * $HOST (default: unspecified, which the process runtime's preload turns into POD_IP).
 * Prints `listening on http://host:port` once bound; SIGTERM/SIGINT drain briefly, close it and exit.
 */
export function serve(service, defaultPort, handler) {
  const port = Number(process.env.PORT ?? defaultPort);
  const host = process.env.HOST || undefined;
  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    res.setHeader('x-served-by', `${service}/${podName}`);
    res.on('finish', () => logRequest(service, req, res, started));
    const url = new URL(req.url ?? '/', 'http://localhost');
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch((err) => {
        process.stderr.write(`${new Date().toISOString()} ${service} error: ${err?.stack ?? err}\n`);
        if (!res.headersSent) sendText(res, 500, 'internal error');
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, host, () => {
    const a = server.address();
    const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    process.stdout.write(`${new Date().toISOString()} ${service} ${podName} listening on http://${shown}:${a.port}\n`);
  });
  server.on('error', (err) => {
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(1);
  });
  // Kubernetes tells the pod to stop and the proxies to forget it at the same moment; keep
  // answering for a short while so connections that were already routed here still succeed.
  const drainMs = Number(process.env.SHUTDOWN_DELAY_MS ?? 1500);
  const stop = (sig) => {
    process.stdout.write(`${new Date().toISOString()} ${service} ${podName} ${sig}: shutting down in ${drainMs} ms\n`);
    setTimeout(() => {
      server.close(() => process.exit(0));
      server.closeIdleConnections();
      setTimeout(() => process.exit(0), 2000).unref();
    }, drainMs).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return server;
}

/** Escapes text for HTML. */
export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
