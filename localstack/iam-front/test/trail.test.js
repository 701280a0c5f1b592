// The stack's CloudTrail records (src/trail.js): CloudTrail's shape, the
// accounts that receive each record, and nothing secret in them. No network.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { Sessions, identify } from '../src/decide.js';
import { Trail, requestParameters, trailRecords } from '../src/trail.js';
import { BROKER, CUSTOMER, KEY_ARN, ROLE_ARN, WS } from './fixtures.js';

const sessions = new Sessions();
sessions.remember({
  accessKeyId: 'LSIAQAAAAAAATRAIL001',
  sessionToken: 't',
  sessionArn: `arn:aws:sts::${CUSTOMER}:assumed-role/KeybrokerAccess/keybroker-inject.${WS}`,
  roleArn: ROLE_ARN,
  expiresAt: Date.now() + 900_000,
  sourceIdentity: 'keybroker-inject',
  roleId: 'AROAEXAMPLE:keybroker-inject.acme-prod',
});
const customerSession = identify('LSIAQAAAAAAATRAIL001', 't', sessions).caller;
const brokerRoot = identify(BROKER, undefined, sessions).caller;
const key = { arn: KEY_ARN, account: CUSTOMER, type: 'AWS::KMS::Key' };
const decrypt = { KeyId: KEY_ARN, CiphertextBlob: 'c2VjcmV0LWRhdGEta2V5', EncryptionContext: { workspace: WS, secret: 'github' } };

test('a Decrypt by the customer role: one record in the customer account, as CloudTrail writes it', () => {
  const [r, ...more] = trailRecords({ service: 'kms', operation: 'Decrypt', region: 'us-east-1', caller: customerSession, params: decrypt, requestId: 'req-1', authorized: true, resource: key });
  assert.equal(more.length, 0);
  assert.equal(r.eventSource, 'kms.amazonaws.com');
  assert.equal(r.eventName, 'Decrypt');
  assert.equal(r.recipientAccountId, CUSTOMER);
  assert.equal(r.requestID, 'req-1');
  assert.equal(r.errorCode, undefined);
  assert.match(r.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(r.requestParameters, { keyId: KEY_ARN, encryptionContext: { workspace: WS, secret: 'github' } });
  assert.equal(r.userIdentity.type, 'AssumedRole');
  assert.equal(r.userIdentity.arn, customerSession.principal);
  assert.equal(r.userIdentity.sessionContext.sessionIssuer.arn, ROLE_ARN);
  assert.equal(r.userIdentity.sessionContext.sourceIdentity, 'keybroker-inject');
  assert.deepEqual(r.resources, [{ accountId: CUSTOMER, type: 'AWS::KMS::Key', ARN: KEY_ARN }]);
  // No ciphertext, no plaintext.
  assert.ok(!JSON.stringify(r).includes(decrypt.CiphertextBlob));
});

test('cross-account: an allowed call reaches both accounts, a denied one only the caller\'s', () => {
  const allowed = trailRecords({ service: 'kms', operation: 'Decrypt', region: 'us-east-1', caller: brokerRoot, params: decrypt, requestId: 'r', authorized: true, resource: key });
  assert.deepEqual(allowed.map((r) => r.recipientAccountId), [BROKER, CUSTOMER]);
  assert.equal(allowed[0].sharedEventID, allowed[1].sharedEventID);
  assert.ok(allowed[0].sharedEventID);
  const denied = trailRecords({ service: 'kms', operation: 'Decrypt', region: 'us-east-1', caller: brokerRoot, params: decrypt, requestId: 'r', errorCode: 'AccessDeniedException', authorized: false, resource: key });
  assert.deepEqual(denied.map((r) => r.recipientAccountId), [BROKER]);
  assert.equal(denied[0].errorCode, 'AccessDeniedException');
  assert.equal(denied[0].userIdentity.type, 'Root');
});

test('requestParameters keep names and drop values that may be secret', () => {
  assert.deepEqual(requestParameters('kms', { KeyId: KEY_ARN, Plaintext: 'c2VjcmV0', GrantTokens: ['x'] }), { keyId: KEY_ARN });
  const sts = new URLSearchParams({ Action: 'AssumeRole', RoleArn: ROLE_ARN, RoleSessionName: 'keybroker-inject.w', ExternalId: 'kb-secretish', DurationSeconds: '900', SourceIdentity: 'keybroker-inject' });
  assert.deepEqual(requestParameters('sts', sts), { roleArn: ROLE_ARN, roleSessionName: 'keybroker-inject.w', durationSeconds: 900, sourceIdentity: 'keybroker-inject' });
  assert.equal(requestParameters('sts', new URLSearchParams({ Action: 'GetCallerIdentity' })), null);
});

test('the Lambda service principal and refused credentials are recorded too', () => {
  const role = { arn: ROLE_ARN, account: CUSTOMER, type: 'AWS::IAM::Role' };
  const [svc] = trailRecords({ service: 'sts', operation: 'AssumeRole', region: 'us-east-1', caller: { kind: 'service', principal: 'lambda.amazonaws.com' }, params: new URLSearchParams(), requestId: 'r', authorized: true, resource: role });
  assert.deepEqual(svc.userIdentity, { type: 'AWSService', invokedBy: 'lambda.amazonaws.com' });
  assert.equal(svc.recipientAccountId, CUSTOMER);
  const [unknown] = trailRecords({ service: 'kms', operation: 'Decrypt', region: 'us-east-1', caller: null, accessKeyId: 'LSIAX', params: decrypt, requestId: 'r', errorCode: 'UnrecognizedClientException', authorized: false, resource: key });
  assert.deepEqual(unknown.userIdentity, { type: 'Unknown', accessKeyId: 'LSIAX' });
  assert.equal(unknown.recipientAccountId, CUSTOMER);
});

test('the trail file gets one JSON line per record, written before the call returns', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'trail-')), 'sub', 'cloudtrail.jsonl');
  const t = new Trail(path);
  t.write(trailRecords({ service: 'kms', operation: 'GenerateDataKey', region: 'us-east-1', caller: customerSession, params: decrypt, requestId: 'a', authorized: true, resource: key }));
  t.write(trailRecords({ service: 'kms', operation: 'Decrypt', region: 'us-east-1', caller: brokerRoot, params: decrypt, requestId: 'b', authorized: true, resource: key }));
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((r) => [r.requestID, r.recipientAccountId]), [['a', CUSTOMER], ['b', BROKER], ['b', CUSTOMER]]);
  t.close();
  new Trail(null).write(lines); // no file: nothing happens
});
