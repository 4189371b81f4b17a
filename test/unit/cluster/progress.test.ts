import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration, Progress } from '../../../src/cli/progress.js';

function sink(isTTY: boolean) {
  let text = '';
  return { isTTY, write: (s: string) => { text += s; }, get text() { return text; } };
}

test('non-TTY output has only the final step lines; TTY output ends each step by rewriting its line', async () => {
  const plain = sink(false);
  const p = new Progress(plain);
  assert.equal(await p.step('One 📦', async () => 42), 42);
  await assert.rejects(p.step('Two 🔌', async () => { throw new Error('boom'); }), /boom/);
  assert.equal(plain.text, ' ✓ One 📦\n ✗ Two 🔌\n');

  const tty = sink(true);
  await new Progress(tty).step('Three ⏳', async () => undefined);
  assert.ok(tty.text.startsWith('\r • Three ⏳ '), JSON.stringify(tty.text));
  assert.ok(tty.text.endsWith('\r\x1b[K ✓ Three ⏳\n'), JSON.stringify(tty.text));
});

test('Go-style durations', () => {
  assert.equal(parseDuration('60s'), 60_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('45'), 45_000);
  for (const bad of ['', 'soon', '5 s', '1d', 's']) assert.throws(() => parseDuration(bad), /invalid duration/, bad);
  assert.equal(formatDuration(60_000), '60s');
  assert.equal(formatDuration(1_234), '1.2s');
  assert.equal(formatDuration(250), '250ms');
});
