// The Shopping Portal example's services (examples/shopping-portal/services), started as plain
// local processes on loopback ports: Review, Product pointed at Review, UI pointed at Product.
// Checks their endpoints, the server-rendered page, and the "review not available" answer
// (and the circuit breaker's recovery) when Review is killed or slow.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'examples', 'shopping-portal', 'services'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('examples/shopping-portal not found above the test file');
    dir = up;
  }
  return dir;
}
const PORTAL = path.join(repoRoot(), 'examples', 'shopping-portal');
const script = (name: string) => path.join(PORTAL, 'services', name, 'server.mjs');

interface Service {
  proc: ChildProcess;
  url: string;
  port: number;
  output: () => string;
}
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Starts a service on 127.0.0.1 (PORT=0 unless given) and waits for its "listening on" line. */
function start(name: string, env: Record<string, string> = {}): Promise<Service> {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base.NODE_OPTIONS; // no preloads from the environment running the tests
  delete base.POD_IP;
  const proc = spawn(process.execPath, [script(name)], {
    env: { ...base, HOST: '127.0.0.1', PORT: '0', HOSTNAME: `${name}-test`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 10_000);
    const check = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        resolve({ proc, url: m[1]!, port: Number(m[2]), output: () => out });
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${out}`));
    });
  });
}

async function stop(s: Service, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill(signal);
  await exited;
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string; headers: Headers; json: () => any }> {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000), ...init });
  const body = await res.text();
  return { status: res.status, body, headers: res.headers, json: () => JSON.parse(body) };
}

async function until<T>(fn: () => Promise<T>, ms: number, what: string): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Shopping Portal services', () => {
  let review: Service;
  let product: Service;
  let ui: Service;

  before(async () => {
    review = await start('review');
    product = await start('product', {
      REVIEW_URL: `${review.url}/productreview`,
      REVIEW_TIMEOUT_MS: '500',
      BREAKER_THRESHOLD: '2',
      BREAKER_OPEN_MS: '300',
    });
    ui = await start('ui', { PRODUCT_URL: `${product.url}/productms` });
  });

  after(async () => {
    await Promise.all([review, product, ui].filter(Boolean).map((s) => stop(s)));
    for (const c of children) c.kill('SIGKILL');
  });

  it('Review serves reviews and health under /productreview (and the workshop alias /productreviewms)', async () => {
    const r = await get(`${review.url}/productreview/1`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    const reviews = r.json();
    assert.ok(Array.isArray(reviews) && reviews.length > 0);
    for (const x of reviews) {
      assert.equal(typeof x.author, 'string');
      assert.equal(typeof x.desc, 'string');
      assert.ok(Number.isInteger(x.rating) && x.rating >= 1 && x.rating <= 5);
      assert.ok(!Number.isNaN(Date.parse(x.reviewDate)));
    }
    assert.deepEqual((await get(`${review.url}/productreviewms/productreview/1`)).json(), reviews);
    assert.deepEqual((await get(`${review.url}/productreview/999`)).json(), []);
    assert.match((await get(`${review.url}/productreview/healthz`)).body, /App is Live/);
    assert.equal((await get(`${review.url}/productreview/check/live`)).status, 200);
    assert.equal((await get(`${review.url}/productreview/check/ready`)).status, 200);
    assert.equal((await get(`${review.url}/productreviewms/check/ready`)).status, 200);
    assert.equal((await get(`${review.url}/nothing`)).status, 404);
    assert.equal((await get(`${review.url}/productreview/1`, { method: 'DELETE' })).status, 405);
    // One log line per request, for kubectl logs.
    await until(async () => /review review-test \S+ "GET \/productreview\/1" 200 /.test(review.output()), 2000, 'request log line');
  });

  it('Product lists the catalogue and returns a product with its reviews from Review', async () => {
    const list = await get(`${product.url}/productms/product/catalogue`);
    assert.equal(list.status, 200);
    const doc = list.json();
    assert.equal(doc.version, 'Product MS Version 1.0');
    assert.ok(!Number.isNaN(Date.parse(doc.responsedate)));
    const names = doc.response.map((p: { name: string }) => p.name);
    assert.ok(names.includes('Apple') && names.includes('Sony'), names.join());

    const one = await get(`${product.url}/productms/product/catalogue/1`);
    assert.equal(one.status, 200);
    const p = one.json();
    assert.equal(p.version, 'Product MS Version 1.0 > Product Review');
    assert.equal(p.response.name, 'Apple');
    assert.equal(p.response.reviewStatus, 'available');
    assert.deepEqual(p.response.reviews, (await get(`${review.url}/productreview/1`)).json());
    assert.equal(p.response.reviewsServedBy, 'review/review-test');
    assert.match(review.output(), /"GET \/productreview\/1" 200/);

    assert.equal((await get(`${product.url}/productms/product/catalogue/42`)).status, 404);
    assert.match((await get(`${product.url}/productms/healthz`)).body, /App is Live/);
    assert.match((await get(`${product.url}/productms/check/live`)).body, /App is Live/);
    assert.match((await get(`${product.url}/productms/check/ready`)).body, /App is Ready/);
    assert.equal((await get(`${product.url}/productms/product/version`)).json().response.version, 'Product MS Version 1.0');
    const posted = await get(`${product.url}/productms/product`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ productId: 9, name: 'Nokia' }),
    });
    assert.equal(posted.status, 200);
    assert.equal(posted.json().response.name, 'Nokia');
    assert.equal((await get(`${product.url}/productms/product`, { method: 'POST', body: 'not json' })).status, 400);
  });

  it('UI renders every product with its reviews on the server', async () => {
    for (const p of ['/ui', '/ui/']) {
      const page = await get(`${ui.url}${p}`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      for (const text of ['Shopping Portal', 'Apple', 'Sony', 'Iphone 10, 32 GB', 'Araf', 'Fast and the camera is excellent', 'Ram', 'Great value for money']) {
        assert.ok(page.body.includes(text), `${p} lacks ${text}`);
      }
      assert.ok(!page.body.includes('review not available'));
      assert.ok(!/<script/i.test(page.body), 'the page needs no client-side JavaScript');
    }
    const detail = await get(`${ui.url}/ui/product/2`);
    assert.equal(detail.status, 200);
    assert.ok(detail.body.includes('Sony') && detail.body.includes('Olga'));
    assert.equal((await get(`${ui.url}/ui/product/42`)).status, 404);
    assert.equal((await get(`${ui.url}/ui/healthz`)).status, 200);
    const root = await get(`${ui.url}/`);
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    assert.match(ui.output(), /"GET \/ui\/" 200/);
    assert.match(product.output(), /"GET \/productms\/product\/catalogue" 200/);
  });

  it('Product answers "review not available" when Review is killed, and recovers when it is back', async () => {
    const port = review.port;
    await stop(review, 'SIGKILL');

    const started = Date.now();
    const r = await get(`${product.url}/productms/product/catalogue/1`);
    assert.ok(Date.now() - started < 5000);
    assert.equal(r.status, 200);
    const p = r.json();
    assert.equal(p.version, 'Product MS Version 1.0', 'no "> Product Review" suffix without reviews');
    assert.equal(p.response.name, 'Apple');
    assert.equal(p.response.reviews, null);
    assert.equal(p.response.message, 'review not available');

    const page = await get(`${ui.url}/ui/`);
    assert.equal(page.status, 200);
    assert.ok(page.body.includes('Apple') && page.body.includes('Sony'));
    assert.ok(page.body.includes('review not available'));
    assert.ok(!page.body.includes('Araf'));

    // After BREAKER_THRESHOLD failures the breaker is open: no calls to Review at all.
    const breaker = (await get(`${product.url}/productms/breaker`)).json();
    assert.equal(breaker.state, 'open');
    assert.match(product.output(), /circuit breaker open/);

    // Review back on the same address: within the open interval plus one trial, reviews return.
    review = await start('review', { PORT: String(port) });
    const back = await until(
      async () => {
        const x = (await get(`${product.url}/productms/product/catalogue/1`)).json();
        return x.response.reviewStatus === 'available' ? x : undefined;
      },
      5000,
      'reviews to come back',
    );
    assert.ok(back.response.reviews.length > 0);
    assert.equal((await get(`${product.url}/productms/breaker`)).json().state, 'closed');
  });

  it('Product answers "review not available" when Review is slower than its timeout', async () => {
    const slow = await start('review', { REVIEW_DELAY_MS: '3000' });
    const prod = await start('product', { REVIEW_URL: `${slow.url}/productreview`, REVIEW_TIMEOUT_MS: '300' });
    try {
      const started = Date.now();
      const p = (await get(`${prod.url}/productms/product/catalogue/2`)).json();
      const took = Date.now() - started;
      assert.ok(took < 2500, `took ${took} ms`);
      assert.equal(p.response.name, 'Sony');
      assert.equal(p.response.reviews, null);
      assert.equal(p.response.message, 'review not available');
      assert.match(p.response.reason, /timed out/);
    } finally {
      await Promise.all([stop(slow), stop(prod)]);
    }
  });

  it('deploy.mjs --print renders the manifests with this checkout\'s absolute paths', () => {
    const r = spawnSync(process.execPath, [path.join(PORTAL, 'deploy.mjs'), '--print'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stdout.includes('__EXAMPLES_DIR__'));
    for (const name of ['ui', 'product', 'review']) {
      const file = script(name);
      assert.ok(r.stdout.includes(`"${file}"`), `command for ${name}`);
      assert.ok(existsSync(file));
    }
    for (const kind of ['kind: Namespace', 'kind: Deployment', 'kind: Service', 'kind: Ingress', 'apiVersion: networking.k8s.io/v1', 'host: shopping.local']) {
      assert.ok(r.stdout.includes(kind), kind);
    }
  });
});
