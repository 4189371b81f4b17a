// Upstream's PodPreset admission (removed in 1.20; slide 76 of the seed teaches it): when a pod is
// created, every PodPreset of its namespace whose selector matches the pod's labels injects its
// env, envFrom and volumeMounts into each (init) container and its volumes into the pod:
//  - env entries and volumes are added by name, volume mounts by name and by mount path; the same
//    name (or path) with a different value is a conflict; envFrom entries are appended;
//  - a preset that conflicts with the pod (or with a preset applied before it, in name order) is
//    skipped as a whole and a Warning event on the pod says why; the others still apply;
//  - each applied preset is recorded as `podpreset.admission.kubernetes.io/podpreset-<name>:
//    <resourceVersion>` on the pod; a pod annotated `podpreset.admission.kubernetes.io/exclude:
//    "true"` is left alone.
import type { KindSpec } from '../../api/types.js';
import { asArr, asObj, type Obj } from '../../api/common/shape.js';
import { selectorMatches } from '../../api/apps/v1/fields.js';
import { defaultPodSpec } from '../../api/core/v1/podspec.js';
import { errors } from '../../machinery/errors.js';
import { deepCopy, jsonEqual, type KObject } from '../../machinery/object.js';
import { EventRecorder } from '../../client/events.js';
import type { RequestContext } from '../context.js';
import type { AdmissionPlugin, Operation, Resources } from '../resources.js';

export const PODPRESET_ANNOTATION_PREFIX = 'podpreset.admission.kubernetes.io';
export const PODPRESET_EXCLUDE_ANNOTATION = `${PODPRESET_ANNOTATION_PREFIX}/exclude`;
const COMPONENT = 'podpreset-admission';

class Conflict extends Error {}

/** The preset's injected parts, defaulted as the pod's own were (so identical entries compare equal). */
function presetParts(preset: KObject): { env: Obj[]; envFrom: Obj[]; volumeMounts: Obj[]; volumes: Obj[] } {
  const s = asObj(preset.spec) ?? {};
  const container: Obj = { name: 'preset', image: 'preset', env: deepCopy(asArr(s.env)), envFrom: deepCopy(asArr(s.envFrom)), volumeMounts: deepCopy(asArr(s.volumeMounts)) };
  const podSpec: Obj = { containers: [container], volumes: deepCopy(asArr(s.volumes)) };
  defaultPodSpec(podSpec);
  const objs = (v: unknown) => asArr(v).map(asObj).filter((x): x is Obj => !!x);
  return { env: objs(container.env), envFrom: objs(container.envFrom), volumeMounts: objs(container.volumeMounts), volumes: objs(podSpec.volumes) };
}

const show = (v: unknown) => JSON.stringify(v);

/** Add `extra` entries keyed by `key` to `list`; an equal entry is kept once, a different one conflicts. */
function mergeByKey(list: Obj[], extra: Obj[], key: string, what: string, preset: string, where: string): Obj[] {
  const out = [...list];
  for (const e of extra) {
    const found = out.find((x) => x[key] === e[key]);
    if (!found) out.push(e);
    else if (!jsonEqual(found, e)) throw new Conflict(`merging ${what} for ${preset} has a conflict on ${String(e[key])}: ${show(e)} does not match ${show(found)} ${where}`);
  }
  return out;
}

function mergeMounts(list: Obj[], extra: Obj[], preset: string): Obj[] {
  // First by name (the same volume mounted differently), then by path (two volumes at one place).
  for (const e of extra) {
    const byName = list.find((x) => x.name === e.name);
    if (byName && !jsonEqual(byName, e))
      throw new Conflict(`merging volume mounts for ${preset} has a conflict on ${String(e.name)}: ${show(e)} does not match ${show(byName)} in container`);
  }
  const out = [...list];
  for (const e of extra) {
    const byPath = out.find((x) => x.mountPath === e.mountPath);
    if (!byPath) out.push(e);
    else if (!jsonEqual(byPath, e))
      throw new Conflict(`merging volume mounts for ${preset} has a conflict on mount path ${String(e.mountPath)}: ${show(e)} does not match ${show(byPath)} in container`);
  }
  return out;
}

/** Apply one preset to a copy of the pod spec; throws Conflict when it cannot be merged. */
function applyPreset(podSpec: Obj, preset: KObject): Obj {
  const name = preset.metadata.name ?? '';
  const parts = presetParts(preset);
  const next = deepCopy(podSpec);
  for (const key of ['containers', 'initContainers']) {
    for (const raw of asArr(next[key])) {
      const c = asObj(raw);
      if (!c) continue;
      const objs = (v: unknown) => asArr(v).map(asObj).filter((x): x is Obj => !!x);
      if (parts.env.length) c.env = mergeByKey(objs(c.env), parts.env, 'name', 'env', name, 'in container');
      if (parts.envFrom.length) c.envFrom = [...objs(c.envFrom), ...parts.envFrom];
      if (parts.volumeMounts.length) c.volumeMounts = mergeMounts(objs(c.volumeMounts), parts.volumeMounts, name);
    }
  }
  if (parts.volumes.length)
    next.volumes = mergeByKey(
      asArr(next.volumes).map(asObj).filter((x): x is Obj => !!x),
      parts.volumes,
      'name',
      'volumes',
      name,
      'in pod spec',
    );
  return next;
}

export class PodPresetAdmission implements AdmissionPlugin {
  readonly name = 'PodPreset';
  private recorder?: EventRecorder;

  async admit(op: Operation, spec: KindSpec, obj: KObject, _old: KObject | undefined, ctx: RequestContext, svc: Resources): Promise<void> {
    if (op !== 'CREATE' || spec.group !== '' || spec.plural !== 'pods') return;
    const ns = obj.metadata.namespace;
    const presetSpec = svc.registry.lookup('settings.k8s.io', 'v1alpha1', 'podpresets');
    if (!ns || !presetSpec || !asObj(obj.spec)) return;
    if (obj.metadata.annotations?.[PODPRESET_EXCLUDE_ANNOTATION] === 'true') return;
    const presets = (await svc.list(presetSpec, ns)).items
      .filter((p) => selectorMatches(asObj(p.spec)?.selector ?? {}, obj.metadata.labels ?? {}))
      .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    if (presets.length === 0) return;
    let podSpec = obj.spec as Obj;
    const applied: KObject[] = [];
    for (const preset of presets) {
      try {
        podSpec = applyPreset(podSpec, preset);
        applied.push(preset);
      } catch (e) {
        if (!(e instanceof Conflict)) throw e;
        if (!ctx.dryRun) await this.warn(svc, obj, preset, e.message);
      }
    }
    if (applied.length === 0) return;
    obj.spec = podSpec;
    const annotations = { ...(obj.metadata.annotations ?? {}) };
    for (const p of applied) annotations[`${PODPRESET_ANNOTATION_PREFIX}/podpreset-${p.metadata.name}`] = p.metadata.resourceVersion ?? '';
    obj.metadata.annotations = annotations;
    // The request was validated before admission: what the presets added must leave a valid pod.
    const errs = spec.validate?.(obj, undefined) ?? [];
    if (errs.length) throw errors.invalid({ group: spec.group, kind: spec.kind }, obj.metadata.name ?? '', errs);
  }

  private async warn(svc: Resources, pod: KObject, preset: KObject, message: string): Promise<void> {
    this.recorder ??= new EventRecorder(svc, COMPONENT);
    await this.recorder.record(pod, 'Warning', 'PodPresetConflict', `conflict applying PodPreset ${preset.metadata.name}: ${message}`);
  }
}
