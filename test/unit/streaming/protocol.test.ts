// Protocol details checked with a plain WebSocket client and raw HTTP: query parsing, refusal of
// non-upgrades, v5 resize and stdin close, base64 and pre-v4 status encodings, client disconnects,
// and terminal resize from the real kubectl (under a pseudo-terminal) over WebSocket and SPDY.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import type { ExecIO } from '../../../src/kubelet/runtime/types.js';
import { parseAttachQuery, parseExecQuery, serveExecUpgrade, servePortForwardUpgrade, type ExecRequest, type ExecRunner } from '../../../src/kubelet/streaming/index.js';
import { StatusError } from '../../../src/machinery/errors.js';
import { kubectlBin, killAllKubectl, kubectl, processRunner, startEchoServer, startFakeApi, type FakeApi } from './support.js';

describe('parseExecQuery', () => {
  test('repeated command, booleans as kubectl sends them', () => {
    const q = new URLSearchParams('command=sh&command=-c&command=exit%203&container=c&stdin=true&stdout=true&stderr=true');
    assert.deepEqual(parseExecQuery(q), { command: ['sh', '-c', 'exit 3'], stdin: true, stdout: true, stderr: true, tty: false });
  });
  test('tty drops stderr (one terminal stream); "1" is true', () => {
    const q = new URLSearchParams('command=sh&stdin=1&stdout=1&stderr=1&tty=1');
    assert.deepEqual(parseExecQuery(q), { command: ['sh'], stdin: true, stdout: true, stderr: false, tty: true });
  });
  test('nonsense is a 400 StatusError', () => {
    for (const qs of ['stdout=true', 'command=ls&stdout=maybe', 'command=ls', 'command=&stdout=true']) {
      assert.throws(
        () => parseExecQuery(new URLSearchParams(qs)),
        (e: unknown) => e instanceof StatusError && e.code === 400,
        qs,
      );
    }
  });
  test('attach needs no command', () => {
    assert.deepEqual(parseAttachQuery(new URLSearchParams('stdin=true&stdout=true&tty=true')), { command: [], stdin: true, stdout: true, stderr: false, tty: true });
  });
});

// A bare server routing every upgrade to serveExecUpgrade with the test's runner.
let server: http.Server;
let port = 0;
let runner: (exec: ExecRequest) => ExecRunner = processRunner;
const sockets = new Set<net.Socket>();

before(async () => {
  server = http.createServer((_req, res) => res.end('not an upgrade'));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/portForward/')) return servePortForwardUpgrade(req, socket, head, () => Promise.reject(new Error('nope')));
    const exec = parseExecQuery(url.searchParams);
    serveExecUpgrade(req, socket, head, exec, runner(exec));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface Received {
  channels: Map<number, Buffer[]>;
  closeCode: number;
  protocol: string;
}

/** Open a channel WebSocket, run `drive`, and collect what arrives until the server closes. */
function wsExec(query: string, protocol: string | undefined, drive: (ws: WebSocket) => void, base64 = false): Promise<Received> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/exec/default/p1/c?${query}`, protocol ? [protocol] : []);
    const channels = new Map<number, Buffer[]>();
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('websocket exec timed out'));
    }, 20_000);
    ws.on('open', () => drive(ws));
    ws.on('message', (raw: Buffer) => {
      let ch = raw[0]!;
      let payload = raw.subarray(1);
      if (base64) {
        ch -= 48;
        payload = Buffer.from(payload.toString(), 'base64');
      }
      if (!channels.has(ch)) channels.set(ch, []);
      channels.get(ch)!.push(payload);
    });
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ channels, closeCode: code, protocol: ws.protocol });
    });
  });
}

const text = (r: Received, ch: number) => Buffer.concat(r.channels.get(ch) ?? []).toString();

describe('WebSocket exec', () => {
  test('v5: resize on channel 4, stdin bytes, [0xFF,0x00] ends stdin, Success on channel 3, close 1000', async () => {
    const sizes: { width: number; height: number }[] = [];
    runner = () => async (io: ExecIO) => {
      io.resize!((s) => sizes.push(s));
      let input = '';
      for await (const c of io.stdin!) input += c.toString();
      io.stdout!.write(input.toUpperCase());
      return 0;
    };
    const r = await wsExec('command=x&stdin=true&stdout=true&tty=true', 'v5.channel.k8s.io', (ws) => {
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}\n')]));
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('abc')]));
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":120,"Height":40}\n')]));
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('def')]));
      ws.send(Buffer.from([255, 0]));
    });
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.equal(text(r, 1), 'ABCDEF');
    assert.deepEqual(JSON.parse(text(r, 3)), { metadata: {}, status: 'Success' });
    assert.equal(r.channels.has(2), false, 'no stderr channel with a tty');
    assert.equal(r.closeCode, 1000);
    assert.deepEqual(sizes, [
      { width: 80, height: 24 },
      { width: 120, height: 40 },
    ]);
  });

  test('v4.base64: text frames, exit code as NonZeroExitCode/ExitCode', async () => {
    runner = processRunner;
    const r = await wsExec(
      'command=sh&command=-c&command=echo%20out%3B%20echo%20err%20%3E%262%3B%20exit%205&stdout=true&stderr=true',
      'v4.base64.channel.k8s.io',
      () => {},
      true,
    );
    assert.equal(r.protocol, 'v4.base64.channel.k8s.io');
    assert.equal(text(r, 1), 'out\n');
    assert.equal(text(r, 2), 'err\n');
    const status = JSON.parse(text(r, 3));
    assert.equal(status.status, 'Failure');
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '5' }]);
  });

  test('pre-v4 channel.k8s.io: the error channel carries plain text', async () => {
    runner = () => async () => {
      throw new StatusError(400, 'BadRequest', 'container c is not running');
    };
    const r = await wsExec('command=ls&stdout=true', 'channel.k8s.io', () => {});
    assert.equal(text(r, 3), 'container c is not running');
  });

  test('unsupported subprotocols are refused with 400 before the handshake', async () => {
    const res = await rawRequest(
      'GET /exec/default/p1/c?command=ls&stdout=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v9.channel.k8s.io\r\n\r\n',
    );
    assert.match(res.head, /^HTTP\/1\.1 400 /);
    assert.equal(JSON.parse(res.body).kind, 'Status');
  });

  test('a client that disconnects aborts the run signal', async () => {
    let aborted!: () => void;
    const sawAbort = new Promise<void>((resolve) => (aborted = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    runner = () => (_io, signal) =>
      new Promise<number>((resolve) => {
        started();
        signal.addEventListener('abort', () => {
          aborted();
          resolve(137);
        });
      });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/exec/default/p1/c?command=sleep&stdout=true`, ['v5.channel.k8s.io']);
    ws.on('error', () => {});
    await new Promise((resolve) => ws.on('open', resolve));
    await running;
    ws.terminate();
    await sawAbort;
  });
});

function rawRequest(request: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let data = '';
    s.on('data', (c) => (data += c.toString()));
    s.on('error', reject);
    s.on('close', () => {
      const i = data.indexOf('\r\n\r\n');
      resolve({ head: data.slice(0, i), body: data.slice(i + 4) });
    });
    setTimeout(() => s.destroy(), 10_000).unref();
  });
}

describe('refusing what is neither WebSocket nor SPDY', () => {
  test('exec: HTTP 400 with a Status body', async () => {
    const res = await rawRequest('POST /exec/default/p1/c?command=ls&stdout=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    assert.match(res.head, /^HTTP\/1\.1 400 Bad Request/);
    assert.match(res.head, /Content-Type: application\/json/);
    const status = JSON.parse(res.body);
    assert.equal(status.kind, 'Status');
    assert.equal(status.code, 400);
    assert.equal(status.reason, 'BadRequest');
  });
  test('port-forward: HTTP 400 with a Status body; SPDY without portforward.k8s.io: 403', async () => {
    const bad = await rawRequest('POST /portForward/default/p1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n');
    assert.match(bad.head, /^HTTP\/1\.1 400 /);
    assert.equal(JSON.parse(bad.body).code, 400);
    const wrong = await rawRequest('POST /portForward/default/p1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
    assert.match(wrong.head, /^HTTP\/1\.1 403 /);
    assert.match(wrong.head, /X-Accepted-Stream-Protocol-Versions: portforward\.k8s\.io/);
  });
});

describe('kubectl under a pseudo-terminal (exec -it)', () => {
  let api: FakeApi;
  before(async () => {
    api = await startFakeApi();
    // Report the first terminal size the client sends, then exit.
    api.runner = (exec) => async (io, signal) => {
      if (exec.command[0] !== 'report-size') return processRunner(exec)(io, signal);
      const size = await new Promise<{ width: number; height: number } | undefined>((resolve) => {
        const t = setTimeout(() => resolve(undefined), 20_000);
        io.resize?.((s) => {
          clearTimeout(t);
          resolve(s);
        });
      });
      io.stdout!.write(`tty=${io.tty} size=${size ? `${size.width}x${size.height}` : 'none'}\r\n`);
      return 0;
    };
  });
  after(async () => {
    killAllKubectl();
    await api.close();
  });

  for (const minor of [32, 27]) {
    test(`kubectl 1.${minor} sends the terminal size (${minor >= 30 ? 'WebSocket channel 4' : 'SPDY resize stream'})`, async () => {
      const inner = `stty cols 100 rows 30; exec ${kubectlBin(minor)} --kubeconfig ${api.kubeconfig} --cache-dir ${api.dir}/cache-tty exec -it p1 -- report-size`;
      const child = spawn('script', ['-qec', inner, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: api.dir } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('close', (c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
      assert.match(out, /tty=true size=100x30/);
      assert.equal(code, 0, out);
    });
  }

  test('kubectl 1.32 attach -i goes through the same machinery', async () => {
    const saved = api.runner;
    api.runner = (exec) => processRunner({ ...exec, command: ['cat'] });
    try {
      const r = await kubectl(api, 32, ['attach', '-i', 'p1', '-c', 'c'], { stdin: 'attached\n' });
      assert.match(r.stdout, /attached\n/);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      api.runner = saved;
    }
  });
});

describe('WebSocket channel port-forward (v4.channel.k8s.io, ?ports=)', () => {
  test('first frame on each channel is the port; data is echoed', async () => {
    const echo = await startEchoServer();
    const local = http.createServer();
    local.on('upgrade', (req, socket, head) =>
      servePortForwardUpgrade(req, socket, head, (p) => new Promise((resolve, reject) => {
        const s = net.connect(p, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      })),
    );
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    try {
      const lp = (local.address() as AddressInfo).port;
      const ws = new WebSocket(`ws://127.0.0.1:${lp}/portForward/default/p1?ports=${echo.port}`, ['v4.channel.k8s.io']);
      const frames: Buffer[] = [];
      const got = new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('timed out')), 10_000);
        ws.on('message', (m: Buffer) => {
          frames.push(m);
          const data = frames.filter((f) => f[0] === 0).slice(1).map((f) => f.subarray(1).toString()).join('');
          if (data === 'ping') {
            clearTimeout(t);
            resolve(data);
          }
        });
      });
      await new Promise((resolve) => ws.on('open', resolve));
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping')]));
      assert.equal(await got, 'ping');
      const firstData = frames.find((f) => f[0] === 0)!;
      const firstErr = frames.find((f) => f[0] === 1)!;
      assert.equal(firstData.readUInt16LE(1), echo.port);
      assert.equal(firstErr.readUInt16LE(1), echo.port);
      ws.terminate();
    } finally {
      const closed = new Promise<void>((resolve) => local.close(() => resolve()));
      local.closeAllConnections();
      await closed;
      await echo.close();
    }
  });
});
