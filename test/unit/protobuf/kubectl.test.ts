// The proof: real kubectl 1.32 and 1.33 send protobuf bodies; decoding them must give exactly the
// JSON body kubectl 1.31 sends for the same command (after dropping what protobuf cannot carry:
// nulls and empty non-pointer structs). Set SKIFF_WRITE_PB_FIXTURES=1 to refresh the recorded
// bodies under test/fixtures/protobuf/ (used by the offline and fuzz tests).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeProtobufObject } from '../../../src/apiserver/protobuf/decode.js';
import { type Captured, CaptureServer, expectedObject, haveKubectl, type KubectlEnv, kubectlEnv, type RunResult, runKubectl } from './capture.js';

const MINORS = [31, 32, 33] as const;
const FIXTURE = join(process.cwd(), 'test/fixtures/protobuf/kubectl-bodies.json');

function tlsFiles(dir: string): string[] | undefined {
  // `create secret tls` validates the pair, so it needs a real one; skip the case without openssl.
  try {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=skiff'], { stdio: 'ignore', timeout: 30_000 });
    return [`--cert=${cert}`, `--key=${key}`];
  } catch {
    return undefined;
  }
}

const COMMANDS: string[][] = [
  ['create', 'deployment', 'd1', '--image=nginx', '--replicas=2'],
  ['create', 'deployment', 'z', '--image=x', '--replicas=0'],
  ['create', 'deployment', 'multi', '--image=a', '--image=b', '--port=8080'],
  ['create', 'configmap', 'c', '--from-literal=a=b', '--from-literal=x=y'],
  ['create', 'secret', 'generic', 's', '--from-literal=k=v', '--type=Opaque'],
  ['create', 'secret', 'docker-registry', 'reg', '--docker-server=r.io', '--docker-username=u', '--docker-password=p', '--docker-email=e@x'],
  ['create', 'namespace', 'n'],
  ['create', 'service', 'nodeport', 's', '--tcp=80:8080'],
  ['create', 'service', 'clusterip', 'cip', '--tcp=443:https'],
  ['create', 'service', 'clusterip', 'headless', '--clusterip=None'],
  ['create', 'service', 'loadbalancer', 'lb', '--tcp=80:8080'],
  ['create', 'service', 'externalname', 'en', '--external-name=example.com'],
  ['create', 'job', 'j', '--image=busybox', '--', 'echo', 'hi'],
  ['create', 'cronjob', 'cj', '--image=busybox', '--schedule=*/1 * * * *', '--restart=OnFailure'],
  ['create', 'job', 'fromcj', '--from=cronjob/cj'],
  ['create', 'quota', 'q', '--hard=pods=2,cpu=500m,memory=1Gi'],
  ['create', 'quota', 'qs', '--hard=pods=5', '--scopes=BestEffort'],
  ['create', 'role', 'r', '--verb=get', '--resource=pods'],
  ['create', 'clusterrole', 'cr', '--verb=get,list', '--resource=deployments.apps', '--resource-name=x'],
  ['create', 'clusterrole', 'agg', '--aggregation-rule=rbac.example.com/aggregate=true'],
  ['create', 'rolebinding', 'rb', '--role=r', '--user=u', '--group=g', '--serviceaccount=default:sa'],
  ['create', 'clusterrolebinding', 'crb', '--clusterrole=cr', '--user=u'],
  ['create', 'pdb', 'p', '--selector=app=x', '--min-available=1'],
  ['create', 'pdb', 'p2', '--selector=app=x', '--max-unavailable=50%'],
  ['create', 'ingress', 'i', '--rule=foo.com/bar=svc1:8080'],
  ['create', 'ingress', 'i2', '--class=nginx', '--rule=foo.com/*=svc:http,tls=sec', '--annotation=a=b', '--default-backend=def:80'],
  ['create', 'priorityclass', 'pc', '--value=1000', '--description=d', '--preemption-policy=Never'],
  ['create', 'priorityclass', 'pc0', '--value=0', '--global-default'],
  ['create', 'serviceaccount', 'sa'],
  ['auth', 'can-i', 'create', 'pods'],
  ['auth', 'can-i', 'get', 'deployments.apps/scale', '--namespace=other'],
  ['auth', 'can-i', '--list'],
  ['auth', 'whoami'],
  ['create', 'token', 'sa'],
  ['create', 'token', 'sa', '--audience=a', '--duration=1h'],
  ['autoscale', 'deployment', 'd1', '--min=1', '--max=3', '--cpu-percent=50'],
];

// kubectl 1.33 creates an autoscaling/v2 HPA (1.31/1.32: v1), so there is no JSON twin to compare.
const HPA_V2_133 = {
  apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'd1' },
  spec: {
    scaleTargetRef: { kind: 'Deployment', name: 'd1', apiVersion: 'apps/v1' }, minReplicas: 1, maxReplicas: 3,
    metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
  },
  status: { desiredReplicas: 0 },
};

interface Run {
  result: RunResult;
  writes: Captured[];
}

describe('kubectl >= 1.32 protobuf bodies decode to the JSON kubectl 1.31 sends', { skip: !haveKubectl(...MINORS) && 'kubectl 1.31-1.33 binaries not installed' }, () => {
  const runs = new Map<number, Run[]>();
  const servers: CaptureServer[] = [];
  const envs: KubectlEnv[] = [];
  const commands = [...COMMANDS];

  before(async () => {
    const tmp = kubectlEnv(0);
    envs.push(tmp);
    const tls = tlsFiles(tmp.dir);
    if (tls) commands.push(['create', 'secret', 'tls', 't', ...tls]);
    // One server per version (discovery cache and request log are per server); versions run in
    // parallel, the commands of one version sequentially so each request maps to its command.
    await Promise.all(MINORS.map(async (minor) => {
      const server = new CaptureServer();
      servers.push(server);
      await server.start();
      const env = kubectlEnv(server.port);
      envs.push(env);
      const list: Run[] = [];
      for (const args of commands) {
        server.requests.length = 0;
        const result = await runKubectl(minor, env, args);
        list.push({ result, writes: [...server.requests] });
      }
      runs.set(minor, list);
    }));
    if (process.env.SKIFF_WRITE_PB_FIXTURES === '1') {
      // The tls case is left out: its body carries a (throwaway) private key.
      const fixtures = commands.flatMap((args, i) => (args[2] === 'tls' ? [] : [32, 33]).map((minor) => {
        const pb = runs.get(minor)![i].writes[0];
        const json = runs.get(31)![i].writes[0];
        const sameTarget = pb.path === json.path;
        return { minor, args, path: pb.path, body: pb.body.toString('base64'), expected: sameTarget ? expectedObject(json.body) : HPA_V2_133 };
      }));
      writeFileSync(FIXTURE, JSON.stringify(fixtures, null, 1) + '\n');
    }
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    for (const e of envs) e.cleanup();
  });

  for (let i = 0; i < COMMANDS.length + 1; i++) {
    test(`command #${i}: ${(COMMANDS[i] ?? ['create', 'secret', 'tls']).join(' ')}`, (t) => {
      if (i >= commands.length) return t.skip('openssl unavailable');
      for (const minor of MINORS) {
        const r = runs.get(minor)![i];
        assert.equal(r.result.code, 0, `kubectl 1.${minor} failed: ${r.result.stderr}`);
        assert.equal(r.writes.length, 1, `kubectl 1.${minor} sent ${r.writes.length} write requests`);
      }
      const json = runs.get(31)![i].writes[0];
      assert.match(json.contentType, /^application\/json/);
      const expected = expectedObject(json.body);
      for (const minor of [32, 33]) {
        const pb = runs.get(minor)![i].writes[0];
        assert.equal(pb.contentType, 'application/vnd.kubernetes.protobuf', `1.${minor} content type`);
        const decoded = decodeProtobufObject(pb.body);
        if (minor === 33 && commands[i][0] === 'autoscale') {
          assert.equal(pb.path, '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers');
          assert.deepEqual(decoded, HPA_V2_133);
          continue;
        }
        assert.equal(pb.path, json.path, `1.${minor} request path`);
        assert.deepEqual(decoded, expected, `1.${minor} decoded body differs from 1.31's JSON`);
      }
    });
  }
});
