// exec, attach, port-forward, the POD_IP preload and the image stand-ins, with real processes.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { parseImageRef, resolveEntrypoint, resolveImage } from '../../../src/kubelet/runtime/images.js';
import type { ContainerStatus } from '../../../src/kubelet/runtime/types.js';
import { containerConfig, Fixture, httpGetReady, readAll, sandboxConfig, until } from './helpers.js';

const fx = new Fixture();
after(() => fx.cleanup());
const rt = fx.runtime();
const seen = new Map<string, ContainerStatus>();
rt.onExit((s) => seen.set(s.id, s));

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let s = '';
  stream.on('data', (d: Buffer) => (s += d.toString()));
  return { stream, text: () => s };
}

describe('process runtime: exec and attach', () => {
  it('exec wires stdin, stdout, stderr, the container env and the exit code', async () => {
    const cfg = sandboxConfig('exec');
    const sb = await rt.runSandbox(cfg);
    const id = await rt.createContainer(sb, containerConfig('c', { command: ['sleep', '1000'], env: { APP: 'demo' } }));
    await rt.startContainer(id);
    const out = collect();
    const err = collect();
    const stdin = new PassThrough();
    stdin.end('hello\n');
    const code = await rt.exec(id, ['sh', '-c', 'read x; echo "got:$x $APP $POD_IP"; echo oops >&2; exit 5'], { stdin, stdout: out.stream, stderr: err.stream, tty: false });
    assert.equal(code, 5);
    assert.equal(out.text(), `got:hello demo ${cfg.ip}\n`);
    assert.equal(err.text(), 'oops\n');
    await assert.rejects(rt.exec(id, ['no-such-tool-skiff'], { tty: false }), /executable file not found/);
  });

  it('exec with tty runs under a pseudo-terminal', async () => {
    const sb = await rt.runSandbox(sandboxConfig('exec-tty'));
    const id = await rt.createContainer(sb, containerConfig('c', { command: ['sleep', '1000'] }));
    await rt.startContainer(id);
    const out = collect();
    const code = await rt.exec(id, ['sh', '-c', 'tty; exit 7'], { stdout: out.stream, tty: true });
    assert.equal(code, 7);
    assert.match(out.text(), /\/dev\/pts\//);
  });

  it('exec is killed when its signal aborts', async () => {
    const sb = await rt.runSandbox(sandboxConfig('exec-abort'));
    const id = await rt.createContainer(sb, containerConfig('c', { command: ['sleep', '1000'] }));
    await rt.startContainer(id);
    const out = collect();
    const ac = new AbortController();
    const running = rt.exec(id, ['sh', '-c', 'echo started; exec sleep 1000'], { stdout: out.stream, tty: false }, ac.signal);
    await until(() => out.text().includes('started'), 10_000, 'exec started');
    ac.abort();
    assert.equal(await running, 137);
  });

  it('attach writes to the stdin pipe and streams the output', async () => {
    const sb = await rt.runSandbox(sandboxConfig('attach'));
    const id = await rt.createContainer(sb, containerConfig('c', { command: ['sh', '-c', 'while read l; do echo "echo:$l"; [ "$l" = bye ] && exit 0; done'], stdin: true }));
    await rt.startContainer(id);
    const out = collect();
    const stdin = new PassThrough();
    const attached = rt.attach(id, { stdin, stdout: out.stream, tty: false });
    stdin.write('hi\n');
    await until(() => out.text().includes('echo:hi'), 10_000, 'echo of hi');
    stdin.write('bye\n');
    await attached; // ends when the container exits
    assert.equal(out.text(), 'echo:hi\necho:bye\n');
    assert.equal((await until(() => seen.get(id), 10_000, 'exit')).exitCode, 0);
  });
});

describe('process runtime: networking', () => {
  it('the preload binds Node servers to their own pod IP; port-forward reaches them', async () => {
    const server = "require('http').createServer((q,s)=>s.end('pod '+process.env.POD_IP)).listen(8080)";
    const pods = [];
    for (const n of ['web-a', 'web-b']) {
      const cfg = sandboxConfig(n);
      const sb = await rt.runSandbox(cfg);
      const id = await rt.createContainer(sb, containerConfig('web', { image: 'node:20', command: ['node', '-e', server] }));
      await rt.startContainer(id);
      pods.push({ cfg, sb, id });
    }
    for (const p of pods) {
      const res = await httpGetReady(`http://${p.cfg.ip}:8080/`);
      assert.equal(res.body, `pod ${p.cfg.ip}`);
    }
    for (const p of pods) assert.equal((await rt.containerStatus(p.id))?.state, 'running', 'both bound port 8080');

    const sock = await rt.portForward(pods[1]!.sb.id, 8080);
    const reply = readAll(sock);
    sock.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const text = await reply;
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.ok(text.endsWith(`pod ${pods[1]!.cfg.ip}`));
    await assert.rejects(rt.portForward(pods[1]!.sb.id, 1), /ECONNREFUSED/);
  });
});

describe('process runtime: images', () => {
  it('busybox with sh -c args runs the shell', async () => {
    const sb = await rt.runSandbox(sandboxConfig('busybox'));
    const id = await rt.createContainer(sb, containerConfig('c', { image: 'busybox:1.28', args: ['sh', '-c', 'echo hi'] }));
    await rt.startContainer(id);
    assert.equal((await until(() => seen.get(id), 10_000, 'exit')).exitCode, 0);
    assert.equal(await readAll(rt.logs(id, { follow: false, timestamps: false })), 'hi\n');
  });

  it('nginx answers on its pod IP, port 80', { skip: process.getuid?.() !== 0 ? 'binding port 80 needs root' : false }, async () => {
    const cfg = sandboxConfig('nginx');
    const sb = await rt.runSandbox(cfg);
    const id = await rt.createContainer(sb, containerConfig('nginx', { image: 'nginx:1.13' }));
    await rt.startContainer(id);
    const res = await httpGetReady(`http://${cfg.ip}:80/`);
    assert.equal(res.status, 200);
    assert.match(res.body, /Welcome to nginx!/);
  });

  it('http-echo honours -text and -listen', async () => {
    const cfg = sandboxConfig('echo');
    const sb = await rt.runSandbox(cfg);
    const id = await rt.createContainer(sb, containerConfig('echo', { image: 'hashicorp/http-echo', args: ['-text=hello skiff', '-listen=:5679'] }));
    await rt.startContainer(id);
    const res = await httpGetReady(`http://${cfg.ip}:5679/anything`);
    assert.equal(res.body, 'hello skiff\n');
  });

  it('resolves image names and entrypoints by upstream rules', () => {
    assert.deepEqual(parseImageRef('docker.io/library/nginx:1.13@sha256:abc'), { name: 'nginx', tag: '1.13' });
    assert.deepEqual(parseImageRef('localhost:5000/app'), { name: 'localhost:5000/app', tag: 'latest' });
    assert.deepEqual(resolveEntrypoint('busybox', [], ['sleep', '3600']), { argv: ['sleep', '3600'], workingDir: undefined });
    assert.deepEqual(resolveEntrypoint('busybox', [], []), { argv: ['sh'], workingDir: undefined });
    assert.deepEqual(resolveEntrypoint('whatever', ['echo'], ['x']), { argv: ['echo', 'x'] });
    assert.match((resolveEntrypoint('acme/app', [], []) as { error: string }).error, /image "acme\/app" has no entrypoint/);
    assert.equal(resolveImage('registry.k8s.io/pause:3.9')?.command[0], 'sleep');
    assert.equal(resolveImage('metamagic/oshell')?.workingDir, '/home/data');
    assert.ok(resolveImage('metamagicglobal/hello:v1.1')?.command.includes('--version=v1.1'));
    assert.equal(resolveImage('python:3.12')?.args[0], 'python3');
    assert.equal(resolveImage('acme/unknown'), undefined);
  });

  it('hello v1.0 and v1.1 serve visibly different pages', async () => {
    const bodies = [];
    for (const tag of ['v1.0', 'v1.1']) {
      const cfg = sandboxConfig(`hello-${tag}`);
      const sb = await rt.runSandbox(cfg);
      // PORT moves it off :80 so this test does not need root.
      const id = await rt.createContainer(sb, containerConfig('hello', { image: `metamagicglobal/hello:${tag}`, env: { PORT: '8081' } }));
      await rt.startContainer(id);
      const res = await httpGetReady(`http://${cfg.ip}:8081/`);
      assert.equal(res.status, 200);
      assert.match(res.body, /Hello world/);
      bodies.push(res.body);
    }
    assert.notEqual(bodies[0], bodies[1]);
  });
});
