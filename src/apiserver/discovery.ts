// Discovery documents, legacy (/api, /apis, /api/v1, /apis/g/v) and aggregated (apidiscovery v2 and
// v2beta1), all derived from the registry and rebuilt only when it changes.
import type { Registry } from '../api/registry.js';
import { DEFAULT_VERBS } from '../api/registry.js';
import type { KindSpec } from '../api/types.js';
import { createHash } from 'node:crypto';

interface SubresourceInfo {
  name: string;
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
}

function subresourcesOf(spec: KindSpec): SubresourceInfo[] {
  const out: SubresourceInfo[] = [];
  if (spec.subresources?.scale) out.push({ name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] });
  if (spec.subresources?.status) out.push({ name: 'status', kind: spec.kind, verbs: ['get', 'patch', 'update'] });
  for (const x of spec.extraSubresources ?? []) out.push(x);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function verbsOf(spec: KindSpec): string[] {
  return [...(spec.verbs ?? DEFAULT_VERBS)].sort();
}

function hashOf(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);
}

export class Discovery {
  private cache?: {
    legacyApi: string;
    legacyApis: string;
    aggregatedApi: { v2: string; v2beta1: string };
    aggregatedApis: { v2: string; v2beta1: string };
    resourceLists: Map<string, string>;
    groups: Map<string, string>;
  };

  constructor(private registry: Registry) {
    registry.on('changed', () => (this.cache = undefined));
  }

  private build() {
    const groups = this.registry.groups();
    const specsByGV = new Map<string, KindSpec[]>();
    for (const s of this.registry.all()) {
      const gv = s.group ? `${s.group}/${s.version}` : s.version;
      if (!specsByGV.has(gv)) specsByGV.set(gv, []);
      specsByGV.get(gv)!.push(s);
    }
    const resourceLists = new Map<string, string>();
    for (const [gv, specs] of specsByGV) {
      const resources: unknown[] = [];
      for (const s of specs.sort((a, b) => a.plural.localeCompare(b.plural))) {
        const r: Record<string, unknown> = {
          name: s.plural,
          singularName: s.singular,
          namespaced: s.namespaced,
          kind: s.kind,
          verbs: verbsOf(s),
        };
        if (s.shortNames?.length) r.shortNames = s.shortNames;
        if (s.categories?.length) r.categories = s.categories;
        r.storageVersionHash = hashOf(`${s.storedAs?.group ?? s.group}/${s.plural}`).slice(0, 11);
        resources.push(r);
        for (const sub of subresourcesOf(s)) {
          const e: Record<string, unknown> = { name: `${s.plural}/${sub.name}`, singularName: '', namespaced: s.namespaced, kind: sub.kind, verbs: sub.verbs };
          if (sub.group !== undefined) e.group = sub.group;
          if (sub.version !== undefined) e.version = sub.version;
          resources.push(e);
        }
      }
      resourceLists.set(gv, JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources }));
    }

    const namedGroups = [...groups.entries()].filter(([g]) => g !== '');
    const groupObj = (g: string, versions: string[]) => ({
      name: g,
      versions: versions.map((v) => ({ groupVersion: `${g}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${g}/${versions[0]}`, version: versions[0] },
    });
    const legacyApis = JSON.stringify({ kind: 'APIGroupList', apiVersion: 'v1', groups: namedGroups.map(([g, vs]) => groupObj(g, vs)) });
    const groupDocs = new Map(namedGroups.map(([g, vs]) => [g, JSON.stringify({ kind: 'APIGroup', apiVersion: 'v1', ...groupObj(g, vs) })]));
    const legacyApi = JSON.stringify({
      kind: 'APIVersions',
      versions: groups.get('') ?? ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }],
    });

    const aggregatedGroup = (g: string, versions: string[]) => ({
      metadata: { name: g, creationTimestamp: null },
      versions: versions.map((v) => ({
        version: v,
        freshness: 'Current',
        resources: (specsByGV.get(g ? `${g}/${v}` : v) ?? [])
          .sort((a, b) => a.plural.localeCompare(b.plural))
          .map((s) => {
            const r: Record<string, unknown> = {
              resource: s.plural,
              responseKind: { group: s.group, version: s.version, kind: s.kind },
              scope: s.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: s.singular,
              verbs: verbsOf(s),
            };
            if (s.shortNames?.length) r.shortNames = s.shortNames;
            if (s.categories?.length) r.categories = s.categories;
            const subs = subresourcesOf(s);
            if (subs.length)
              r.subresources = subs.map((x) => ({
                subresource: x.name,
                responseKind: { group: x.group ?? s.group, version: x.version ?? s.version, kind: x.kind },
                verbs: x.verbs,
              }));
            return r;
          }),
      })),
    });
    const aggregated = (items: unknown[]) => (apiVersion: string) => JSON.stringify({ kind: 'APIGroupDiscoveryList', apiVersion, metadata: {}, items });
    const apiAgg = aggregated(groups.has('') ? [aggregatedGroup('', groups.get('')!)] : []);
    const apisAgg = aggregated(namedGroups.map(([g, vs]) => aggregatedGroup(g, vs)));
    this.cache = {
      legacyApi,
      legacyApis,
      aggregatedApi: { v2: apiAgg('apidiscovery.k8s.io/v2'), v2beta1: apiAgg('apidiscovery.k8s.io/v2beta1') },
      aggregatedApis: { v2: apisAgg('apidiscovery.k8s.io/v2'), v2beta1: apisAgg('apidiscovery.k8s.io/v2beta1') },
      resourceLists,
      groups: groupDocs,
    };
    return this.cache;
  }

  /** For /api or /apis: aggregated when Accept asks for it (v2 preferred, as upstream), else legacy. */
  root(which: 'api' | 'apis', accept: string | undefined, serverAddress: string): { body: string; contentType: string } {
    const c = this.cache ?? this.build();
    const a = accept ?? '';
    const wants = (v: string) => a.split(',').some((p) => p.includes('as=APIGroupDiscoveryList') && p.includes('g=apidiscovery.k8s.io') && new RegExp(`v=${v}(;|$|\\s)`).test(p));
    const agg = which === 'api' ? c.aggregatedApi : c.aggregatedApis;
    if (wants('v2')) return { body: agg.v2, contentType: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' };
    if (wants('v2beta1')) return { body: agg.v2beta1, contentType: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList' };
    const body = which === 'api' ? c.legacyApi.replace('"serverAddress":""', `"serverAddress":${JSON.stringify(serverAddress)}`) : c.legacyApis;
    return { body, contentType: 'application/json' };
  }

  resourceList(groupVersion: string): string | undefined {
    return (this.cache ?? this.build()).resourceLists.get(groupVersion);
  }

  group(name: string): string | undefined {
    return (this.cache ?? this.build()).groups.get(name);
  }
}
