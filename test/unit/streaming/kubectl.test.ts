// exec, cp and port-forward driven by the real kubectl (WebSocket v5, the SPDY fallback, SPDY
// for old clients, and SPDY tunnelled in WebSocket for port-forward).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { echoRoundTrip, killAllKubectl, kubectl, spawnKubectl, startEchoServer, startFakeApi, stop, waitForOutput, type FakeApi } from './support.js';

let api: FakeApi;
let echo: Awaited<ReturnType<typeof startEchoServer>>;

before(async () => {
  api = await startFakeApi();
  echo = await startEchoServer();
});

after(async () => {
  killAllKubectl();
  await echo.close();
  await api.close();
});

const SCRIPT = 'echo to-stdout; echo to-stderr >&2; exit 3';

describe('exec', () => {
  test('kubectl 1.32 over WebSocket v5: stdout, stderr and exit code 3', async () => {
    api.upgrades.length = 0;
    const r = await kubectl(api, 32, ['exec', 'p1', '--', 'sh', '-c', SCRIPT]);
    assert.equal(r.stdout, 'to-stdout\n');
    assert.match(r.stderr, /to-stderr\n/);
    assert.match(r.stderr, /command terminated with exit code 3/);
    assert.equal(r.code, 3);
    assert.deepEqual(
      api.upgrades.map((u) => [u.method, u.upgrade.toLowerCase(), u.protocols]),
      [['GET', 'websocket', 'v5.channel.k8s.io']],
    );
    await api.upgrades[0]!.closed; // the server side is closed too, nothing lingers
  });

  test('kubectl 1.32 success exits 0', async () => {
    const r = await kubectl(api, 32, ['exec', 'p1', '-c', 'c', '--', 'echo', 'hello', 'world']);
    assert.equal(r.stdout, 'hello world\n');
    assert.equal(r.code, 0, r.stderr);
  });

  test('kubectl 1.32: stdin piped in (exec -i -- cat), ended by the v5 close signal', async () => {
    const r = await kubectl(api, 32, ['exec', '-i', 'p1', '--', 'cat'], { stdin: 'hi\n' });
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.code, 0, r.stderr);
  });

  test('kubectl 1.27 over SPDY (v4): stdout, stderr and exit code 3', async () => {
    api.upgrades.length = 0;
    const r = await kubectl(api, 27, ['exec', 'p1', '--', 'sh', '-c', SCRIPT]);
    assert.equal(r.stdout, 'to-stdout\n');
    assert.match(r.stderr, /to-stderr\n/);
    assert.match(r.stderr, /command terminated with exit code 3/);
    assert.equal(r.code, 3);
    assert.equal(api.upgrades.length, 1);
    assert.equal(api.upgrades[0]!.method, 'POST');
    assert.equal(api.upgrades[0]!.upgrade, 'SPDY/3.1');
    await api.upgrades[0]!.closed;
  });

  test('kubectl 1.27 over SPDY: stdin ends at the stream FIN', async () => {
    const payload = 'line one\nline two\n'.repeat(5000);
    const r = await kubectl(api, 27, ['exec', '-i', 'p1', '--', 'cat'], { stdin: payload });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, payload);
  });

  test('kubectl 1.32 falls back to SPDY when the WebSocket upgrade is refused', async () => {
    api.upgrades.length = 0;
    api.refuseWebSocket = true;
    try {
      const r = await kubectl(api, 32, ['exec', '-i', 'p1', '--', 'sh', '-c', 'cat; echo err >&2; exit 7'], { stdin: 'via spdy\n' });
      assert.equal(r.stdout, 'via spdy\n');
      assert.match(r.stderr, /err\n/);
      assert.match(r.stderr, /command terminated with exit code 7/);
      assert.equal(r.code, 7);
      assert.deepEqual(
        api.upgrades.map((u) => [u.method, u.upgrade.toLowerCase()]),
        [
          ['GET', 'websocket'],
          ['POST', 'spdy/3.1'],
        ],
      );
      assert.match(api.upgrades[1]!.protocols, /^v5\.channel\.k8s\.io/);
    } finally {
      api.refuseWebSocket = false;
    }
  });
});

describe('cp', () => {
  for (const minor of [32, 27]) {
    test(`kubectl 1.${minor} cp into and out of the pod`, async () => {
      const podDir = path.join(api.dir, `pod-fs-${minor}`);
      const localDir = path.join(api.dir, `local-${minor}`);
      mkdirSync(podDir, { recursive: true });
      mkdirSync(localDir, { recursive: true });
      const content = `uploaded by ${minor}\n` + 'x'.repeat(100_000) + '\n';
      writeFileSync(path.join(localDir, 'up.txt'), content);
      const up = await kubectl(api, minor, ['cp', 'up.txt', `p1:${podDir}/up.txt`], { cwd: localDir });
      assert.equal(up.code, 0, up.stderr);
      assert.equal(readFileSync(path.join(podDir, 'up.txt'), 'utf8'), content);

      // Out of the pod: a few MB, so stdout flow and ordering matter.
      const big = Buffer.alloc(3_000_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + minor) % 251;
      writeFileSync(path.join(podDir, 'hello.bin'), big);
      const down = await kubectl(api, minor, ['cp', `p1:${podDir}/hello.bin`, 'hello.bin'], { cwd: localDir });
      assert.equal(down.code, 0, down.stderr);
      assert.ok(readFileSync(path.join(localDir, 'hello.bin')).equals(big));
    });
  }
});

describe('port-forward', () => {
  const cases: [string, number, boolean][] = [
    ['kubectl 1.32 (SPDY tunnelled in WebSocket)', 32, false],
    ['kubectl 1.27 (SPDY)', 27, false],
    ['kubectl 1.32 with WebSocket refused (SPDY fallback)', 32, true],
  ];
  for (const [name, minor, refuse] of cases) {
    test(name, async () => {
      api.upgrades.length = 0;
      api.refuseWebSocket = refuse;
      const child = spawnKubectl(api, minor, ['port-forward', 'pod/p1', `:${echo.port}`]);
      try {
        const m = await waitForOutput(child, /Forwarding from 127\.0\.0\.1:(\d+) ->/);
        const localPort = Number(m[1]);
        // Two sequential connections, then two at once (one large).
        assert.equal((await echoRoundTrip(localPort, Buffer.from('first'))).toString(), 'first');
        assert.equal((await echoRoundTrip(localPort, Buffer.from('second'))).toString(), 'second');
        const big = Buffer.alloc(1_000_000, 'abcdefghij');
        const [a, b] = await Promise.all([echoRoundTrip(localPort, big), echoRoundTrip(localPort, Buffer.from('third'))]);
        assert.ok(a.equals(big), `large echo: got ${a.length} bytes`);
        assert.equal(b.toString(), 'third');
        const last = api.upgrades[api.upgrades.length - 1]!;
        if (minor >= 31 && !refuse) assert.deepEqual([last.upgrade.toLowerCase(), last.protocols], ['websocket', 'SPDY/3.1+portforward.k8s.io']);
        else assert.deepEqual([last.method, last.upgrade, last.protocols], ['POST', 'SPDY/3.1', 'portforward.k8s.io']);
      } finally {
        await stop(child);
        api.refuseWebSocket = false;
      }
      // kubectl gone: every upgraded connection (and the pod connections behind it) is closed.
      await Promise.all(api.upgrades.map((u) => u.closed));
    });
  }

  test('a port nobody listens on is reported on the error stream', async () => {
    const closed = await startEchoServer();
    const deadPort = closed.port;
    await closed.close();
    const child = spawnKubectl(api, 32, ['port-forward', 'pod/p1', `:${deadPort}`]);
    try {
      const m = await waitForOutput(child, /Forwarding from 127\.0\.0\.1:(\d+) ->/);
      const reported = waitForOutput(child, new RegExp(`error forwarding port ${deadPort} to pod p1: .*ECONNREFUSED`));
      const got = await echoRoundTrip(Number(m[1]), Buffer.from('nobody home'));
      assert.equal(got.length, 0);
      await reported;
    } finally {
      await stop(child);
    }
  });
});
