'use strict';
// Preloaded into Node.js containers by the process runtime (NODE_OPTIONS=--require …).
// Process-runtime pods share the host's /etc/resolv.conf, so getaddrinfo (what dns.lookup uses,
// and with it http, net, tls and fetch) knows nothing of the cluster DNS. This gives Node.js
// programs a pod's resolver without code changes: dns.lookup (callback and promises forms) expands
// a name through the pod's search path with ndots semantics, as resolv.conf(5) describes, and asks
// the cluster DNS server for every candidate in the search domains. Names that resolve nowhere
// there and do not lie in a search domain (example.com, localhost, /etc/hosts entries) go to the
// original lookup, unchanged. The dns.resolve*() family is pointed at the cluster DNS server too,
// as a pod's nameserver line would.
//
// Settings (set by the kubelet):
//   SKIFF_DNS_SERVER  cluster DNS server(s), "host:port" or "[v6]:port", comma/space separated
//                     (SKIFF_DNS_SERVERS, the runtime's list of IPs on port 53, is read when unset)
//   SKIFF_DNS_SEARCH  search domains, space separated, e.g. "default.svc.cluster.local svc.cluster.local cluster.local"
//                     (SKIFF_DNS_SEARCHES is read when unset)
//   SKIFF_DNS_NDOTS   the ndots option, default 5 (Kubernetes' default), at most 15
const dns = require('node:dns');
const net = require('node:net');

function parseServer(s) {
  const t = s.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) return net.isIPv6(bracket[1]) ? `[${bracket[1]}]:${bracket[2] || 53}` : undefined;
  if (net.isIPv6(t)) return `[${t}]:53`;
  if (net.isIPv4(t)) return `${t}:53`;
  const hp = /^([^:]+):(\d+)$/.exec(t);
  if (hp && net.isIPv4(hp[1])) return `${hp[1]}:${hp[2]}`;
  return undefined;
}

const env = process.env;
const servers = (env.SKIFF_DNS_SERVER || env.SKIFF_DNS_SERVERS || '')
  .split(/[\s,]+/)
  .filter(Boolean)
  .map(parseServer)
  .filter(Boolean);
const search = (env.SKIFF_DNS_SEARCH || env.SKIFF_DNS_SEARCHES || '')
  .split(/\s+/)
  .map((d) => d.toLowerCase().replace(/^\.+|\.+$/g, ''))
  .filter(Boolean);
const ndotsRaw = Number.parseInt(env.SKIFF_DNS_NDOTS || '', 10);
const ndots = Number.isFinite(ndotsRaw) ? Math.min(Math.max(ndotsRaw, 0), 15) : 5;

const UV_EAI_NONAME = -3008;

function notFound(hostname) {
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
  err.errno = UV_EAI_NONAME;
  err.code = 'ENOTFOUND';
  err.syscall = 'getaddrinfo';
  err.hostname = hostname;
  return err;
}

/** Whether a (lower-case, dot-less) name lies in one of the search domains: the cluster DNS server's to answer. */
function inSearchDomain(name) {
  return search.some((d) => name === d || name.endsWith(`.${d}`));
}

/** The names to try, in order, as a resolv.conf resolver would (search list and ndots). */
function candidates(hostname) {
  const lower = hostname.toLowerCase();
  if (lower.endsWith('.')) return [lower.slice(0, -1)];
  const dots = (lower.match(/\./g) || []).length;
  const expanded = search.map((d) => `${lower}.${d}`);
  return dots >= ndots ? [lower, ...expanded] : [...expanded, lower];
}

/** Names the cluster DNS server must never be asked about, or cannot be. */
function bypass(hostname) {
  if (typeof hostname !== 'string' || hostname === '' || net.isIP(hostname)) return true;
  const lower = hostname.toLowerCase().replace(/\.$/, '');
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  return lower.length > 253 || !/^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/.test(hostname.toLowerCase());
}

function normalizeFamily(f) {
  if (f === 4 || f === 'IPv4') return 4;
  if (f === 6 || f === 'IPv6') return 6;
  return 0;
}

if (servers.length && search.length && !dns.lookup.__skiffClusterNames) {
  const originalLookup = dns.lookup;
  const originalPromisesLookup = dns.promises.lookup;
  const resolver = new dns.promises.Resolver({ timeout: 1500, tries: 2 });
  resolver.setServers(servers);

  const quiet = (p) => p.catch(() => []);

  /** The addresses of one name at the cluster DNS server ([] when it has none). */
  async function query(name, family, hints) {
    if (family === 4) return (await quiet(resolver.resolve4(name))).map((address) => ({ address, family: 4 }));
    if (family === 6) {
      const v6 = (await quiet(resolver.resolve6(name))).map((address) => ({ address, family: 6 }));
      if (v6.length || !(hints & dns.V4MAPPED)) return v6;
      return (await quiet(resolver.resolve4(name))).map((a) => ({ address: `::ffff:${a}`, family: 6 }));
    }
    const [v4, v6] = await Promise.all([quiet(resolver.resolve4(name)), quiet(resolver.resolve6(name))]);
    return [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
  }

  /**
   * Addresses for `hostname` through the cluster DNS server, or undefined when the original lookup
   * should answer (the name as given lies outside every search domain and no candidate resolved).
   */
  async function clusterLookup(hostname, opts) {
    const family = normalizeFamily(opts.family);
    const hints = opts.hints || 0;
    const names = candidates(hostname).filter(inSearchDomain);
    // Candidates are asked at once (one round trip on loopback), the first in search order wins.
    const results = await Promise.all(names.map((n) => query(n, family, hints)));
    const found = results.find((r) => r.length > 0);
    if (found) {
      if (opts.order === 'ipv6first') found.sort((a, b) => b.family - a.family);
      else if (opts.order === 'ipv4first' || opts.verbatim === false) found.sort((a, b) => a.family - b.family);
      return found;
    }
    if (!inSearchDomain(hostname.toLowerCase().replace(/\.$/, ''))) return undefined;
    throw notFound(hostname);
  }

  function lookup(hostname, options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    if (typeof callback !== 'function' || bypass(hostname)) return originalLookup.apply(dns, arguments);
    const opts = typeof options === 'number' ? { family: options } : options && typeof options === 'object' ? options : {};
    const args = arguments;
    clusterLookup(hostname, opts).then(
      (found) => {
        if (!found) return originalLookup.apply(dns, args);
        if (opts.all) callback(null, found);
        else callback(null, found[0].address, found[0].family);
      },
      (err) => callback(err),
    );
  }

  async function promisesLookup(hostname, options) {
    if (bypass(hostname)) return originalPromisesLookup.apply(dns.promises, arguments);
    const opts = typeof options === 'number' ? { family: options } : options && typeof options === 'object' ? options : {};
    const found = await clusterLookup(hostname, opts);
    if (!found) return originalPromisesLookup.apply(dns.promises, arguments);
    return opts.all ? found : found[0];
  }

  Object.defineProperty(lookup, '__skiffClusterNames', { value: true });
  dns.lookup = lookup;
  dns.promises.lookup = promisesLookup;
  try {
    // dns.resolve*() and new Resolver() default to the pod's nameserver, as in a real pod.
    dns.setServers(servers);
  } catch {
    // an address c-ares refuses: leave the host's servers
  }
  // ESM importers of node:dns see the patched functions too.
  require('node:module').syncBuiltinESMExports();
}
