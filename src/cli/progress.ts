// kind-style step output: ` ✓ Step 📦` when a step succeeds, ` ✗ Step 📦` when it fails. On a
// terminal a spinner runs while the step is in progress; elsewhere (pipes, CI logs) only the final
// line is printed, so logs stay clean.
export interface Output {
  write(s: string): unknown;
  isTTY?: boolean;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  constructor(private readonly out: Output) {}

  async step<T>(title: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    if (this.out.isTTY) {
      let i = 0;
      const draw = () => this.out.write(`\r • ${title} ${FRAMES[i++ % FRAMES.length]}`);
      draw();
      timer = setInterval(draw, 100);
    }
    const finish = (mark: string) => {
      if (timer) clearInterval(timer);
      this.out.write(`${this.out.isTTY ? '\r\x1b[K' : ''} ${mark} ${title}\n`);
    };
    try {
      const result = await fn();
      finish('✓');
      return result;
    } catch (e) {
      finish('✗');
      throw e;
    }
  }
}

/** Parse a Go-style duration ("60s", "1m30s", "500ms", "0"); a bare number means seconds. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = t;
  const part = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  if (!rest) throw new Error(`invalid duration "${text}"`);
  while (rest) {
    const m = part.exec(rest);
    if (!m) throw new Error(`invalid duration "${text}" (use e.g. 30s, 2m, 1m30s)`);
    total += Number(m[1]) * unit[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
}
