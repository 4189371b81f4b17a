// @peculiar/x509 uses tsyringe, which refuses to load without the Reflect metadata API (normally
// from the `reflect-metadata` package, which is not a dependency here). This is the small subset
// tsyringe and tslib's decorator helpers call. Import it before @peculiar/x509.
type Key = unknown;
type Prop = string | symbol | undefined;

const table = new WeakMap<object, Map<Prop, Map<Key, unknown>>>();

function bucket(target: object, prop: Prop, create: boolean): Map<Key, unknown> | undefined {
  let byProp = table.get(target);
  if (!byProp) {
    if (!create) return undefined;
    byProp = new Map();
    table.set(target, byProp);
  }
  let m = byProp.get(prop);
  if (!m && create) {
    m = new Map();
    byProp.set(prop, m);
  }
  return m;
}

const api = {
  defineMetadata(key: Key, value: unknown, target: object, prop?: Prop): void {
    bucket(target, prop, true)!.set(key, value);
  },
  hasOwnMetadata(key: Key, target: object, prop?: Prop): boolean {
    return bucket(target, prop, false)?.has(key) ?? false;
  },
  getOwnMetadata(key: Key, target: object, prop?: Prop): unknown {
    return bucket(target, prop, false)?.get(key);
  },
  // Inherited lookups walk the prototype chain, as the real API does.
  hasMetadata(key: Key, target: object, prop?: Prop): boolean {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) if (api.hasOwnMetadata(key, t, prop)) return true;
    return false;
  },
  getMetadata(key: Key, target: object, prop?: Prop): unknown {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      if (api.hasOwnMetadata(key, t, prop)) return api.getOwnMetadata(key, t, prop);
    }
    return undefined;
  },
  metadata(key: Key, value: unknown) {
    return (target: object, prop?: Prop) => api.defineMetadata(key, value, target, prop);
  },
};

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') Object.assign(R, api);
