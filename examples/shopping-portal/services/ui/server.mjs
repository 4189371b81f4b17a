// UI service (the seed's k8uiworkshop): the Shopping Portal page, rendered on the server from
// the Product service (so it works without client-side JavaScript).
//   GET /ui, /ui/           -> HTML: every product with its reviews (or "review not available")
//   GET /ui/product/{id}    -> HTML: one product
//   GET /ui/healthz, /ui/check/live, /ui/check/ready -> "ok"
//   GET /                   -> redirect to /ui/
// Env: PORT (80), HOST, UI_VERSION (v1.0), PRODUCT_URL (http://productms:80/productms),
//      PRODUCT_TIMEOUT_MS (3000; longer than Product's own Review timeout).
import { serve, send, sendText, getJson, esc, podName } from '../lib/common.mjs';

const UI_VERSION = process.env.UI_VERSION || 'v1.0';
const PRODUCT_URL = (process.env.PRODUCT_URL || 'http://productms:80/productms').replace(/\/+$/, '');
const PRODUCT_TIMEOUT_MS = Number(process.env.PRODUCT_TIMEOUT_MS || 3000);

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}
header{background:#1d3557;color:#fff;padding:12px 24px}header h1{margin:0;font-size:1.4em}
header small{opacity:.8}main{padding:16px 24px;display:grid;gap:16px;grid-template-columns:repeat(auto-fill,minmax(320px,1fr))}
.product{background:#fff;border-radius:8px;padding:16px;box-shadow:0 1px 3px #0002}
.product h2{margin:0 0 4px}.price{font-weight:bold;color:#2a7}.na{color:#b00;font-style:italic}
.reviews{list-style:none;padding:0}.reviews li{border-top:1px solid #eee;padding:6px 0}
.stars{color:#e9a100}.error{background:#fdd;padding:12px 24px;color:#900}footer{padding:8px 24px;color:#666;font-size:.85em}`;

function page(title, body, footer) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
<header><h1>Shopping Portal</h1><small>UI ${esc(UI_VERSION)} &middot; <a href="/ui/" style="color:#fff">catalogue</a></small></header>
${body}
<footer>${footer}</footer>
</body>
</html>
`;
}

const price = (p) => Number(p).toLocaleString('en-IN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const stars = (n) => '★'.repeat(Math.max(0, Math.min(5, n | 0))) + '☆'.repeat(5 - Math.max(0, Math.min(5, n | 0)));

function renderProduct(p) {
  let reviews;
  if (Array.isArray(p.reviews)) {
    reviews = p.reviews.length
      ? `<ul class="reviews">${p.reviews
          .map((r) => `<li class="review"><span class="stars" title="${esc(r.rating)}/5">${stars(r.rating)}</span> <b>${esc(r.author)}</b>: ${esc(r.desc)}</li>`)
          .join('')}</ul>`
      : '<p class="reviews">No reviews yet.</p>';
  } else {
    reviews = `<p class="na">${esc(p.message || 'review not available')}</p>`;
  }
  return `<section class="product" id="product-${esc(p.productId)}">
<h2><a href="/ui/product/${encodeURIComponent(p.productId)}">${esc(p.name)}</a></h2>
<div>${esc(p.description)}</div>
<div class="price">&#8377; ${price(p.price)}</div>
<h3>Reviews</h3>
${reviews}
<small>product pod ${esc(p.servedBy ?? '?')}${p.reviewsServedBy ? ` &middot; review pod ${esc(String(p.reviewsServedBy).replace(/^review\//, ''))}` : ''}</small>
</section>`;
}

/** Loads one product with its reviews; on failure a stand-in that says why. */
async function loadProduct(id, fallback) {
  const r = await getJson(`${PRODUCT_URL}/product/catalogue/${encodeURIComponent(id)}`, PRODUCT_TIMEOUT_MS);
  if (r.ok && r.body?.response) return { product: r.body.response, version: r.body.version };
  return { product: { ...fallback, productId: id, reviews: null, message: 'review not available' }, version: null, error: r.error };
}

function errorPage(res, what, error) {
  const body = `<div class="error"><b>${esc(what)}</b>: the Product service is not available (${esc(error)}).</div>`;
  send(res, 503, 'text/html; charset=utf-8', page('Shopping Portal', body, footer(null)));
}

const footer = (version) => `UI pod ${esc(podName)}${version ? ` &middot; ${esc(version)}` : ''} &middot; product service ${esc(PRODUCT_URL)}`;

async function catalogue(res) {
  const list = await getJson(`${PRODUCT_URL}/product/catalogue`, PRODUCT_TIMEOUT_MS);
  if (!list.ok || !Array.isArray(list.body?.response)) return errorPage(res, 'Catalogue unavailable', list.error ?? 'unexpected answer');
  const items = await Promise.all(list.body.response.map((p) => loadProduct(p.productId, p)));
  const version = items.find((i) => i.version)?.version ?? list.body.version;
  const body = `<main>\n${items.map((i) => renderProduct(i.product)).join('\n')}\n</main>`;
  send(res, 200, 'text/html; charset=utf-8', page('Shopping Portal', body, footer(version)));
}

async function productPage(res, id) {
  const r = await getJson(`${PRODUCT_URL}/product/catalogue/${encodeURIComponent(id)}`, PRODUCT_TIMEOUT_MS);
  if (r.status === 404 || (!r.ok && /HTTP 404/.test(r.error ?? ''))) {
    return send(res, 404, 'text/html; charset=utf-8', page('Not found', `<div class="error">No product ${esc(id)}.</div>`, footer(null)));
  }
  if (!r.ok || !r.body?.response) return errorPage(res, `Product ${id}`, r.error ?? 'unexpected answer');
  const p = r.body.response;
  send(res, 200, 'text/html; charset=utf-8', page(`${p.name} - Shopping Portal`, `<main>${renderProduct(p)}</main>`, footer(r.body.version)));
}

serve('ui', 80, async (req, res, url) => {
  const path = url.pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed');
  if (path === '/ui/healthz' || path === '/ui/check/live' || path === '/ui/check/ready') return sendText(res, 200, 'ok');
  if (path === '/') return send(res, 302, 'text/plain', 'see /ui/\n', { location: '/ui/' });
  if (path === '/ui' || path === '/ui/' || path === '/ui/index.html') return catalogue(res);
  const m = /^\/ui\/product\/([^/]+)\/?$/.exec(path);
  if (m) return productPage(res, decodeURIComponent(m[1]));
  return sendText(res, 404, `no route for ${path}`);
});
