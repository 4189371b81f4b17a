import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../../../src/machinery/errors.js';
import {
  compileLabelRequirements,
  compileLabelSelector,
  compileLabelSelectorString,
  labelRequirementsToString,
  labelSelectorRequirements,
  labelSelectorToString,
  MATCH_NOTHING,
  parseLabelSelector,
} from '../../../src/machinery/selectors.js';

function badRequest(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StatusError, `expected StatusError, got ${e}`);
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    assert.match(e.message, message);
    return true;
  });
}

describe('label selector string form', () => {
  it('parses every operator, sorted by key, tolerating whitespace', () => {
    const reqs = parseLabelSelector(' tier in (b, a) , app=web,env==prod,  x!=y,!legacy ,gpu, n>3, m<10, zone notin (us,eu)');
    assert.deepEqual(reqs, [
      { key: 'app', operator: 'Equals', values: ['web'] },
      { key: 'env', operator: 'DoubleEquals', values: ['prod'] },
      { key: 'gpu', operator: 'Exists', values: [] },
      { key: 'legacy', operator: 'DoesNotExist', values: [] },
      { key: 'm', operator: 'LessThan', values: ['10'] },
      { key: 'n', operator: 'GreaterThan', values: ['3'] },
      { key: 'tier', operator: 'In', values: ['a', 'b'] },
      { key: 'x', operator: 'NotEquals', values: ['y'] },
      { key: 'zone', operator: 'NotIn', values: ['eu', 'us'] },
    ]);
    assert.equal(labelRequirementsToString(reqs), 'app=web,env==prod,gpu,!legacy,m<10,n>3,tier in (a,b),x!=y,zone notin (eu,us)');
  });

  it('accepts empty values and prefixed keys', () => {
    assert.deepEqual(parseLabelSelector(''), []);
    assert.deepEqual(parseLabelSelector('   '), []);
    assert.deepEqual(parseLabelSelector('a='), [{ key: 'a', operator: 'Equals', values: [''] }]);
    assert.deepEqual(parseLabelSelector('a in (x,)'), [{ key: 'a', operator: 'In', values: ['', 'x'] }]);
    assert.deepEqual(parseLabelSelector('a in ()'), [{ key: 'a', operator: 'In', values: [''] }]);
    assert.deepEqual(parseLabelSelector('app.kubernetes.io/name=web'), [{ key: 'app.kubernetes.io/name', operator: 'Equals', values: ['web'] }]);
    // `in` is an ordinary word where a value or key is expected.
    assert.deepEqual(parseLabelSelector('in=in'), [{ key: 'in', operator: 'Equals', values: ['in'] }]);
  });

  it('matches with upstream semantics', () => {
    const m = (sel: string, labels?: Record<string, string>) => compileLabelSelectorString(sel)(labels);
    assert.equal(m('', undefined), true);
    assert.equal(m('app=web', { app: 'web', x: 'y' }), true);
    assert.equal(m('app=web', { app: 'db' }), false);
    assert.equal(m('app=web', undefined), false);
    assert.equal(m('app!=web', {}), true, 'absent label satisfies !=');
    assert.equal(m('app!=web', { app: 'web' }), false);
    assert.equal(m('tier in (a,b)', { tier: 'b' }), true);
    assert.equal(m('tier in (a,b)', {}), false);
    assert.equal(m('tier notin (a,b)', {}), true);
    assert.equal(m('tier notin (a,b)', { tier: 'a' }), false);
    assert.equal(m('gpu', { gpu: '' }), true);
    assert.equal(m('!gpu', { gpu: '' }), false);
    assert.equal(m('!gpu', undefined), true);
    assert.equal(m('n>3', { n: '4' }), true);
    assert.equal(m('n>3', { n: '3' }), false);
    assert.equal(m('n>3', { n: 'x' }), false, 'non-integer label never matches Gt');
    assert.equal(m('n<3', {}), false);
    assert.equal(m('a=1,b=2', { a: '1', b: '2' }), true);
    assert.equal(m('a=1,b=2', { a: '1', b: '3' }), false);
    assert.equal(m('a=', { a: '' }), true);
  });

  it('rejects bad syntax with upstream messages', () => {
    badRequest(() => parseLabelSelector('a=b c'), /^found 'c', expected: ',' or 'end of string'$/);
    badRequest(() => parseLabelSelector('a b'), /^unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt$/);
    badRequest(() => parseLabelSelector('a,'), /^found '', expected: identifier after ','$/);
    badRequest(() => parseLabelSelector('=a'), /^found '=', expected: !, identifier, or 'end of string'$/);
    badRequest(() => parseLabelSelector('a in b'), /^unable to parse requirement: found 'b' expected: '\('$/);
    badRequest(() => parseLabelSelector('a in (b'), /^unable to parse requirement: found '', expected: ',' or '\)'$/);
    badRequest(() => parseLabelSelector('a in (b c)'), /found 'c', expected: ',' or '\)'/);
    badRequest(() => parseLabelSelector('a=(b)'), /^unable to parse requirement: found '\(', expected: identifier$/);
    badRequest(() => parseLabelSelector('a =! b'), /unable to parse requirement/);
    badRequest(() => parseLabelSelector('!a=b'), /^found '=', expected: ',' or 'end of string'$/);
    badRequest(() => parseLabelSelector('a foo b'), /found 'foo', expected: in, notin, =, ==, !=, gt, lt/);
  });

  it('validates keys and values', () => {
    badRequest(() => parseLabelSelector('-bad=x'), /^unable to parse requirement: key: Invalid value: "-bad": name part must consist of/);
    badRequest(() => parseLabelSelector('a/b/c'), /key: Invalid value: "a\/b\/c"/);
    badRequest(() => parseLabelSelector(`a=${'v'.repeat(64)}`), /values\[0\]: Invalid value: "v+": must be no more than 63 characters/);
    badRequest(() => parseLabelSelector('a=b$'), /values\[0\]: Invalid value: "b\$"/);
    badRequest(() => parseLabelSelector('n>x'), /for 'Gt', 'Lt' operators, the value must be an integer/);
  });
});

describe('label selector object form', () => {
  it('converts, prints as kubectl does and matches', () => {
    const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }, { key: 'canary', operator: 'DoesNotExist' }] };
    assert.equal(labelSelectorToString(sel), 'app=web,!canary,tier in (a,b)');
    const m = compileLabelSelector(sel);
    assert.equal(m({ app: 'web', tier: 'a' }), true);
    assert.equal(m({ app: 'web', tier: 'a', canary: 'yes' }), false);
    assert.equal(m({ app: 'web', tier: 'c' }), false);
    assert.equal(labelSelectorToString({ matchExpressions: [{ key: 'x', operator: 'Exists' }, { key: 'y', operator: 'NotIn', values: ['1'] }] }), 'x,y notin (1)');
  });

  it('distinguishes empty (everything) from null (nothing)', () => {
    assert.deepEqual(labelSelectorRequirements({}), []);
    assert.equal(labelSelectorRequirements(null), MATCH_NOTHING);
    assert.equal(labelSelectorRequirements(undefined), MATCH_NOTHING);
    assert.equal(compileLabelSelector({})({}), true);
    assert.equal(compileLabelSelector({ matchLabels: {}, matchExpressions: [] })(undefined), true);
    assert.equal(compileLabelSelector(null)({ a: 'b' }), false);
    assert.equal(compileLabelSelector(undefined)({}), false);
    assert.equal(compileLabelRequirements([])(undefined), true);
    assert.equal(labelSelectorToString({}), '');
  });

  it('rejects invalid operators, empty In sets and bad values', () => {
    badRequest(() => labelSelectorRequirements({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] }), /^"Equals" is not a valid label selector operator$/);
    badRequest(() => labelSelectorRequirements({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), /values set can't be empty/);
    badRequest(() => labelSelectorRequirements({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), /values set must be empty for exists and does not exist/);
    badRequest(() => labelSelectorRequirements({ matchLabels: { app: 'not valid' } }), /values\[0\]: Invalid value: "not valid"/);
    badRequest(() => labelSelectorRequirements({ matchExpressions: [{ key: 5 as unknown as string, operator: 'Exists' }] }), /key: Invalid value: 5/);
    badRequest(() => labelSelectorRequirements({ matchExpressions: [{ key: 'a', operator: 'In', values: 'x' as unknown as string[] }] }), /must be a list/);
  });
});
