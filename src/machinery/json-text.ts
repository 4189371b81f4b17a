// The JSON text an object was decoded from or encoded as, remembered so that an answer does not
// encode again what storage has just encoded or decoded. Objects from storage are shared and never
// changed (see deepCopy), so their text stays true; code that does change one must forget it.
const texts = new WeakMap<object, string>();

export function rememberJsonText(obj: object, text: string): void {
  texts.set(obj, text);
}

export function forgetJsonText(obj: object): void {
  texts.delete(obj);
}

/** JSON.stringify(v), from the remembered text when there is one. */
export function jsonText(v: unknown): string {
  if (typeof v === 'object' && v !== null) {
    const t = texts.get(v);
    if (t !== undefined) return t;
  }
  return JSON.stringify(v);
}

/** JSON.stringify(v) for a value that will not change: encoded once, then remembered. */
export function sharedJsonText(v: unknown): string {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  let t = texts.get(v);
  if (t === undefined) texts.set(v, (t = JSON.stringify(v)));
  return t;
}
