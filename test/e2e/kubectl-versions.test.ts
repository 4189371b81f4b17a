// A subset of the basics with the oldest and newest supported kubectl (1.27 and 1.33).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './harness.js';

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('versions');
});
after(async () => {
  await c?.destroy();
});

const DEPLOY = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: v-web }
spec:
  replicas: 1
  selector: { matchLabels: { app: v-web } }
  template:
    metadata: { labels: { app: v-web } }
    spec: { containers: [ { name: main, image: ${image} } ] }
`;

for (const minor of [27, 33]) {
  describe(`kubectl 1.${minor}`, () => {
    it('gets tables, applies twice, patches, scales, deletes', async () => {
      const ns = `v${minor}`;
      assert.match(await c.k(['create', 'namespace', ns], { minor }), /created/);
      const apply = (img: string) => c.k(['apply', '-n', ns, '-f', '-'], { minor, input: DEPLOY(img) });
      assert.match(await apply('nginx:1'), /created/);
      assert.match(await apply('nginx:1'), /unchanged/);
      assert.match(await apply('nginx:2'), /configured/);
      const table = await c.k(['get', 'deploy', '-n', ns], { minor });
      assert.match(table, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
      await c.k(['scale', 'deploy', 'v-web', '-n', ns, '--replicas=3'], { minor });
      await c.k(['label', 'deploy', 'v-web', '-n', ns, 'x=y'], { minor });
      const obj = JSON.parse(await c.k(['get', 'deploy', 'v-web', '-n', ns, '-o', 'json'], { minor }));
      assert.equal(obj.spec.replicas, 3);
      assert.equal(obj.metadata.labels.x, 'y');
      assert.equal(obj.spec.template.spec.containers[0].image, 'nginx:2');
      await c.k(['create', 'configmap', 'cm', '-n', ns, '--from-literal=a=b'], { minor });
      assert.match(await c.k(['get', 'cm', 'cm', '-n', ns, '-o', 'jsonpath={.data.a}'], { minor }), /^b$/);
      assert.match(await c.k(['delete', 'namespace', ns], { minor }), /deleted/);
    });
  });
}
