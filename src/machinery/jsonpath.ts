// The JSONPath subset CRD additionalPrinterColumns use: `.a.b`, `.a[0]`, `.a[*].b`, `.a['x.y']`,
// and filters `[?(@.type=="Ready")]`. Returns every match (printer columns show the first ones).
import { isPlainObject } from './object.js';

type Step = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'all' } | { kind: 'filter'; path: string[]; value: string };

export function compileJsonPath(expr: string): Step[] {
  let s = expr.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1).trim();
  if (s.startsWith('$')) s = s.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '.') {
      i++;
      let j = i;
      while (j < s.length && s[j] !== '.' && s[j] !== '[') j++;
      if (j > i) steps.push({ kind: 'field', name: s.slice(i, j) });
      i = j;
    } else if (s[i] === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) throw new Error(`unterminated [ in ${expr}`);
      const inner = s.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else {
        const m = /^\?\(@((?:\.[^.=!<>]+)+)\s*==\s*(?:"([^"]*)"|'([^']*)'|([^)\s]+))\)$/.exec(inner);
        if (!m) throw new Error(`unsupported JSONPath element [${inner}]`);
        steps.push({ kind: 'filter', path: m[1].split('.').filter(Boolean), value: m[2] ?? m[3] ?? m[4] });
      }
    } else throw new Error(`unexpected ${JSON.stringify(s[i])} in JSONPath ${expr}`);
  }
  return steps;
}

export function evalJsonPath(steps: Step[], root: unknown): unknown[] {
  let cur: unknown[] = [root];
  for (const st of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (st.kind === 'field') {
        if (isPlainObject(v) && v[st.name] !== undefined) next.push(v[st.name]);
      } else if (st.kind === 'index') {
        if (Array.isArray(v)) {
          const x = v[st.index < 0 ? v.length + st.index : st.index];
          if (x !== undefined) next.push(x);
        }
      } else if (st.kind === 'all') {
        if (Array.isArray(v)) next.push(...v);
        else if (isPlainObject(v)) next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        for (const el of v) {
          let x: unknown = el;
          for (const p of st.path) x = isPlainObject(x) ? x[p] : undefined;
          if (x !== undefined && String(x) === st.value) next.push(el);
        }
      }
    }
    cur = next;
  }
  return cur;
}
