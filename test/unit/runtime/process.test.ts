// The process runtime's container lifecycle with real processes: exits and reasons, graceful
// stop, logs, adoption by a new runtime instance, memory limits and stats.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ContainerStatus } from '../../../src/kubelet/runtime/types.js';
import { alive, containerConfig, Fixture, readAll, sandboxConfig, until } from './helpers.js';

const fx = new Fixture();
after(() => fx.cleanup());

function exits(rt: { onExit(l: (s: ContainerStatus) => void): void }): Map<string, ContainerStatus> {
  const seen = new Map<string, ContainerStatus>();
  rt.onExit((s) => seen.set(s.id, s));
  return seen;
}

describe('process runtime: lifecycle', () => {
  const rt = fx.runtime();
  const seen = exits(rt);

  it('reports exit codes and reasons, with onExit', async () => {
    const sb = await rt.runSandbox(sandboxConfig('exits'));
    const ok = await rt.createContainer(sb, containerConfig('ok', { command: ['sh', '-c', 'exit 0'] }));
    const bad = await rt.createContainer(sb, containerConfig('bad', { command: ['sh', '-c', 'exit 3'] }));
    await rt.startContainer(ok);
    await rt.startContainer(bad);
    const s1 = await until(() => seen.get(ok), 10_000, 'ok exit');
    const s2 = await until(() => seen.get(bad), 10_000, 'bad exit');
    assert.equal(s1.state, 'exited');
    assert.equal(s1.exitCode, 0);
    assert.equal(s1.reason, 'Completed');
    assert.equal(s2.exitCode, 3);
    assert.equal(s2.reason, 'Error');
    assert.ok(s2.startedAt && s2.finishedAt);
  });

  it('reports a missing executable as ContainerCannotRun with exit 128', async () => {
    const sb = await rt.runSandbox(sandboxConfig('missing'));
    const id = await rt.createContainer(sb, containerConfig('x', { command: ['no-such-binary-skiff'] }));
    await assert.rejects(rt.startContainer(id), /executable file not found in \$PATH/);
    const s = await rt.containerStatus(id);
    assert.equal(s?.state, 'exited');
    assert.equal(s?.exitCode, 128);
    assert.equal(s?.reason, 'ContainerCannotRun');
    assert.equal(s?.message, 'exec: "no-such-binary-skiff": executable file not found in $PATH');
  });

  it('refuses an unknown image without a command, saying why', async () => {
    const sb = await rt.runSandbox(sandboxConfig('unknown-image'));
    const id = await rt.createContainer(sb, containerConfig('x', { image: 'example.com/acme/app:1' }));
    await assert.rejects(rt.startContainer(id), /has no entrypoint known to the process runtime; give the container a command/);
    assert.equal((await rt.containerStatus(id))?.reason, 'ContainerCannotRun');
  });

  it('gives env, POD_IP, HOSTNAME and a working directory inside the sandbox', async () => {
    const cfg = sandboxConfig('envpod');
    const sb = await rt.runSandbox(cfg);
    const id = await rt.createContainer(sb, containerConfig('env', { command: ['sh', '-c', 'echo "$GREETING $POD_IP $HOSTNAME $(pwd)"'], env: { GREETING: 'hi' } }));
    await rt.startContainer(id);
    await until(() => seen.get(id), 10_000, 'exit');
    const out = await readAll(rt.logs(id, { follow: false, timestamps: false }));
    assert.equal(out, `hi ${cfg.ip} envpod ${path.join(sb.dir, 'env', 'rootfs')}\n`);
  });

  it('stops with SIGTERM and escalates to SIGKILL after the grace period', async () => {
    const sb = await rt.runSandbox(sandboxConfig('grace'));
    const polite = await rt.createContainer(sb, containerConfig('polite', { command: ['sleep', '1000'] }));
    // The trap makes the shell (and the sleeps it starts) ignore SIGTERM.
    const stubborn = await rt.createContainer(sb, containerConfig('stubborn', { command: ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'] }));
    await rt.startContainer(polite);
    await rt.startContainer(stubborn);
    await until(async () => (await readAll(rt.logs(stubborn, { follow: false, timestamps: false }))).includes('ready'), 10_000, 'trap installed');
    const pid = (await rt.containerStatus(stubborn))!.pid!;
    await rt.stopContainer(polite, 10);
    await rt.stopContainer(stubborn, 1);
    const p = await rt.containerStatus(polite);
    const s = await rt.containerStatus(stubborn);
    assert.equal(p?.exitCode, 143, 'SIGTERM ended the polite one');
    assert.equal(s?.state, 'exited');
    assert.equal(s?.exitCode, 137, 'SIGKILL ended the stubborn one');
    assert.equal(alive(pid), false);
  });
});

describe('process runtime: logs', () => {
  const rt = fx.runtime();
  const seen = exits(rt);

  it('serves CRI logs with timestamps, tail, since and limitBytes', async () => {
    const sb = await rt.runSandbox(sandboxConfig('logs'));
    const id = await rt.createContainer(sb, containerConfig('c', { command: ['sh', '-c', 'echo one; echo two >&2; echo three; printf partial'] }));
    await rt.startContainer(id);
    const st = await until(() => seen.get(id), 10_000, 'exit');
    const raw = readFileSync(st.logPath, 'utf8');
    assert.match(raw, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F one$/m);
    assert.match(raw, /^\S+ stderr F two$/m);
    assert.match(raw, /^\S+ stdout F partial$/m, 'a last line without newline is kept');
    const all = await readAll(rt.logs(id, { follow: false, timestamps: false }));
    assert.deepEqual(all.split('\n').filter(Boolean).sort(), ['one', 'partial', 'three', 'two']);
    const lines = all.split('\n');
    const tail = await readAll(rt.logs(id, { follow: false, timestamps: false, tailLines: 1 }));
    assert.equal(tail, `${lines[3]}\n`);
    const ts = await readAll(rt.logs(id, { follow: false, timestamps: true, tailLines: 1 }));
    assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \w+\n$/);
    assert.equal(await readAll(rt.logs(id, { follow: false, timestamps: false, sinceTime: Date.now() + 60_000 })), '');
    assert.equal((await readAll(rt.logs(id, { follow: false, timestamps: false, sinceTime: Date.now() - 600_000 }))).length, all.length);
    assert.equal(await readAll(rt.logs(id, { follow: false, timestamps: false, limitBytes: 5 })), all.slice(0, 5));
  });

  it('follows a running container until it exits', async () => {
    const sb = await rt.runSandbox(sandboxConfig('follow'));
    const id = await rt.createContainer(sb, containerConfig('c', { command: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.2; done'] }));
    await rt.startContainer(id);
    const out = await readAll(rt.logs(id, { follow: true, timestamps: false }));
    assert.equal(out, 'line1\nline2\nline3\n');
  });

  it('follow ends when the signal aborts', async () => {
    const sb = await rt.runSandbox(sandboxConfig('follow-abort'));
    const id = await rt.createContainer(sb, containerConfig('c', { command: ['sh', '-c', 'echo started; exec sleep 1000'] }));
    await rt.startContainer(id);
    const ac = new AbortController();
    const stream = rt.logs(id, { follow: true, timestamps: false, signal: ac.signal });
    let got = '';
    stream.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('started')) ac.abort();
    });
    await new Promise((r) => stream.on('end', r));
    assert.equal(got, 'started\n');
    assert.equal((await rt.containerStatus(id))?.state, 'running');
  });

  it("keeps a previous instance's log under its own id", async () => {
    const sb = await rt.runSandbox(sandboxConfig('previous'));
    const first = await rt.createContainer(sb, containerConfig('app', { command: ['sh', '-c', 'echo first'], attempt: 0 }));
    await rt.startContainer(first);
    await until(() => seen.get(first), 10_000, 'first exit');
    const second = await rt.createContainer(sb, containerConfig('app', { command: ['sh', '-c', 'echo second'], attempt: 1 }));
    await rt.startContainer(second);
    await until(() => seen.get(second), 10_000, 'second exit');
    assert.equal(await readAll(rt.logs(first, { follow: false, timestamps: false })), 'first\n');
    assert.equal(await readAll(rt.logs(second, { follow: false, timestamps: false })), 'second\n');
    assert.equal(path.basename((await rt.containerStatus(second))!.logPath), '1.log');
  });
});

describe('process runtime: adoption after a restart', () => {
  it('a new instance finds running containers (no twins) and sees their exit', async () => {
    const dir = fx.dir();
    const a = fx.runtime(dir);
    const sb = await a.runSandbox(sandboxConfig('adopt'));
    const id = await a.createContainer(sb, containerConfig('c', { command: ['sh', '-c', 'echo before; read x; echo after'], stdin: true }));
    await a.startContainer(id);
    const pid = (await a.containerStatus(id))!.pid!;
    fx.pids.add(pid);
    await until(async () => (await readAll(a.logs(id, { follow: false, timestamps: false }))).includes('before'), 10_000, 'first line');
    await a.close();

    const b = fx.runtime(dir);
    const seen = exits(b);
    assert.deepEqual((await b.listSandboxes()).map((s) => s.id), [sb.id]);
    const again = await b.runSandbox(sb.config);
    assert.equal(again.id, sb.id, 'the same pod finds its sandbox');
    const list = await b.listContainers();
    assert.equal(list.length, 1);
    assert.equal(list[0]!.state, 'running');
    assert.equal(list[0]!.pid, pid);
    assert.ok(alive(pid));

    // Output written after the restart is collected by the new instance.
    await b.exec(id, ['sh', '-c', `echo hello > ${JSON.stringify((await b.containerStatus(id))!.logPath.replace(/\.log$/, '.stdin'))}`], { tty: false });
    const st = await until(() => seen.get(id), 10_000, 'adopted exit');
    assert.equal(st.state, 'exited');
    assert.equal(st.exitCode, 0);
    assert.equal(await readAll(b.logs(id, { follow: false, timestamps: false })), 'before\nafter\n');
  });

  it('never adopts a recycled pid: a record whose start time does not match is reported unknown', async () => {
    const dir = fx.dir();
    const a = fx.runtime(dir);
    const sb = await a.runSandbox(sandboxConfig('recycled'));
    const id = await a.createContainer(sb, containerConfig('c', { command: ['sleep', '1000'] }));
    await a.startContainer(id);
    const pid = (await a.containerStatus(id))!.pid!;
    fx.pids.add(pid);
    await a.close();
    const file = path.join(sb.dir, 'containers', `${id}.json`);
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { procStart: number };
    rec.procStart += 1; // as if the pid now belonged to another process
    writeFileSync(file, JSON.stringify(rec));

    const b = fx.runtime(dir);
    const s = await b.containerStatus(id);
    assert.equal(s?.state, 'exited');
    assert.equal(s?.exitCode, 137);
    assert.equal(s?.reason, 'ContainerStatusUnknown');
    assert.ok(alive(pid), 'the unrelated process was not touched');
    process.kill(-pid, 'SIGKILL'); // ours: started by this test
    await until(() => !alive(pid), 10_000, 'sleep gone');
  });

  it('stopping an adopted container signals it and reports its exit', async () => {
    const dir = fx.dir();
    const a = fx.runtime(dir);
    const sb = await a.runSandbox(sandboxConfig('adopt-stop'));
    const id = await a.createContainer(sb, containerConfig('c', { command: ['sleep', '1000'] }));
    await a.startContainer(id);
    const pid = (await a.containerStatus(id))!.pid!;
    await a.close();
    const b = fx.runtime(dir);
    await b.stopContainer(id, 10);
    const s = await b.containerStatus(id);
    assert.equal(s?.state, 'exited');
    assert.equal(s?.exitCode, 143);
    assert.equal(alive(pid), false);
  });
});

describe('process runtime: resources', () => {
  const rt = fx.runtime();
  const seen = exits(rt);

  it('kills a container over its memory limit with OOMKilled / 137', async () => {
    const sb = await rt.runSandbox(sandboxConfig('oom'));
    const grow = 'const a=[];setInterval(()=>a.push(Buffer.alloc(8<<20,1)),20)';
    const id = await rt.createContainer(sb, containerConfig('hog', { command: [process.execPath, '-e', grow], memoryLimitBytes: 150 * 1024 * 1024 }));
    await rt.startContainer(id);
    const s = await until(() => seen.get(id), 30_000, 'OOM kill');
    assert.equal(s.reason, 'OOMKilled');
    assert.equal(s.exitCode, 137);
  });

  it('measures CPU and memory of a busy container', async () => {
    const sb = await rt.runSandbox(sandboxConfig('busy'));
    const id = await rt.createContainer(sb, containerConfig('spin', { command: ['sh', '-c', 'while :; do :; done'] }));
    await rt.startContainer(id);
    const u = await until(async () => {
      const s = await rt.stats(id);
      return s && s.cpuUsageNanos > 0 ? s : undefined;
    }, 10_000, 'cpu usage');
    assert.ok(u.memoryWorkingSetBytes > 0);
    assert.ok(u.timestamp > 0);
    await rt.stopContainer(id, 0);
    assert.equal(await rt.stats(id), undefined);
  });

  it('lists what it cannot honour', () => {
    const notes = rt.unsupported(
      containerConfig('x', {
        cpuLimitMillis: 500,
        mounts: [
          { hostPath: '/tmp', containerPath: '/data', readOnly: true },
          { hostPath: '/tmp', containerPath: '/data/inner', readOnly: false },
        ],
      }),
    );
    assert.ok(notes.some((n) => n.includes('/data:') && n.includes('./data')));
    assert.ok(notes.some((n) => n.includes('readOnly')));
    assert.ok(notes.some((n) => n.includes('/data/inner') && n.includes('nested')));
    assert.ok(notes.some((n) => n.includes('CPU limit 500m')));
  });

  it('exposes mounts as links under the working directory', async () => {
    const vol = fx.dir();
    writeFileSync(path.join(vol, 'greeting'), 'from-volume\n');
    const sb = await rt.runSandbox(sandboxConfig('mounts'));
    const id = await rt.createContainer(
      sb,
      containerConfig('c', { command: ['sh', '-c', 'cat greeting; cat \"$HOME/home/config/greeting\"'], workingDir: '/home/data', mounts: [
        { hostPath: vol, containerPath: '/home/data', readOnly: false },
        { hostPath: vol, containerPath: '/home/config', readOnly: true },
      ] }),
    );
    await rt.startContainer(id);
    await until(() => seen.get(id), 10_000, 'exit');
    assert.equal(seen.get(id)?.exitCode, 0);
    assert.equal(await readAll(rt.logs(id, { follow: false, timestamps: false })), 'from-volume\nfrom-volume\n');
  });

  it('stopSandbox stops every container and removeSandbox deletes its directory', async () => {
    const sb = await rt.runSandbox(sandboxConfig('teardown'));
    const ids = [];
    for (const n of ['a', 'b']) {
      const id = await rt.createContainer(sb, containerConfig(n, { command: ['sleep', '1000'] }));
      await rt.startContainer(id);
      ids.push(id);
    }
    const pids = await Promise.all(ids.map(async (id) => (await rt.containerStatus(id))!.pid!));
    await rt.stopSandbox(sb.id);
    for (const pid of pids) assert.equal(alive(pid), false);
    await rt.removeSandbox(sb.id);
    assert.equal((await rt.listSandboxes()).some((s) => s.id === sb.id), false);
    assert.equal(await rt.containerStatus(ids[0]!), undefined);
  });
});
