// Stand-in web servers for well-known images (see ../../images.ts): one small script with no
// dependencies, so each replica costs one bare Node.js process. It listens on POD_IP (the pod's
// own loopback address) and the image's port, or $PORT / -listen when given.
//   node server.js --site=<nginx|httpd|hello|ui|site|tomcat|http-echo|helloworld|spring|productms|productreviewms|mock> [--version=v] [--name=n] [--port=p] [image args…]
import http from 'node:http';

const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    for (const p of [`--${name}=`, `-${name}=`]) if (a.startsWith(p)) return a.slice(p.length);
    if ((a === `-${name}` || a === `--${name}`) && i + 1 < argv.length) return argv[i + 1];
  }
  return undefined;
}

const site = flag('site') ?? 'nginx';
const version = flag('version') ?? 'latest';
const name = flag('name') ?? site;
const DEFAULT_PORTS: Record<string, number> = { tomcat: 8080, 'http-echo': 5678, helloworld: 8080, productms: 8082, productreviewms: 8082, mock: 9090 };
let host = process.env.POD_IP || '0.0.0.0';
let port = Number(flag('port') ?? process.env.PORT ?? DEFAULT_PORTS[site] ?? 80);
const listen = flag('listen'); // http-echo: -listen=:5678 or host:port
if (listen) {
  const i = listen.lastIndexOf(':');
  if (listen.slice(0, i)) host = listen.slice(0, i);
  port = Number(listen.slice(i + 1));
}

type Reply = [status: number, type: string, body: string];
const html = (title: string, body: string): string =>
  `<!DOCTYPE html>\n<html>\n<head><title>${title}</title></head>\n<body>\n${body}\n</body>\n</html>\n`;
const json = (v: unknown): Reply => [200, 'application/json', JSON.stringify(v)];
const text = (s: string, status = 200): Reply => [status, 'text/plain', s];
const wrap = (v: unknown, ver = process.env.PRODUCTMS_VERSION || ' ') => ({ version: ver, responsedate: new Date().toISOString(), response: v });

const PRODUCTS = [
  { productId: 2, category: '2', name: 'Sony', description: 'Vivo Mobile', price: 20000.0 },
  { productId: 1, category: '2', name: 'Apple', description: 'Iphone 10, 32 GB', price: 90000.0 },
];
const AUTHORS = ['Araf', 'Ketan', 'Ram', 'Nina', 'Olga'];
const REVIEWS = ['Good', 'Very good', 'Excellent', 'Average', 'Value for money'];
const reviews = (id: string) =>
  Array.from({ length: 5 }, (_, i) => ({
    id: `${id}-${i + 1}`,
    author: AUTHORS[Math.floor(Math.random() * AUTHORS.length)],
    desc: REVIEWS[Math.floor(Math.random() * REVIEWS.length)],
    rating: 1 + Math.floor(Math.random() * 5),
    reviewDate: new Date().toISOString(),
  }));

function fetchReviews(id: string): Promise<unknown> {
  return new Promise((resolve) => {
    const req = http.get(`http://productreviewservice/productreviewms/productreview/${id}`, { headers: { accept: 'application/json' }, timeout: 1000 }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (c) => (b += c)).on('end', () => {
        try {
          resolve(res.statusCode === 200 ? JSON.parse(b) : null);
        } catch {
          resolve(null);
        }
      });
    });
    req.on('error', () => resolve(null)).on('timeout', () => req.destroy());
  });
}

async function answer(method: string, url: URL, body: string): Promise<Reply> {
  const p = url.pathname;
  switch (site) {
    case 'nginx':
      return p === '/' || p === '/index.html'
        ? [200, 'text/html', html('Welcome to nginx!', '<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and working.</p>')]
        : [404, 'text/html', html('404 Not Found', '<center><h1>404 Not Found</h1></center>\n<hr><center>nginx</center>')];
    case 'httpd':
      return p === '/' ? [200, 'text/html', '<html><body><h1>It works!</h1></body></html>\n'] : [404, 'text/html', html('404 Not Found', '<h1>Not Found</h1>')];
    case 'hello':
      return p === '/' || p === '/index.html'
        ? [200, 'text/html', html(`Hello ${version}`, `<h1>Hello world</h1>\n<p>Version ${version} served by ${process.env.HOSTNAME ?? ''}</p>`)]
        : [404, 'text/html', html('404 Not Found', '<h1>Not Found</h1>')];
    case 'ui': {
      const v = version === 'v1.0' ? 'V1.0' : 'V2.0';
      if (p === '/ui' || p === '/ui/' || p === '/ui/index.html') return [200, 'text/html', html(v, `<h1>UI ${v}</h1>\n<app-root></app-root>`)];
      if (p.startsWith('/ui/')) return [200, 'application/javascript', '/* asset */\n'];
      return [404, 'text/html', html('404 Not Found', '<h1>Not Found</h1>')];
    }
    case 'site':
      return [200, 'text/html', html(name, `<h1>${name}</h1>\n<p>${p}</p>`)];
    case 'tomcat':
      return p === '/' || p === '/index.jsp'
        ? [200, 'text/html', html(`Apache Tomcat/${version}`, `<h1>Apache Tomcat/${version}</h1>\n<p>If you're seeing this, you've successfully installed Tomcat. Congratulations!</p>`)]
        : [404, 'text/html', html('HTTP Status 404 – Not Found', `<h1>HTTP Status 404 – Not Found</h1><hr/><h3>Apache Tomcat/${version}</h3>`)];
    case 'http-echo':
      return text(`${flag('text') ?? ''}\n`);
    case 'helloworld':
      return text(`Hello ${process.env.TARGET || 'World'}!\n`);
    case 'spring':
      return json({ name: 'stand-in', path: p });
    case 'productms': {
      if (p === '/productms/check/live') return text('App is Live');
      if (p === '/productms/check/ready') return text('App is Ready');
      if (p === '/productms/product/version') return json(wrap({ version: process.env.PRODUCTMS_VERSION || ' ' }));
      if (p === '/productms/product/catalogue') return json(wrap(PRODUCTS));
      const m = /^\/productms\/product\/catalogue\/([^/]+)$/.exec(p);
      if (m) {
        const product = PRODUCTS.find((x) => String(x.productId) === m[1]) ?? PRODUCTS[1]!;
        const r = await fetchReviews(m[1]!);
        const v = process.env.PRODUCTMS_VERSION || ' ';
        return json(wrap({ ...product, reviews: r }, r ? `${v} > Product Review` : v));
      }
      if (method === 'POST' && p.startsWith('/productms/product')) return json(wrap(PRODUCTS[1]));
      return [404, 'application/json', JSON.stringify({ status: 404, error: 'Not Found', path: p })];
    }
    case 'productreviewms': {
      if (p === '/productreviewms/check/live') return text(`App is Live ${process.env.PRODUCTREVIEW_VERSION ?? ''}`.trimEnd());
      if (p === '/productreviewms/check/ready') return text('App is Ready');
      const t = /^\/productreviewms\/productreview\/timeout\/([^/]+)$/.exec(p);
      if (t) return new Promise((res) => setTimeout(() => res(json(reviews(t[1]!))), 5000));
      const m = /^\/productreviewms\/productreview\/([^/]+)$/.exec(p);
      if (m) return json(reviews(m[1]!));
      return [404, 'application/json', JSON.stringify({ status: 404, error: 'Not Found', path: p })];
    }
    case 'mock': {
      const prefix = `/api/v1/${name}`;
      if (p === `${prefix}/service/live`) return json({ Code: 200, Status: true, Message: 'Service is OK!' });
      if (p === `${prefix}/service/ready`) return json({ Code: 200, Status: true, Message: 'Service is Ready!' });
      if (p === `${prefix}/service/echo`) return json({ Code: 200, Status: true, Message: body });
      if (p.startsWith(prefix)) return json({ Code: 200, Status: true, Message: `${name}: ${method} ${p.slice(prefix.length)}` });
      return [404, 'application/json', JSON.stringify({ status: 404, error: 'Not Found', path: p })];
    }
    default:
      return text('ok\n');
  }
}

const srv = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (c: string) => (body += c.length + body.length < 65536 ? c : ''));
  req.on('end', () => {
    answer(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x'), body).then(
      ([status, type, b]) => {
        res.writeHead(status, { 'content-type': type.includes('charset') ? type : `${type}; charset=utf-8`, server: site });
        res.end(req.method === 'HEAD' ? undefined : b);
      },
      () => {
        res.writeHead(500).end();
      },
    );
  });
});
srv.listen(port, host, () => console.log(`${site} stand-in listening on ${host}:${port}`));
// Containers get SIGTERM on stop: close promptly like the real servers do.
process.on('SIGTERM', () => {
  srv.close();
  setTimeout(() => process.exit(0), 100).unref();
});
