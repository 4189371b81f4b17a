// How an HPA turns the replica count its metrics recommend into the count it writes, as upstream's
// horizontal.go normalizeDesiredReplicas(WithBehaviors): stabilization (the recommendations of
// the last window hold a scale-down back, or a scale-up with a scaleUp window), the scaling
// policies (Pods/Percent per period, selectPolicy Max/Min/Disabled) counted against the scale
// events this controller made, and min/max replicas. The state per HPA lives in memory, as
// upstream's does; the clock is the caller's.

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

export interface Behavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/** --horizontal-pod-autoscaler-downscale-stabilization (5 min), used when an HPA has no behavior. */
export const DEFAULT_DOWNSCALE_STABILIZATION_MS = 5 * 60_000;

export const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};

export const DEFAULT_SCALE_DOWN: ScalingRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};

type Obj = Record<string, unknown>;

function rules(raw: unknown, def: ScalingRules): ScalingRules {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Obj;
  const w = r.stabilizationWindowSeconds;
  const sp = r.selectPolicy;
  const policies = Array.isArray(r.policies)
    ? (r.policies as Obj[])
        .filter((p) => p && (p.type === 'Pods' || p.type === 'Percent') && typeof p.value === 'number' && typeof p.periodSeconds === 'number')
        .map((p) => ({ type: p.type as 'Pods' | 'Percent', value: p.value as number, periodSeconds: p.periodSeconds as number }))
    : def.policies;
  return {
    stabilizationWindowSeconds: typeof w === 'number' ? w : def.stabilizationWindowSeconds,
    selectPolicy: sp === 'Min' || sp === 'Disabled' || sp === 'Max' ? sp : def.selectPolicy,
    policies: policies.length ? policies : def.policies,
  };
}

/** spec.behavior with every unset part defaulted; undefined when the HPA has none (the legacy rules apply). */
export function behaviorOf(spec: Obj): Behavior | undefined {
  const b = spec.behavior;
  if (!b || typeof b !== 'object') return undefined;
  return { scaleUp: rules((b as Obj).scaleUp, DEFAULT_SCALE_UP), scaleDown: rules((b as Obj).scaleDown, DEFAULT_SCALE_DOWN) };
}

interface Recommendation {
  replicas: number;
  at: number;
}

interface ScaleEvent {
  change: number;
  at: number;
  outdated: boolean;
}

export interface ConditionUpdate {
  type: 'AbleToScale' | 'ScalingLimited';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface Normalized {
  replicas: number;
  conditions: ConditionUpdate[];
}

export interface NormalizeArgs {
  currentReplicas: number;
  /** What the metrics recommend, before stabilization and limits. */
  desiredReplicas: number;
  minReplicas: number;
  maxReplicas: number;
  behavior?: Behavior;
}

/** The in-memory history of one controller: recommendations and scale events per HPA key. */
export class ScalingHistory {
  private recommendations = new Map<string, Recommendation[]>();
  private scaleUpEvents = new Map<string, ScaleEvent[]>();
  private scaleDownEvents = new Map<string, ScaleEvent[]>();

  constructor(
    private now: () => number,
    private downscaleStabilizationMs = DEFAULT_DOWNSCALE_STABILIZATION_MS,
  ) {}

  forget(key: string): void {
    this.recommendations.delete(key);
    this.scaleUpEvents.delete(key);
    this.scaleDownEvents.delete(key);
  }

  /** recordInitialRecommendation: the first sync of an HPA remembers the current count. */
  recordInitial(key: string, replicas: number): void {
    if (!this.recommendations.has(key)) this.recommendations.set(key, [{ replicas, at: this.now() }]);
  }

  /** storeScaleEvent: only HPAs with a behavior count their scale events. */
  recordScale(key: string, behavior: Behavior | undefined, prev: number, next: number): void {
    if (!behavior || prev === next) return;
    const up = next > prev;
    const map = up ? this.scaleUpEvents : this.scaleDownEvents;
    const longest = Math.max(0, ...(up ? behavior.scaleUp : behavior.scaleDown).policies.map((p) => p.periodSeconds));
    const cutoff = this.now() - longest * 1000;
    const events = map.get(key) ?? [];
    for (const e of events) if (e.at < cutoff) e.outdated = true;
    const ev = { change: Math.abs(next - prev), at: this.now(), outdated: false };
    const old = events.findIndex((e) => e.outdated);
    if (old >= 0) events[old] = ev;
    else events.push(ev);
    map.set(key, events);
  }

  normalize(key: string, a: NormalizeArgs): Normalized {
    return a.behavior ? this.withBehavior(key, a, a.behavior) : this.legacy(key, a);
  }

  /** Replace the oldest sample outside every window, or append. */
  private remember(key: string, replicas: number, isOld: (r: Recommendation) => boolean): void {
    const recs = this.recommendations.get(key) ?? [];
    let oldIndex = -1;
    recs.forEach((r, i) => {
      if (isOld(r)) oldIndex = i;
    });
    const rec = { replicas, at: this.now() };
    if (oldIndex >= 0) recs[oldIndex] = rec;
    else recs.push(rec);
    this.recommendations.set(key, recs);
  }

  private legacy(key: string, a: NormalizeArgs): Normalized {
    const cutoff = this.now() - this.downscaleStabilizationMs;
    let stabilized = a.desiredReplicas;
    for (const r of this.recommendations.get(key) ?? []) if (r.at >= cutoff && r.replicas > stabilized) stabilized = r.replicas;
    this.remember(key, a.desiredReplicas, (r) => r.at < cutoff);
    const conditions: ConditionUpdate[] = [
      stabilized !== a.desiredReplicas
        ? {
            type: 'AbleToScale',
            status: 'True',
            reason: 'ScaleDownStabilized',
            message: 'recent recommendations were higher than current one, applying the highest recent recommendation',
          }
        : { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'recommended size matches current size' },
    ];
    // Never more than double (or 4) at once: a bogus usage spike must not explode the count.
    const scaleUpLimit = Math.max(2 * a.currentReplicas, 4);
    let max: number;
    let limit: [string, string];
    if (a.maxReplicas > scaleUpLimit) {
      max = scaleUpLimit;
      limit = ['ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate'];
    } else {
      max = a.maxReplicas;
      limit = ['TooManyReplicas', 'the desired replica count is more than the maximum replica count'];
    }
    let replicas = stabilized;
    if (stabilized < a.minReplicas) {
      replicas = a.minReplicas;
      limit = ['TooFewReplicas', 'the desired replica count is less than the minimum replica count'];
    } else if (stabilized > max) replicas = max;
    else limit = ['DesiredWithinRange', 'the desired count is within the acceptable range'];
    conditions.push({ type: 'ScalingLimited', status: replicas === stabilized ? 'False' : 'True', reason: limit[0], message: limit[1] });
    return { replicas, conditions };
  }

  private withBehavior(key: string, a: NormalizeArgs, b: Behavior): Normalized {
    const now = this.now();
    const upCutoff = now - b.scaleUp.stabilizationWindowSeconds * 1000;
    const downCutoff = now - b.scaleDown.stabilizationWindowSeconds * 1000;
    let upRec = a.desiredReplicas;
    let downRec = a.desiredReplicas;
    for (const r of this.recommendations.get(key) ?? []) {
      if (r.at > upCutoff) upRec = Math.min(upRec, r.replicas);
      if (r.at > downCutoff) downRec = Math.max(downRec, r.replicas);
    }
    let stabilized = Math.max(a.currentReplicas, upRec);
    stabilized = Math.min(stabilized, downRec);
    this.remember(key, a.desiredReplicas, (r) => r.at < upCutoff && r.at < downCutoff);
    const conditions: ConditionUpdate[] = [];
    if (stabilized !== a.desiredReplicas) {
      conditions.push(
        a.desiredReplicas >= a.currentReplicas
          ? {
              type: 'AbleToScale',
              status: 'True',
              reason: 'ScaleUpStabilized',
              message: 'recent recommendations were lower than current one, applying the lowest recent recommendation',
            }
          : {
              type: 'AbleToScale',
              status: 'True',
              reason: 'ScaleDownStabilized',
              message: 'recent recommendations were higher than current one, applying the highest recent recommendation',
            },
      );
    } else conditions.push({ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', message: 'recommended size matches current size' });

    let replicas = stabilized;
    let limit: [string, string] = ['DesiredWithinRange', 'the desired count is within the acceptable range'];
    if (stabilized > a.currentReplicas) {
      const scaleUpLimit = Math.max(a.currentReplicas, this.scaleUpLimit(key, a.currentReplicas, b.scaleUp));
      let max = a.maxReplicas;
      let l: [string, string] = ['TooManyReplicas', 'the desired replica count is more than the maximum replica count'];
      if (max > scaleUpLimit) {
        max = scaleUpLimit;
        l = ['ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate'];
      }
      if (stabilized > max) [replicas, limit] = [max, l];
    } else if (stabilized < a.currentReplicas) {
      const scaleDownLimit = Math.min(a.currentReplicas, this.scaleDownLimit(key, a.currentReplicas, b.scaleDown));
      let min = a.minReplicas;
      let l: [string, string] = ['TooFewReplicas', 'the desired replica count is less than the minimum replica count'];
      if (min < scaleDownLimit) {
        min = scaleDownLimit;
        l = ['ScaleDownLimit', 'the desired replica count is decreasing faster than the maximum scale rate'];
      }
      if (stabilized < min) [replicas, limit] = [min, l];
    }
    conditions.push({ type: 'ScalingLimited', status: replicas === stabilized ? 'False' : 'True', reason: limit[0], message: limit[1] });
    return { replicas, conditions };
  }

  /** The replicas added (or removed) by this controller within the last `periodSeconds`. */
  private changedWithin(events: ScaleEvent[] | undefined, periodSeconds: number): number {
    const cutoff = this.now() - periodSeconds * 1000;
    let sum = 0;
    for (const e of events ?? []) if (e.at > cutoff) sum += e.change;
    return sum;
  }

  private periodStart(key: string, current: number, periodSeconds: number): number {
    return current - this.changedWithin(this.scaleUpEvents.get(key), periodSeconds) + this.changedWithin(this.scaleDownEvents.get(key), periodSeconds);
  }

  private scaleUpLimit(key: string, current: number, r: ScalingRules): number {
    if (r.selectPolicy === 'Disabled') return current;
    const pick = r.selectPolicy === 'Min' ? Math.min : Math.max;
    let result = r.selectPolicy === 'Min' ? Infinity : -Infinity;
    for (const p of r.policies) {
      const start = this.periodStart(key, current, p.periodSeconds);
      const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
      result = pick(result, proposed);
    }
    return result;
  }

  private scaleDownLimit(key: string, current: number, r: ScalingRules): number {
    if (r.selectPolicy === 'Disabled') return current;
    const pick = r.selectPolicy === 'Min' ? Math.max : Math.min;
    let result = r.selectPolicy === 'Min' ? -Infinity : Infinity;
    for (const p of r.policies) {
      const start = this.periodStart(key, current, p.periodSeconds);
      const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
      result = pick(result, proposed);
    }
    return result;
  }
}
