// Decision logic of the front against the policies the customer module
// ships (terraform/policies/*.tftpl, rendered the way templatefile() does),
// with no network: `node --test localstack/iam-front/test/`.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  Sessions,
  credentialOf,
  identify,
  keyDecision,
  keyIdFromCiphertext,
  kmsChecks,
  kmsContext,
  parseRoleArn,
  trustDecision,
} from '../src/decide.js';
import { kmsAccessDenied, stsAccessDenied } from '../src/responses.js';
import { BROKER, CUSTOMER, EXTERNAL_ID, KEY_ARN, ROLE_ARN, WS, keyPolicy, trustPolicy } from './fixtures.js';

const sessions = new Sessions();
sessions.remember({
  accessKeyId: 'LSIAQAAAAAAAEXAMPLE1',
  sessionToken: 'token-1',
  sessionArn: `arn:aws:sts::${CUSTOMER}:assumed-role/KeybrokerAccess/keybroker-${WS}`,
  roleArn: ROLE_ARN,
  expiresAt: Date.now() + 15 * 60 * 1000,
});
const brokerRoot = identify(BROKER, undefined, sessions).caller;
const customerRoot = identify(CUSTOMER, undefined, sessions).caller;
const session = identify('LSIAQAAAAAAAEXAMPLE1', 'token-1', sessions).caller;

const decrypt = (caller, policy, encryptionContext, action = 'kms:Decrypt') =>
  keyDecision({ caller, action, keyArn: KEY_ARN, keyPolicy: policy, encryptionContext }).result;

test('callers: 12-digit key id is the account root, issued session key ids are the session', () => {
  assert.deepEqual(brokerRoot, {
    principal: `arn:aws:iam::${BROKER}:root`,
    principalArn: `arn:aws:iam::${BROKER}:root`,
    account: BROKER,
    kind: 'root',
    accessKeyId: BROKER,
  });
  assert.deepEqual(session, {
    principal: `arn:aws:sts::${CUSTOMER}:assumed-role/KeybrokerAccess/keybroker-${WS}`,
    principalArn: ROLE_ARN,
    account: CUSTOMER,
    kind: 'session',
    accessKeyId: 'LSIAQAAAAAAAEXAMPLE1',
    sourceIdentity: undefined,
    roleId: undefined,
    issuedAt: session.issuedAt,
  });
  assert.equal(identify('LSIAUNKNOWN', 'x', sessions).refused, 'unknown');
  assert.equal(identify('test', undefined, sessions).refused, 'unknown');
  assert.equal(identify('LSIAQAAAAAAAEXAMPLE1', 'other-token', sessions).refused, 'token');
  assert.equal(identify('LSIAQAAAAAAAEXAMPLE1', undefined, sessions).refused, 'token');
  assert.equal(identify('LSIAQAAAAAAAEXAMPLE1', 'token-1', sessions, Date.now() + 16 * 60 * 1000).refused, 'expired');
});

test('credential scope is read from the Authorization header or a presigned query', () => {
  const auth = `AWS4-HMAC-SHA256 Credential=${BROKER}/20260101/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=abc`;
  assert.deepEqual(credentialOf(auth, '/'), { akid: BROKER, region: 'eu-west-1', service: 'kms' });
  const q = `/?X-Amz-Credential=${encodeURIComponent(`${BROKER}/20260101/us-east-1/sts/aws4_request`)}`;
  assert.deepEqual(credentialOf(undefined, q), { akid: BROKER, region: 'us-east-1', service: 'sts' });
  assert.equal(credentialOf(undefined, '/'), null);
});

test('role ARNs keep their path', () => {
  assert.deepEqual(parseRoleArn(ROLE_ARN), { account: CUSTOMER, path: '/keybroker/', name: 'KeybrokerAccess' });
  assert.deepEqual(parseRoleArn(`arn:aws:iam::${CUSTOMER}:role/R`), { account: CUSTOMER, path: '/', name: 'R' });
  assert.equal(parseRoleArn(`arn:aws:iam::${CUSTOMER}:user/bob`), null);
  assert.equal(parseRoleArn(`arn:aws:iam::${CUSTOMER}:roleR`), null);
});

test('trust policy: the right external id is allowed, a wrong or missing one is not', () => {
  const assume = (externalId, caller = brokerRoot, policy = trustPolicy(), sourceIdentity = 'keybroker-inject') =>
    trustDecision({ caller, roleArn: ROLE_ARN, trustPolicy: policy, externalId, sessionName: `keybroker-inject.${WS}`, sourceIdentity })
      .result;
  assert.equal(assume(EXTERNAL_ID), 'Allowed');
  assert.equal(assume('kb-some-other-workspace-external-id-0000'), 'ImplicitlyDenied');
  assert.equal(assume(undefined), 'ImplicitlyDenied');
  assert.equal(assume(''), 'ImplicitlyDenied');
  // The trust policy requires another id: the broker's id no longer works.
  assert.equal(assume(EXTERNAL_ID, brokerRoot, trustPolicy('kb-rotated-0000000000000000000000000000')), 'ImplicitlyDenied');
  // Another account than the broker's, with the right id.
  assert.equal(assume(EXTERNAL_ID, identify('333333333333', undefined, sessions).caller), 'ImplicitlyDenied');
  // A trust policy without the condition (never shipped) allows any id, as in AWS.
  const unconditioned = trustPolicy();
  for (const st of unconditioned.Statement) delete st.Condition;
  assert.equal(assume('anything', brokerRoot, unconditioned), 'Allowed');
  assert.equal(assume(undefined, brokerRoot, unconditioned), 'Allowed');
});

test('key policy: the broker role session may use the key for its own workspace only', () => {
  // The module's standing Denies make every use outside the pinned context an explicit Deny.
  const policy = keyPolicy();
  assert.equal(decrypt(session, policy, { workspace: WS, secret: 'github' }), 'Allowed');
  assert.equal(decrypt(session, policy, { workspace: WS, secret: 'github' }, 'kms:GenerateDataKey'), 'Allowed');
  assert.equal(decrypt(session, policy, { workspace: 'other-ws', secret: 'github' }), 'ExplicitlyDenied');
  assert.equal(decrypt(session, policy, { workspace: WS, secret: 'github', extra: 'x' }), 'ExplicitlyDenied');
  assert.equal(decrypt(session, policy, { workspace: WS }), 'ExplicitlyDenied');
  assert.equal(decrypt(session, policy, undefined), 'ExplicitlyDenied');
  assert.equal(decrypt(session, policy, {}), 'ExplicitlyDenied');
  // Values are case-sensitive.
  assert.equal(decrypt(session, policy, { workspace: WS.toUpperCase(), secret: 'github' }), 'ExplicitlyDenied');
  // Only GenerateDataKey and Decrypt are granted.
  for (const action of ['kms:Encrypt', 'kms:ReEncryptFrom', 'kms:GenerateDataKeyWithoutPlaintext']) {
    assert.equal(decrypt(session, policy, { workspace: WS, secret: 'github' }, action), 'ExplicitlyDenied', action);
  }
});

test('key policy: removing the broker statement denies the session at once', () => {
  assert.equal(decrypt(session, keyPolicy({ brokerAccess: false }), { workspace: WS, secret: 'github' }), 'ImplicitlyDenied');
});

test('key policy pinned to another workspace denies this one', () => {
  assert.equal(decrypt(session, keyPolicy({ workspace: 'other-ws' }), { workspace: WS, secret: 'x' }), 'ExplicitlyDenied');
  assert.equal(decrypt(session, keyPolicy({ workspace: 'other-ws' }), { workspace: 'other-ws', secret: 'x' }), 'Allowed');
});

test('key policy: the owner account root keeps access, the broker account root has none', () => {
  const withoutBroker = keyPolicy({ brokerAccess: false });
  assert.equal(decrypt(customerRoot, withoutBroker, undefined), 'Allowed');
  assert.equal(decrypt(customerRoot, withoutBroker, undefined, 'kms:PutKeyPolicy'), 'Allowed');
  // Explicitly: KeybrokerDenyPlatformAccount denies every broker-account principal.
  assert.equal(decrypt(brokerRoot, keyPolicy(), { workspace: WS, secret: 'github' }), 'ExplicitlyDenied');
  const withoutPlatformDeny = keyPolicy();
  withoutPlatformDeny.Statement = withoutPlatformDeny.Statement.filter((st) => st.Sid !== 'KeybrokerDenyPlatformAccount');
  assert.equal(decrypt(brokerRoot, withoutPlatformDeny, { workspace: WS, secret: 'github' }), 'ImplicitlyDenied');
});

test('a default key policy (account root only) serves its own account root and no one else', () => {
  const platform = {
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` }, Action: 'kms:*', Resource: '*' },
    ],
  };
  assert.equal(decrypt(customerRoot, platform, { workspace: WS, secret: 'x' }), 'Allowed');
  // A role session relies on IAM policies here, and this one has none: denied.
  assert.equal(decrypt(session, platform, { workspace: WS, secret: 'x' }), 'ImplicitlyDenied');
  assert.equal(decrypt(brokerRoot, platform, { workspace: WS, secret: 'x' }), 'ImplicitlyDenied');
});

test('an explicit deny wins, and an invalid policy allows nothing', () => {
  const policy = keyPolicy();
  policy.Statement.push({
    Sid: 'DenyAll',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 'kms:Decrypt',
    Resource: '*',
  });
  assert.equal(decrypt(session, policy, { workspace: WS, secret: 'github' }), 'ExplicitlyDenied');
  assert.equal(decrypt(customerRoot, { Statement: 'nope' }, undefined), 'InvalidPolicy');
});

test('encryption context keys become condition keys; none at all leaves EncryptionContextKeys unset', () => {
  assert.deepEqual(kmsContext({ workspace: WS, secret: 's' }, CUSTOMER), {
    'kms:CallerAccount': CUSTOMER,
    'kms:EncryptionContext:workspace': WS,
    'kms:EncryptionContext:secret': 's',
    'kms:EncryptionContextKeys': ['workspace', 'secret'],
  });
  assert.deepEqual(kmsContext(undefined, CUSTOMER), { 'kms:CallerAccount': CUSTOMER });
  assert.equal(kmsContext({ workspace: 'a', Workspace: 'b' }, CUSTOMER), null);
  assert.equal(decrypt(session, keyPolicy(), { workspace: WS, Workspace: WS }), 'AmbiguousEncryptionContext');
});

test('which key each KMS operation is checked against', () => {
  const blob = Buffer.concat([Buffer.from('0b6c6a43-8a4f-4b8e-9d3c-2f1e0d9c8b7a'), Buffer.alloc(40, 7)]).toString('base64');
  assert.equal(keyIdFromCiphertext(blob), '0b6c6a43-8a4f-4b8e-9d3c-2f1e0d9c8b7a');
  assert.equal(keyIdFromCiphertext(Buffer.alloc(80, 1).toString('base64')), null);
  assert.deepEqual(kmsChecks('Decrypt', { KeyId: KEY_ARN, EncryptionContext: { a: 'b' } }), [
    { action: 'kms:Decrypt', keyRef: KEY_ARN, encryptionContext: { a: 'b' } },
  ]);
  assert.equal(kmsChecks('Decrypt', { CiphertextBlob: blob })[0].keyRef, '0b6c6a43-8a4f-4b8e-9d3c-2f1e0d9c8b7a');
  assert.deepEqual(
    kmsChecks('ReEncrypt', { CiphertextBlob: blob, DestinationKeyId: 'alias/x' }).map((c) => [c.action, c.keyRef]),
    [
      ['kms:ReEncryptFrom', '0b6c6a43-8a4f-4b8e-9d3c-2f1e0d9c8b7a'],
      ['kms:ReEncryptTo', 'alias/x'],
    ],
  );
  assert.equal(kmsChecks('GenerateDataKey', {})[0].keyRef, null);
});

test('denials read like AWS', () => {
  const kms = kmsAccessDenied(session.principal, 'kms:Decrypt', KEY_ARN, false);
  assert.equal(kms.status, 400);
  assert.equal(kms.headers['x-amzn-ErrorType'], 'AccessDeniedException');
  assert.equal(kms.headers['Content-Type'], 'application/x-amz-json-1.1');
  assert.deepEqual(JSON.parse(kms.body), {
    __type: 'AccessDeniedException',
    message: `User: ${session.principal} is not authorized to perform: kms:Decrypt on resource: ${KEY_ARN} because no resource-based policy allows the kms:Decrypt action`,
  });
  const sts = stsAccessDenied(brokerRoot.principal, ROLE_ARN);
  assert.equal(sts.status, 403);
  assert.equal(sts.headers['Content-Type'], 'text/xml');
  assert.match(sts.body, /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>AccessDenied<\/Code>/);
  assert.ok(sts.body.includes(`User: ${brokerRoot.principal} is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}`));
  assert.match(sts.body, /<RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/);
});
