// Request validation against the AWS service models (src/aws-shapes.json).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CHECKED_KMS_OPS, CHECKED_STS_OPS } from '../src/decide.js';
import { compilePattern, loadShapes, validateKms, validateSts, validationMessage } from '../src/validate.js';
import { KEY_ARN, ROLE_ARN } from './fixtures.js';

const shapes = loadShapes();
const assume = (extra) => validateSts(shapes, 'AssumeRole', new URLSearchParams({ RoleArn: ROLE_ARN, RoleSessionName: 'keybroker-ws', ...extra }));

test('every checked operation has its request shape; the front refuses to start without the file', () => {
  for (const op of CHECKED_KMS_OPS) assert.notEqual(validateKms(shapes, op, {}), null, op);
  for (const op of CHECKED_STS_OPS) assert.notEqual(validateSts(shapes, op, new URLSearchParams()), null, op);
  assert.equal(validateKms(shapes, 'Sign', {}), null);
  assert.throws(() => loadShapes(new URL('./no-such-file.json', import.meta.url)), /AWS request shapes unreadable/);
});

test('AssumeRole RoleSessionName: 2 to 64 characters of [\\w+=,.@-], as STS enforces', () => {
  assert.deepEqual(assume({}), []);
  assert.deepEqual(assume({ RoleSessionName: 'a'.repeat(64) }), []);
  // keybroker-{ws} with a 63-character workspace id: 73 characters.
  assert.deepEqual(assume({ RoleSessionName: `keybroker-${'w'.repeat(63)}` }), [
    { path: 'roleSessionName', constraint: 'Member must have length less than or equal to 64' },
  ]);
  assert.equal(assume({ RoleSessionName: 'a' })[0].constraint, 'Member must have length greater than or equal to 2');
  assert.match(assume({ RoleSessionName: 'has space' })[0].constraint, /regular expression pattern/);
  assert.match(assume({ RoleSessionName: 'ws/slash' })[0].constraint, /regular expression pattern/);
  const missing = validateSts(shapes, 'AssumeRole', new URLSearchParams({ RoleArn: ROLE_ARN }));
  assert.deepEqual(missing, [{ path: 'roleSessionName', constraint: 'Member must not be null' }]);
});

test('AssumeRole ExternalId and DurationSeconds follow the model', () => {
  assert.deepEqual(assume({ ExternalId: 'kb-1f7e0c0a9d6b4e1c8a2f3d5b7c9e1a3b', DurationSeconds: '900' }), []);
  assert.equal(assume({ ExternalId: 'x' })[0].path, 'externalId');
  assert.equal(assume({ ExternalId: 'bad id' })[0].path, 'externalId');
  assert.equal(assume({ ExternalId: 'e'.repeat(1225) })[0].constraint, 'Member must have length less than or equal to 1224');
  assert.equal(assume({ DurationSeconds: '899' })[0].constraint, 'Member must have value greater than or equal to 900');
  assert.equal(assume({ DurationSeconds: '43201' })[0].constraint, 'Member must have value less than or equal to 43200');
  assert.equal(assume({ DurationSeconds: 'soon' })[0].constraint, 'Member must be an integer');
});

test('KMS requests: required members, lengths, patterns, list sizes, nested maps', () => {
  const ok = { KeyId: KEY_ARN, CiphertextBlob: Buffer.alloc(64, 1).toString('base64'), EncryptionContext: { workspace: 'w', secret: 's' } };
  assert.deepEqual(validateKms(shapes, 'Decrypt', ok), []);
  assert.deepEqual(validateKms(shapes, 'GenerateDataKey', { KeySpec: 'AES_256' }), [{ path: 'keyId', constraint: 'Member must not be null' }]);
  assert.equal(validateKms(shapes, 'Decrypt', { ...ok, KeyId: 'k'.repeat(2049) })[0].path, 'keyId');
  assert.equal(validateKms(shapes, 'Decrypt', { ...ok, GrantTokens: Array(11).fill('t') })[0].path, 'grantTokens');
  assert.equal(validateKms(shapes, 'GenerateDataKey', { KeyId: KEY_ARN, NumberOfBytes: 2048 })[0].path, 'numberOfBytes');
  assert.equal(validateKms(shapes, 'GenerateDataKey', { KeyId: KEY_ARN, KeySpec: 'AES_512' })[0].path, 'keySpec');
  assert.match(validateKms(shapes, 'CreateAlias', { AliasName: 'alias/has space', TargetKeyId: KEY_ARN })[0].constraint, /pattern/);
  assert.equal(validateKms(shapes, 'PutKeyPolicy', { KeyId: KEY_ARN, Policy: '' })[0].path, 'policy');
  assert.equal(validateKms(shapes, 'ListKeys', { Limit: 1001 })[0].path, 'limit');
  assert.equal(validateKms(shapes, 'ScheduleKeyDeletion', { KeyId: KEY_ARN, PendingWindowInDays: 366 })[0].path, 'pendingWindowInDays');
});

test('messages read like AWS and carry no values', () => {
  const errors = assume({ RoleSessionName: `keybroker-${'secret'.repeat(12)}`, ExternalId: 'x' });
  const message = validationMessage(errors);
  assert.match(message, /^2 validation errors detected: Value at 'roleSessionName' failed to satisfy constraint: /);
  assert.ok(!message.includes('secret'), message);
  assert.equal(compilePattern('[\\w+=,.@\\:-]*').test('a:b'), true);
  assert.equal(compilePattern('[\\u0020-\\u00FF\\u10000-\\u10FFFF]+').test('\u{1F600}'), true);
});
