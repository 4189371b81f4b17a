// The closing table: every Skiff figure with its anchors from the same run and the ratio
// skiff/anchor (for times and memory lower is better, for rates higher is better).
import { fmt } from './stats.js';

export interface Anchor {
  name: string;
  value: number;
}

export interface Row {
  figure: string;
  unit: string;
  skiff: number;
  anchors: Anchor[];
  /** Target as text, and whether the Skiff figure meets it. */
  target?: { text: string; pass: boolean };
}

export class Report {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];

  add(row: Row): void {
    this.rows.push(row);
  }

  section(title: string): void {
    this.rows.push({ figure: `— ${title}`, unit: '', skiff: NaN, anchors: [] });
  }

  render(): string {
    const header = ['figure', 'skiff', 'anchor', 'anchor value', 'skiff/anchor', 'target', 'result'];
    const lines: string[][] = [header];
    for (const r of this.rows) {
      if (r.figure.startsWith('— ')) {
        lines.push([r.figure, '', '', '', '', '', '']);
        continue;
      }
      const withUnit = (x: number) => (Number.isFinite(x) ? `${fmt(x)} ${r.unit}`.trim() : '—');
      const result = r.target ? (r.target.pass ? 'pass' : 'FAIL') : '';
      const [first, ...rest] = r.anchors.length ? r.anchors : [undefined];
      const anchorCells = (a: Anchor | undefined) => (a ? [a.name, withUnit(a.value), fmt(r.skiff / a.value)] : ['(none)', '', '']);
      lines.push([r.figure, withUnit(r.skiff), ...anchorCells(first), r.target?.text ?? '', result]);
      for (const a of rest) lines.push(['', '', ...anchorCells(a), '', '']);
    }
    const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
    const numeric = new Set([1, 3, 4]);
    const out = lines.map((l) => l.map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
    out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
    return [...out, ...this.notes.map((n) => `* ${n}`)].join('\n');
  }
}
