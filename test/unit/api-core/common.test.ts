import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, selectorCell, mapSelectorCell, containersCell, imagesCell, sinceCell } from '../../../src/api/common/table.js';
import { canonicalQuantity, parseQuantity, compareQuantities, quantityValue } from '../../../src/api/common/quantity.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

test('humanDuration follows apimachinery buckets', () => {
  const cases: [number, string][] = [
    [-5 * S, '<invalid>'],
    [-1 * S, '0s'],
    [0, '0s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [3 * M + 20 * S, '3m20s'],
    [10 * M + 59 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [5 * H + 2 * M, '5h2m'],
    [47 * H, '47h'],
    [3 * D + 4 * H, '3d4h'],
    [3 * D, '3d'],
    [400 * D, '400d'],
    [2 * 365 * D + 5 * D, '2y5d'],
    [9 * 365 * D, '9y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
  assert.equal(sinceCell(undefined, 0), '<unknown>');
  assert.equal(sinceCell('2024-01-01T00:00:00Z', Date.parse('2024-01-01T00:05:00Z')), '5m');
});

test('selectorCell formats LabelSelectors like upstream', () => {
  assert.equal(selectorCell(undefined), '<none>');
  assert.equal(selectorCell({}), '<none>');
  assert.equal(selectorCell({ matchLabels: { b: '2', a: '1' } }), 'a=1,b=2');
  assert.equal(
    selectorCell({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['b', 'a'] },
        { key: 'env', operator: 'NotIn', values: ['prod'] },
        { key: 'x', operator: 'Exists' },
        { key: 'gone', operator: 'DoesNotExist' },
      ],
    }),
    'app=web,env notin (prod),!gone,tier in (a,b),x',
  );
  assert.equal(selectorCell({ matchExpressions: [{ key: 'a', operator: 'Bogus' }] }), '<error>');
  assert.equal(selectorCell('nope'), '<error>');
  assert.equal(mapSelectorCell({ z: '1', a: '2' }), 'a=2,z=1');
  assert.equal(mapSelectorCell(undefined), '<none>');
});

test('container and image cells join names', () => {
  const spec = { containers: [{ name: 'a', image: 'nginx' }, { name: 'b', image: 'busybox:1' }, 'junk'] };
  assert.equal(containersCell(spec), 'a,b');
  assert.equal(imagesCell(spec), 'nginx,busybox:1');
  assert.equal(containersCell(null), '');
});

test('quantities parse and canonicalise', () => {
  const cases: [unknown, string][] = [
    ['100m', '100m'],
    ['1000m', '1'],
    ['0.5', '500m'],
    ['1.5', '1500m'],
    ['1Gi', '1Gi'],
    ['2048Ki', '2Mi'],
    ['1.5Gi', '1536Mi'],
    ['0.5Ki', '512'],
    ['1e3', '1e3'],
    ['1000', '1k'],
    ['1200', '1200'],
    ['0', '0'],
    [2, '2'],
    ['-1', '-1'],
  ];
  for (const [input, want] of cases) assert.equal(canonicalQuantity(input), want, String(input));
  for (const bad of ['', 'abc', '1K', '1.2.3', '1Gib', 'm', null, {}, '1 Gi']) assert.equal(parseQuantity(bad), undefined, String(bad));
  assert.equal(compareQuantities(parseQuantity('1')!, parseQuantity('999m')!), 1);
  assert.equal(compareQuantities(parseQuantity('1Gi')!, parseQuantity('1073741824')!), 0);
  assert.equal(quantityValue('250m'), 0.25);
});
