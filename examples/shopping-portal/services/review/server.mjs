// Review service (the seed's productreviewms): product reviews kept in memory.
//   GET /productreview/{productId}          -> JSON array of reviews {id, author, desc, rating, reviewDate}
//   GET /productreview/timeout/{productId}  -> the same after SLOW_MS (default 5000) ms (timeout demos)
//   GET /productreview                      -> {"<productId>": [reviews…], …}
//   GET /productreview/healthz, /productreview/check/live  -> liveness
//   GET /productreview/readyz,  /productreview/check/ready -> readiness
// The workshop's context path /productreviewms/… is accepted as an alias.
// Env: PORT (8082), HOST (unset: all interfaces, i.e. POD_IP under Skiff), PRODUCTREVIEW_VERSION,
//      REVIEW_DELAY_MS (added to every review answer, default 0), SLOW_MS.
import { serve, sendJson, sendText, podName } from '../lib/common.mjs';

const VERSION = process.env.PRODUCTREVIEW_VERSION || '1.0';
const DELAY_MS = Number(process.env.REVIEW_DELAY_MS || 0);
const SLOW_MS = Number(process.env.SLOW_MS || 5000);

const day = (d) => new Date(Date.UTC(2024, 0, d, 10, 30)).toISOString();
const REVIEWS = {
  1: [
    { id: 101, author: 'Araf', desc: 'Fast and the camera is excellent', rating: 5, reviewDate: day(3) },
    { id: 102, author: 'Nina', desc: 'Pricey, but worth it', rating: 4, reviewDate: day(9) },
    { id: 103, author: 'Ketan', desc: 'Battery could last longer', rating: 3, reviewDate: day(14) },
  ],
  2: [
    { id: 201, author: 'Ram', desc: 'Great value for money', rating: 5, reviewDate: day(5) },
    { id: 202, author: 'Olga', desc: 'Good screen, average speaker', rating: 4, reviewDate: day(11) },
  ],
  3: [
    { id: 301, author: 'Meera', desc: 'Crisp sound and very light', rating: 5, reviewDate: day(7) },
  ],
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

serve('review', 8082, async (req, res, url) => {
  let path = url.pathname.replace(/\/+$/, '') || '/';
  // Workshop alias: /productreviewms/productreview/{id} and /productreviewms/check/...
  if (path === '/productreviewms' || path.startsWith('/productreviewms/')) {
    path = path.replace(/^\/productreviewms(\/productreview(?=\/|$))?/, '/productreview');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed');
  if (path === '/productreview/healthz' || path === '/productreview/check/live') {
    return sendText(res, 200, `App is Live ${VERSION}`);
  }
  if (path === '/productreview/readyz' || path === '/productreview/check/ready') {
    return sendText(res, 200, 'App is Ready');
  }
  if (path === '/productreview/version') return sendJson(res, 200, { version: VERSION, pod: podName });
  if (path === '/productreview') {
    if (DELAY_MS) await sleep(DELAY_MS);
    return sendJson(res, 200, REVIEWS);
  }
  let m = /^\/productreview\/timeout\/(\d+)$/.exec(path);
  if (m) {
    await sleep(SLOW_MS);
    return sendJson(res, 200, REVIEWS[m[1]] ?? []);
  }
  m = /^\/productreview\/(\d+)$/.exec(path);
  if (m) {
    if (DELAY_MS) await sleep(DELAY_MS);
    return sendJson(res, 200, REVIEWS[m[1]] ?? []);
  }
  return sendText(res, 404, `no route for ${url.pathname}`);
});
