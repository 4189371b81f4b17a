#!/usr/bin/env node
// Deploys the Shopping Portal to the current kubectl context (e.g. a Skiff cluster).
// The manifests in k8s/ run the services with the host's node (`image: node:20`,
// `command: [node, <absolute path>]`), so the absolute path of this checkout's examples/
// folder is substituted for __EXAMPLES_DIR__ before the YAML is piped to `kubectl apply -f -`.
//
//   node examples/shopping-portal/deploy.mjs            apply, wait for the rollouts, print the URL
//   node examples/shopping-portal/deploy.mjs --print    print the rendered YAML only
//   node examples/shopping-portal/deploy.mjs --delete   delete everything (the namespace too)
// Options: --context NAME, --kubectl PATH (or $KUBECTL), --no-wait, --timeout SECONDS (120).
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLES_DIR = path.resolve(HERE, '..');
const NAMESPACE = 'shopping';
const DEPLOYMENTS = ['productreview', 'productms', 'ui'];

function parseArgs(argv) {
  const o = { print: false, delete: false, wait: true, timeout: 120, context: undefined, kubectl: process.env.KUBECTL || 'kubectl' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i] ?? fail(`${k} needs a value`);
    if (k === '--print') o.print = true;
    else if (k === '--delete') o.delete = true;
    else if (k === '--no-wait') o.wait = false;
    else if (k === '--timeout') o.timeout = Number(String(value()).replace(/s$/, ''));
    else if (k === '--context') o.context = value();
    else if (k === '--kubectl') o.kubectl = value();
    else if (k === '-h' || k === '--help') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  if (!(o.timeout > 0)) fail('--timeout must be a positive number of seconds');
  return o;
}

function fail(msg) {
  process.stderr.write(`deploy: ${msg}\n`);
  process.exit(1);
}

/** The manifests, in file order, with __EXAMPLES_DIR__ replaced (JSON-escaped: it sits in double-quoted YAML strings). */
export function render(examplesDir = EXAMPLES_DIR) {
  const dir = path.join(HERE, 'k8s');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const escaped = JSON.stringify(examplesDir).slice(1, -1);
  return files.map((f) => readFileSync(path.join(dir, f), 'utf8').replaceAll('__EXAMPLES_DIR__', escaped).trimEnd()).join('\n---\n') + '\n';
}

function kubectl(o, args, opts = {}) {
  const full = [...(o.context ? ['--context', o.context] : []), ...args];
  const r = spawnSync(o.kubectl, full, { input: opts.input, encoding: 'utf8', stdio: [opts.input === undefined ? 'ignore' : 'pipe', opts.capture ? 'pipe' : 'inherit', opts.capture ? 'pipe' : 'inherit'] });
  if (r.error) fail(`cannot run ${o.kubectl}: ${r.error.message}`);
  return r;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The Ingress's address from its status, as a base URL, or undefined while it has none. */
function ingressUrl(o) {
  const r = kubectl(o, ['get', 'ingress', 'shopping-portal', '-n', NAMESPACE, '-o', 'json'], { capture: true });
  if (r.status !== 0) return undefined;
  let lb;
  try {
    lb = JSON.parse(r.stdout)?.status?.loadBalancer?.ingress?.[0];
  } catch {
    return undefined;
  }
  const host = lb?.ip ?? lb?.hostname;
  if (!host) return undefined;
  // A controller that cannot bind :80 may publish the port it serves on instead.
  const port = lb.ports?.find((p) => (p.protocol ?? 'TCP') === 'TCP')?.port;
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h}${port && port !== 80 ? `:${port}` : ''}`;
}

function probe(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const yaml = render();
  if (o.print) {
    process.stdout.write(yaml);
    return;
  }
  if (o.delete) {
    const r = kubectl(o, ['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { input: yaml });
    process.exit(r.status ?? 1);
  }
  const applied = kubectl(o, ['apply', '-f', '-'], { input: yaml });
  if (applied.status !== 0) fail('kubectl apply failed');
  if (!o.wait) return;

  const deadline = Date.now() + o.timeout * 1000;
  for (const d of DEPLOYMENTS) {
    const left = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    const r = kubectl(o, ['rollout', 'status', `deployment/${d}`, '-n', NAMESPACE, `--timeout=${left}s`]);
    if (r.status !== 0) fail(`deployment ${d} did not become ready (kubectl get pods -n ${NAMESPACE}; kubectl logs -n ${NAMESPACE} deploy/${d})`);
  }

  // The Ingress controller writes the address it serves on into the Ingress's status.
  let base;
  const ingressDeadline = Math.min(deadline, Date.now() + 30_000);
  while (!(base = ingressUrl(o)) && Date.now() < ingressDeadline) await sleep(500);
  if (!base) {
    process.stdout.write(
      `\nThe Shopping Portal is running, but the Ingress has no address yet (is an Ingress controller running?).\n` +
        `Reach the UI without it:\n  kubectl port-forward -n ${NAMESPACE} svc/ui 8080:80   # then open http://localhost:8080/ui/\n`,
    );
    return;
  }
  let status;
  for (const until = Date.now() + 15_000; Date.now() < until; await sleep(500)) {
    if ((status = await probe(`${base}/ui/`)) === 200) break;
  }
  process.stdout.write(
    `\nShopping Portal: ${base}/ui/${status === 200 ? '' : `   (not answering yet: ${status ?? 'no connection'})`}\n` +
      `  products:  curl ${base}/productms/product/catalogue\n` +
      `  reviews:   curl ${base}/productreview/1\n` +
      `  by host:   curl -H 'Host: shopping.local' ${base}/ui/\n`,
  );
}

// Run only as a program (importing it for render() has no side effects).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => fail(err?.stack ?? String(err)));
}
