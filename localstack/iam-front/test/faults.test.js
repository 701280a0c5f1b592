import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Faults, controlAnswer, parseRule } from '../src/faults.js';

test('a counted fault is consumed, then requests pass and are still counted', () => {
  const f = new Faults();
  const [rule] = f.add({ service: 'kms', operation: 'Decrypt', error: 'ThrottlingException', status: 400, count: 2 });
  assert.equal(f.take('kms', 'Decrypt', 'k1').error, 'ThrottlingException');
  assert.equal(f.take('kms', 'GenerateDataKey', 'k1'), null, 'other operations are untouched');
  assert.equal(f.take('kms', 'Decrypt', 'k2').status, 400);
  assert.equal(f.take('kms', 'Decrypt', 'k1'), null, 'used up');
  const [seen] = f.snapshot().rules;
  assert.equal(seen.id, rule.id);
  assert.equal(seen.matched, 3);
  assert.equal(seen.faulted, 2);
  assert.equal(seen.remaining, 0);
});

test('a resource-scoped fault leaves other resources alone', () => {
  const f = new Faults();
  f.add({ service: 'sts', operation: 'AssumeRole', resource: 'arn:aws:iam::2:role/A', error: 'InternalFailure', status: 500 });
  assert.equal(f.take('sts', 'AssumeRole', 'arn:aws:iam::2:role/B'), null);
  for (let i = 0; i < 5; i++) assert.equal(f.take('sts', 'AssumeRole', 'arn:aws:iam::2:role/A').status, 500);
  assert.equal(f.snapshot().rules[0].faulted, 5);
});

test('remove one rule by id, or clear all', () => {
  const f = new Faults();
  const [a, b] = f.add([
    { service: 'kms', operation: 'Decrypt', error: 'X' },
    { service: 'kms', operation: 'Encrypt', error: 'Y' },
  ]);
  assert.equal(f.remove(a.id), true);
  assert.equal(f.remove(a.id), false);
  assert.deepEqual(f.snapshot().rules.map((r) => r.id), [b.id]);
  f.clear();
  assert.equal(f.take('kms', 'Encrypt', 'k'), null);
  assert.deepEqual(f.snapshot().rules, []);
});

test('defaults and validation', () => {
  const r = parseRule({ service: 'KMS', operation: 'Decrypt', error: 'KMSInternalException' });
  assert.equal(r.service, 'kms');
  assert.equal(r.status, 400);
  assert.equal(r.count, null);
  assert.equal(r.resource, null);
  assert.equal(r.delay_ms, 0);
  for (const bad of [
    null,
    [],
    { service: 'dynamodb', operation: 'GetItem', error: 'X' },
    { service: 'kms', operation: '', error: 'X' },
    { service: 'kms', operation: 'Decrypt', error: 'X<script>' },
    { service: 'kms', operation: 'Decrypt', error: 'X', status: 200 },
    { service: 'kms', operation: 'Decrypt', error: 'X', count: 0 },
    { service: 'kms', operation: 'Decrypt', error: 'X', delay_ms: -1 },
    { service: 'kms', operation: 'Decrypt', error: 'X', resource: '' },
    { service: 'kms', operation: 'Decrypt', error: 'X', extra: 1 },
  ]) {
    assert.throws(() => parseRule(bad), undefined, JSON.stringify(bad));
  }
});

test('the control API adds, lists and removes rules, and refuses what it cannot parse', () => {
  const f = new Faults();
  const added = controlAnswer(f, 'POST', '/_front/faults', JSON.stringify({ service: 'kms', operation: 'Decrypt', error: 'ThrottlingException', count: 2 }));
  assert.equal(added.status, 200);
  assert.equal(added.value.added.length, 1);
  assert.match(added.logLines[0], /FAULTS added #\d+ kms:Decrypt -> 400 ThrottlingException x2/);
  assert.equal(controlAnswer(f, 'GET', '/_front/faults', '').value.rules.length, 1);
  assert.equal(controlAnswer(f, 'POST', '/_front/faults', '{not json').status, 400);
  const id = added.value.added[0].id;
  assert.deepEqual(controlAnswer(f, 'DELETE', `/_front/faults?id=${id}`, '').logLines, [`FAULTS removed ${id}`]);
  assert.equal(controlAnswer(f, 'GET', '/_front/faults', '').value.rules.length, 0);
  assert.equal(controlAnswer(f, 'PUT', '/_front/faults', '').status, 405);
});
