import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../../../src/machinery/errors.js';
import { compileFieldSelector, fieldSelectorFields, fieldSelectorToString, parseFieldSelector } from '../../../src/machinery/selectors.js';

function badRequest(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof StatusError && e.code === 400 && message.test(e.message));
}

describe('field selectors', () => {
  it('parses =, == and != terms, sorted as upstream', () => {
    const reqs = parseFieldSelector('status.phase!=Failed,metadata.name=web,spec.nodeName==n1');
    assert.deepEqual(reqs, [
      { field: 'metadata.name', operator: '=', value: 'web' },
      { field: 'spec.nodeName', operator: '==', value: 'n1' },
      { field: 'status.phase', operator: '!=', value: 'Failed' },
    ]);
    assert.deepEqual(fieldSelectorFields(parseFieldSelector('a=1,b!=2,a!=3')), ['a', 'b']);
    assert.deepEqual(parseFieldSelector(''), []);
    assert.deepEqual(parseFieldSelector('a=1,,b=2').length, 2);
    assert.deepEqual(parseFieldSelector('a='), [{ field: 'a', operator: '=', value: '' }]);
  });

  it('unescapes \\\\, \\, and \\= in values and re-escapes on output', () => {
    const reqs = parseFieldSelector('metadata.name=a\\,b\\=c\\\\d,x=y');
    assert.deepEqual(reqs, [
      { field: 'metadata.name', operator: '=', value: 'a,b=c\\d' },
      { field: 'x', operator: '=', value: 'y' },
    ]);
    assert.equal(fieldSelectorToString(reqs), 'metadata.name=a\\,b\\=c\\\\d,x=y');
    assert.deepEqual(parseFieldSelector(fieldSelectorToString(reqs)), reqs);
  });

  it('rejects what upstream rejects', () => {
    badRequest(() => parseFieldSelector('metadata.name'), /^invalid selector: 'metadata.name'; can't understand 'metadata.name'$/);
    badRequest(() => parseFieldSelector('a=1,b'), /can't understand 'b'/);
    badRequest(() => parseFieldSelector('a=b=c'), /^invalid field selector: unescaped character in value: =$/);
    badRequest(() => parseFieldSelector('a=b\\x'), /^invalid field selector: invalid escape sequence: \\x$/);
    badRequest(() => parseFieldSelector('a=b\\'), /invalid escape sequence: \\$/);
  });

  it('matches through a getter; missing fields read as empty', () => {
    const obj: Record<string, string> = { 'metadata.name': 'web', 'status.phase': 'Running' };
    const get = (f: string) => obj[f];
    const m = (s: string) => compileFieldSelector(parseFieldSelector(s))(get);
    assert.equal(m(''), true);
    assert.equal(m('metadata.name=web'), true);
    assert.equal(m('metadata.name==db'), false);
    assert.equal(m('status.phase!=Succeeded,status.phase!=Failed'), true);
    assert.equal(m('status.phase!=Running'), false);
    assert.equal(m('spec.nodeName='), true);
    assert.equal(m('spec.nodeName!=n1'), true);
    assert.equal(m('spec.nodeName=n1'), false);
  });
});
