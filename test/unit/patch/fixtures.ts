// Hand-written schemas shaped like the built-in ones (k8s.io/api 1.32 extensions), a resolver for
// their $refs, and assertion helpers shared by the patch tests.
import assert from 'node:assert/strict';
import { StatusError } from '../../../src/machinery/errors.js';
import type { KObject } from '../../../src/machinery/object.js';
import type { SchemaNode, SchemaResolver } from '../../../src/machinery/schema.js';

const ref = (name: string): SchemaNode => ({ $ref: `#/components/schemas/${name}` });
const str: SchemaNode = { type: 'string' };
const int: SchemaNode = { type: 'integer' };
const stringMap: SchemaNode = { type: 'object', additionalProperties: str };

const defs: Record<string, SchemaNode> = {
  Deployment: {
    type: 'object',
    properties: {
      apiVersion: str,
      kind: str,
      metadata: ref('ObjectMeta'),
      spec: ref('DeploymentSpec'),
      status: ref('DeploymentStatus'),
    },
  },
  ObjectMeta: {
    type: 'object',
    properties: {
      name: str,
      namespace: str,
      uid: str,
      resourceVersion: str,
      generation: int,
      creationTimestamp: str,
      labels: stringMap,
      annotations: stringMap,
      finalizers: { type: 'array', items: str, 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'set' },
      ownerReferences: {
        type: 'array',
        items: { type: 'object', properties: { uid: str, name: str, kind: str, apiVersion: str } },
        'x-kubernetes-patch-strategy': 'merge',
        'x-kubernetes-patch-merge-key': 'uid',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['uid'],
      },
      managedFields: { type: 'array', items: { type: 'object' } },
    },
  },
  DeploymentSpec: {
    type: 'object',
    properties: {
      replicas: int,
      paused: { type: 'boolean' },
      selector: { allOf: [ref('LabelSelector')] },
      strategy: { allOf: [ref('DeploymentStrategy')], 'x-kubernetes-patch-strategy': 'retainKeys' },
      template: ref('PodTemplateSpec'),
    },
  },
  DeploymentStatus: {
    type: 'object',
    properties: {
      replicas: int,
      conditions: {
        type: 'array',
        items: { type: 'object', properties: { type: str, status: str } },
        'x-kubernetes-patch-strategy': 'merge',
        'x-kubernetes-patch-merge-key': 'type',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      },
    },
  },
  LabelSelector: {
    type: 'object',
    properties: { matchLabels: stringMap, matchExpressions: { type: 'array', items: { type: 'object' } } },
    'x-kubernetes-map-type': 'atomic',
  },
  DeploymentStrategy: { type: 'object', properties: { type: str, rollingUpdate: ref('RollingUpdateDeployment') } },
  RollingUpdateDeployment: { type: 'object', properties: { maxSurge: { 'x-kubernetes-int-or-string': true }, maxUnavailable: { 'x-kubernetes-int-or-string': true } } },
  PodTemplateSpec: { type: 'object', properties: { metadata: ref('ObjectMeta'), spec: ref('PodSpec') } },
  PodSpec: {
    type: 'object',
    properties: {
      containers: {
        type: 'array',
        items: ref('Container'),
        'x-kubernetes-patch-strategy': 'merge',
        'x-kubernetes-patch-merge-key': 'name',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      },
      volumes: {
        type: 'array',
        items: ref('Volume'),
        'x-kubernetes-patch-strategy': 'merge,retainKeys',
        'x-kubernetes-patch-merge-key': 'name',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      },
      tolerations: { type: 'array', items: { type: 'object', properties: { key: str, operator: str } }, 'x-kubernetes-list-type': 'atomic' },
      nodeSelector: stringMap,
      restartPolicy: str,
    },
  },
  Container: {
    type: 'object',
    properties: {
      name: str,
      image: str,
      command: { type: 'array', items: str },
      args: { type: 'array', items: str },
      ports: {
        type: 'array',
        items: ref('ContainerPort'),
        'x-kubernetes-patch-strategy': 'merge',
        'x-kubernetes-patch-merge-key': 'containerPort',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['containerPort', 'protocol'],
      },
      env: {
        type: 'array',
        items: ref('EnvVar'),
        'x-kubernetes-patch-strategy': 'merge',
        'x-kubernetes-patch-merge-key': 'name',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      },
      resources: { type: 'object', properties: { limits: stringMap, requests: stringMap } },
    },
  },
  ContainerPort: { type: 'object', properties: { containerPort: int, protocol: { type: 'string', default: 'TCP' }, name: str } },
  EnvVar: { type: 'object', properties: { name: str, value: str } },
  Volume: {
    type: 'object',
    properties: {
      name: str,
      configMap: { type: 'object', properties: { name: str } },
      emptyDir: { type: 'object', properties: { medium: str } },
    },
  },
};

export const resolve: SchemaResolver = (node) => {
  let n = node;
  for (let i = 0; i < 10; i++) {
    if (n.$ref) n = defs[n.$ref.split('/').pop()!] ?? {};
    else if (n.allOf?.length === 1 && !n.properties && !n.type) n = n.allOf[0];
    else break;
  }
  return n;
};

export const deploymentSchema: SchemaNode = ref('Deployment');

export function deployment(): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: 'u-1',
      resourceVersion: '7',
      generation: 1,
      creationTimestamp: '2024-01-01T00:00:00Z',
      labels: { app: 'web' },
      finalizers: ['a.example/one'],
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'nginx:1.25',
              ports: [{ containerPort: 80, protocol: 'TCP' }],
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
            { name: 'side', image: 'busybox', command: ['sleep', '1d'] },
          ],
          volumes: [{ name: 'cfg', configMap: { name: 'web-cfg' } }],
          tolerations: [{ key: 'a', operator: 'Exists' }],
        },
      },
    },
    status: { replicas: 2 },
  };
}

/** Asserts `fn` throws a StatusError with this code (and reason / message pattern when given). */
export function assertStatus(fn: () => unknown, code: number, reason?: string, message?: RegExp): StatusError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof StatusError, `expected a StatusError ${code}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (reason) assert.equal(caught.reason, reason);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** Every object key anywhere in `v` (to prove no `$` directive survived). */
export function allKeys(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) allKeys(x, out);
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      allKeys(x, out);
    }
  return out;
}

/** A value nested `depth` objects deep. */
export function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}
