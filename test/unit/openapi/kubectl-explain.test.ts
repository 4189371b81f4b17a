// Real kubectl against the documents: a tiny server with legacy discovery and the OpenAPI endpoints.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from '../../../src/api/registry.js';
import { OPENAPI_V2_CONTENT_TYPE, openapiV2Protobuf, openapiV3DocumentJson, openapiV3Root } from '../../../src/api/openapi/documents.js';

const KUBECTL = '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';

function serve(registry: Registry, seen: string[]): http.Server {
  const resources = (gv: string, list: object[]) => ({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources: list });
  const routes: Record<string, object> = {
    '/version': { major: '1', minor: '32', gitVersion: 'v1.32.0' },
    '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
    '/apis': {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [{ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } }],
    },
    '/api/v1': resources('v1', [{ name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'] }]),
    '/apis/apps/v1': resources('apps/v1', [{ name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs: ['get', 'list', 'patch'] }]),
  };
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    seen.push(url.pathname);
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    };
    if (routes[url.pathname]) return send('application/json', JSON.stringify(routes[url.pathname]));
    if (url.pathname === '/openapi/v3') return send('application/json', JSON.stringify(openapiV3Root(registry)));
    const doc = url.pathname.startsWith('/openapi/v3/') ? openapiV3DocumentJson(registry, url.pathname.slice('/openapi/v3/'.length)) : undefined;
    if (doc) return send('application/json', doc.json);
    if (url.pathname === '/openapi/v2') return send(OPENAPI_V2_CONTENT_TYPE, openapiV2Protobuf());
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
}

test('kubectl 1.32 explain deployment.spec.strategy prints fields, types and descriptions', { skip: !existsSync(KUBECTL) && 'kubectl 1.32 not installed' }, async () => {
  const registry = new Registry();
  registry.add({ group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', singular: 'deployment', namespaced: true, subresources: { status: true } });
  registry.add({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', singular: 'namespace', namespaced: false });
  const seen: string[] = [];
  const server = serve(registry, seen);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'skiff-explain-'));
  try {
    const port = (server.address() as AddressInfo).port;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]`,
        'contexts: [{name: c, context: {cluster: c, user: u}}]',
        'users: [{name: u, user: {}}]',
        'current-context: c',
      ].join('\n'),
    );
    const out = await new Promise<string>((resolve, reject) => {
      // execFile's timeout kills the child if it ever hangs, so nothing outlives the test.
      const args = ['explain', 'deployment.spec.strategy', '--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache')];
      execFile(KUBECTL, args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    assert.match(out, /GROUP:\s+apps/);
    assert.match(out, /KIND:\s+Deployment/);
    assert.match(out, /FIELD: strategy <DeploymentStrategy>/);
    assert.match(out, /DeploymentStrategy describes how to replace existing pods with new ones\./);
    assert.match(out, /rollingUpdate\t<RollingUpdateDeployment>/);
    assert.match(out, /type\t<string>\n\s+Type of deployment\. Can be "Recreate" or "RollingUpdate"/);
    assert.ok(seen.includes('/openapi/v3/apis/apps/v1'), seen.join(' '));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
