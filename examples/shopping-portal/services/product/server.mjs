// Product service (the seed's productms): the catalogue, kept in memory. For a single product
// it asks the Review service for the product's reviews, by the Review Service's cluster name;
// when Review is down, slow or failing it still answers, with the message "review not available"
// (the seed's circuit-breaker slide), and after BREAKER_THRESHOLD failures in a row it stops
// calling Review for BREAKER_OPEN_MS (a circuit breaker: closed -> open -> half-open -> closed).
//   GET  /productms/product/catalogue        -> {version, responsedate, response: [product…]}
//   GET  /productms/product/catalogue/{id}   -> {version, responsedate, response: {…product, reviews, reviewStatus, message?}}
//   GET  /productms/product/version          -> {version, responsedate, response: {version}}
//   POST /productms/product                  -> echoes the product sent (not stored)
//   GET  /productms/breaker                  -> the circuit breaker's state
//   GET  /productms/healthz, /productms/check/live  -> liveness
//   GET  /productms/readyz,  /productms/check/ready -> readiness (does not depend on Review)
// Env: PORT (8082), HOST, PRODUCTMS_VERSION, REVIEW_URL (http://productreview:80/productreview),
//      REVIEW_TIMEOUT_MS (1000), BREAKER_THRESHOLD (3), BREAKER_OPEN_MS (5000).
import { serve, sendJson, sendText, readBody, getJson, podName } from '../lib/common.mjs';

const VERSION = process.env.PRODUCTMS_VERSION || 'Product MS Version 1.0';
const REVIEW_URL = (process.env.REVIEW_URL || 'http://productreview:80/productreview').replace(/\/+$/, '');
const REVIEW_TIMEOUT_MS = Number(process.env.REVIEW_TIMEOUT_MS || 1000);
const BREAKER_THRESHOLD = Math.max(1, Number(process.env.BREAKER_THRESHOLD || 3));
const BREAKER_OPEN_MS = Number(process.env.BREAKER_OPEN_MS || 5000);
const REVIEW_NOT_AVAILABLE = 'review not available';

const PRODUCTS = [
  { productId: 2, category: '2', name: 'Sony', description: 'Vivo Mobile', price: 20000.0 },
  { productId: 1, category: '2', name: 'Apple', description: 'Iphone 10, 32 GB', price: 90000.0 },
  { productId: 3, category: '3', name: 'Bose', description: 'QuietComfort Headphones', price: 25000.0 },
];

const wrap = (response, version = VERSION) => ({ version, responsedate: new Date().toISOString(), response });

// --- circuit breaker around the Review call ---------------------------------------------
const breaker = { state: 'closed', failures: 0, openedAt: 0, lastError: null, trialInFlight: false };

function breakerAllows() {
  if (breaker.state === 'closed') return true;
  if (breaker.state === 'open' && Date.now() - breaker.openedAt >= BREAKER_OPEN_MS) {
    breaker.state = 'half-open';
  }
  if (breaker.state === 'half-open' && !breaker.trialInFlight) {
    breaker.trialInFlight = true; // one trial request at a time
    return true;
  }
  return false;
}

function breakerResult(ok, error) {
  breaker.trialInFlight = false;
  if (ok) {
    if (breaker.state !== 'closed') log(`circuit breaker closed (Review answers again)`);
    breaker.state = 'closed';
    breaker.failures = 0;
    breaker.lastError = null;
    return;
  }
  breaker.failures++;
  breaker.lastError = error;
  if (breaker.state === 'half-open' || (breaker.state === 'closed' && breaker.failures >= BREAKER_THRESHOLD)) {
    if (breaker.state === 'closed') log(`circuit breaker open after ${breaker.failures} failures: ${error}`);
    breaker.state = 'open';
    breaker.openedAt = Date.now();
  }
}

function log(msg) {
  process.stdout.write(`${new Date().toISOString()} product ${podName} ${msg}\n`);
}

/** The product's reviews, or why there are none. */
async function reviewsFor(productId) {
  if (!breakerAllows()) return { ok: false, error: `circuit open (${breaker.lastError})` };
  const r = await getJson(`${REVIEW_URL}/${encodeURIComponent(productId)}`, REVIEW_TIMEOUT_MS);
  const ok = r.ok && Array.isArray(r.body);
  breakerResult(ok, ok ? null : r.error ?? 'unexpected answer');
  if (!ok) {
    log(`review call for product ${productId} failed: ${r.error ?? 'unexpected answer'}`);
    return { ok: false, error: r.error ?? 'unexpected answer' };
  }
  return { ok: true, reviews: r.body, servedBy: r.servedBy };
}

serve('product', 8082, async (req, res, url) => {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/productms/healthz' || path === '/productms/check/live') return sendText(res, 200, 'App is Live');
  if (path === '/productms/readyz' || path === '/productms/check/ready') return sendText(res, 200, 'App is Ready');

  if (path === '/productms/product' && req.method === 'POST') {
    let product;
    try {
      product = JSON.parse(await readBody(req));
    } catch {
      return sendJson(res, 400, { error: 'body must be a JSON product' });
    }
    if (!product || typeof product !== 'object' || Array.isArray(product)) return sendJson(res, 400, { error: 'body must be a JSON object' });
    return sendJson(res, 200, wrap(product));
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed');

  if (path === '/productms/product/version') return sendJson(res, 200, wrap({ version: VERSION, pod: podName }));
  if (path === '/productms/breaker') {
    return sendJson(res, 200, { state: breaker.state, failures: breaker.failures, lastError: breaker.lastError, reviewUrl: REVIEW_URL, timeoutMs: REVIEW_TIMEOUT_MS, threshold: BREAKER_THRESHOLD, openMs: BREAKER_OPEN_MS });
  }
  if (path === '/productms/product/catalogue' || path === '/productms/product') {
    return sendJson(res, 200, wrap(PRODUCTS));
  }
  const m = /^\/productms\/product\/catalogue\/([^/]+)$/.exec(path);
  if (m) {
    const product = PRODUCTS.find((p) => String(p.productId) === decodeURIComponent(m[1]));
    if (!product) return sendJson(res, 404, { error: `product ${m[1]} not found` });
    const r = await reviewsFor(product.productId);
    if (r.ok) {
      return sendJson(res, 200, wrap({ ...product, reviews: r.reviews, reviewStatus: 'available', servedBy: podName, reviewsServedBy: r.servedBy ?? null }, `${VERSION} > Product Review`));
    }
    return sendJson(res, 200, wrap({ ...product, reviews: null, reviewStatus: REVIEW_NOT_AVAILABLE, message: REVIEW_NOT_AVAILABLE, reason: r.error, servedBy: podName }));
  }
  return sendText(res, 404, `no route for ${url.pathname}`);
});
