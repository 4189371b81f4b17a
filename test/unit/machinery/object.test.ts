import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deepCopy } from '../../../src/machinery/object.js';

describe('deepCopy', () => {
  it('copies every level of a JSON value, sharing nothing', () => {
    const o = JSON.parse('{"metadata":{"name":"a","labels":{"x":"1"}},"spec":{"list":[{"k":[1,2]},null,"s",true,0.5]}}');
    const c = deepCopy(o);
    assert.deepEqual(c, o);
    c.metadata.labels.x = '2';
    c.spec.list[0].k.push(3);
    assert.equal(o.metadata.labels.x, '1');
    assert.deepEqual(o.spec.list[0].k, [1, 2]);
  });

  it('keeps a "__proto__" key as data, as JSON.parse made it', () => {
    const o = JSON.parse('{"__proto__":{"polluted":true},"a":1}');
    const c = deepCopy(o);
    assert.equal(Object.getPrototypeOf(c), Object.prototype);
    assert.deepEqual(Object.keys(c), ['__proto__', 'a']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(JSON.stringify(c), JSON.stringify(o));
  });

  it('copies values that are not plain data the way structuredClone does', () => {
    const d = new Date(5);
    const c = deepCopy({ when: d });
    assert.ok(c.when instanceof Date && c.when !== d && c.when.getTime() === 5);
  });
});
