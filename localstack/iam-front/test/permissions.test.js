// The front decides as AWS does with every policy type together: identity
// policies (role inline + attached managed), the resource policy (key or
// trust policy), KMS grants, permissions boundaries, and explicit Denies
// beating every Allow; same-account and cross-account rules. No network.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  CHECKED_STS_OPS,
  Sessions,
  identify,
  identityOnlyDecision,
  isCheckedKmsOp,
  keyDecision,
  kmsChecks,
  matchingGrant,
  permissionsOf,
  trustDecision,
} from '../src/decide.js';
import {
  BROKER,
  CUSTOMER,
  EXTERNAL_ID,
  INJECT_ROLE_ARN,
  KEY_ARN,
  ROLE_ARN,
  WS,
  injectRolePolicy,
  keyPolicy,
  trustPolicy,
} from './fixtures.js';

const sessions = new Sessions();
const remember = (akid, roleArn, sessionName) => {
  const [, account, name] = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  sessions.remember({
    accessKeyId: akid,
    sessionToken: `token-${akid}`,
    sessionArn: `arn:aws:sts::${account}:assumed-role/${name}/${sessionName}`,
    roleArn,
    expiresAt: Date.now() + 15 * 60 * 1000,
  });
  return identify(akid, `token-${akid}`, sessions).caller;
};
const customerSession = remember('LSIAQAAAAAAACUSTOMER', ROLE_ARN, `keybroker-${WS}`);
const injectSession = remember('LSIAQAAAAAAAAINJECT1', INJECT_ROLE_ARN, 'keybroker-inject');
const OTHER_ROLE_ARN = `arn:aws:iam::${CUSTOMER}:role/Other`;
const otherSession = remember('LSIAQAAAAAAAAOTHER01', OTHER_ROLE_ARN, 'other');
const CTX = { workspace: WS, secret: 'github' };

const policy = (...Statement) => ({ Version: '2012-10-17', Statement });
const allow = (Action, Resource = '*', extra = {}) => ({ Effect: 'Allow', Action, Resource, ...extra });
const deny = (Action, Resource = '*', extra = {}) => ({ Effect: 'Deny', Action, Resource, ...extra });
const DECRYPT_IDENTITY = policy(allow('kms:Decrypt', KEY_ARN));

const kms = (caller, { key = keyPolicy(), role = {}, grants = [], ctx = CTX, action = 'kms:Decrypt' } = {}) =>
  keyDecision({
    caller,
    permissions: permissionsOf(caller, role),
    action,
    keyArn: KEY_ARN,
    keyPolicy: key,
    grants,
    encryptionContext: ctx,
  }).result;

test('permissions: root has all of its account IAM, a session its role policies and boundary, a service none', () => {
  assert.equal(permissionsOf(identify(BROKER, undefined, sessions).caller).identityPolicies.length, 1);
  const p = permissionsOf(customerSession, { inline: [DECRYPT_IDENTITY], managed: [DECRYPT_IDENTITY], boundary: DECRYPT_IDENTITY });
  assert.equal(p.identityPolicies.length, 2);
  assert.equal(p.permissionBoundaries.length, 1);
  assert.deepEqual(permissionsOf({ kind: 'service', principal: 'lambda.amazonaws.com' }), { identityPolicies: [] });
});

test('same account: a key policy that delegates to the root needs an identity policy too', () => {
  const revoked = keyPolicy({ brokerAccess: false });
  assert.equal(kms(customerSession, { key: revoked }), 'ImplicitlyDenied');
  // The revocation hole of issue 13: an inline or a managed identity policy
  // keeps the broker role decrypting after its key-policy statement is gone.
  assert.equal(kms(customerSession, { key: revoked, role: { inline: [DECRYPT_IDENTITY] } }), 'Allowed');
  assert.equal(kms(customerSession, { key: revoked, role: { managed: [DECRYPT_IDENTITY] } }), 'Allowed');
  // An identity policy for another key or action does not.
  assert.equal(kms(customerSession, { key: revoked, role: { inline: [policy(allow('kms:Decrypt', `${KEY_ARN}0`))] } }), 'ImplicitlyDenied');
  assert.equal(kms(customerSession, { key: revoked, role: { inline: [policy(allow('kms:Encrypt'))] } }), 'ImplicitlyDenied');
});

test('same account: a key policy naming the role allows without any identity policy', () => {
  assert.equal(kms(customerSession), 'Allowed');
  assert.equal(kms(otherSession), 'ImplicitlyDenied');
});

test('an explicit Deny in the key policy beats identity policies and grants', () => {
  const key = keyPolicy({ brokerAccess: false });
  key.Statement.push(deny('kms:*', '*', { Principal: { AWS: ROLE_ARN } }));
  const grant = { GrantId: 'g1', GranteePrincipal: ROLE_ARN, Operations: ['Decrypt'] };
  assert.equal(kms(customerSession, { key, role: { inline: [DECRYPT_IDENTITY] } }), 'ExplicitlyDenied');
  assert.equal(kms(customerSession, { key, grants: [grant] }), 'ExplicitlyDenied');
});

test('an explicit Deny in an identity policy or a boundary beats the key policy and grants', () => {
  const grant = { GrantId: 'g1', GranteePrincipal: ROLE_ARN, Operations: ['Decrypt'] };
  const denyDecrypt = policy(deny('kms:Decrypt'));
  assert.equal(kms(customerSession, { role: { inline: [denyDecrypt] } }), 'ExplicitlyDenied');
  assert.equal(kms(customerSession, { role: { managed: [denyDecrypt] }, grants: [grant], key: keyPolicy({ brokerAccess: false }) }), 'ExplicitlyDenied');
  assert.equal(kms(customerSession, { role: { boundary: policy(allow('*'), deny('kms:Decrypt')) } }), 'ExplicitlyDenied');
});

test('a permissions boundary caps what identity policies allow', () => {
  const revoked = keyPolicy({ brokerAccess: false });
  const role = (boundary) => ({ inline: [DECRYPT_IDENTITY], boundary });
  assert.equal(kms(customerSession, { key: revoked, role: role(policy(allow('sts:*'))) }), 'ImplicitlyDenied');
  assert.equal(kms(customerSession, { key: revoked, role: role(policy(allow('kms:Decrypt'))) }), 'Allowed');
});

test('grants: its operations, to its grantee, within its constraints, when no Deny applies', () => {
  const revoked = keyPolicy({ brokerAccess: false });
  // Grant semantics alone: without the module's standing Denies (which would refuse these contexts first).
  revoked.Statement = revoked.Statement.filter((s) => s.Effect !== 'Deny');
  const grant = (extra) => ({ GrantId: 'g1', GranteePrincipal: ROLE_ARN, Operations: ['Decrypt', 'GenerateDataKey'], ...extra });
  assert.equal(kms(customerSession, { key: revoked, grants: [grant()] }), 'AllowedByGrant');
  assert.equal(kms(customerSession, { key: revoked, grants: [grant()], action: 'kms:GenerateDataKey' }), 'AllowedByGrant');
  assert.equal(kms(customerSession, { key: revoked, grants: [grant()], action: 'kms:Encrypt' }), 'ImplicitlyDenied');
  // Grantee: the role covers its sessions; a session ARN grantee covers that session only.
  assert.equal(kms(otherSession, { key: revoked, grants: [grant()] }), 'ImplicitlyDenied');
  assert.equal(kms(customerSession, { key: revoked, grants: [grant({ GranteePrincipal: customerSession.principal })] }), 'AllowedByGrant');
  // Constraints.
  const equals = grant({ Constraints: { EncryptionContextEquals: { workspace: WS, secret: 'github' } } });
  assert.equal(kms(customerSession, { key: revoked, grants: [equals] }), 'AllowedByGrant');
  assert.equal(kms(customerSession, { key: revoked, grants: [equals], ctx: { workspace: WS, secret: 'github', x: 'y' } }), 'ImplicitlyDenied');
  assert.equal(kms(customerSession, { key: revoked, grants: [equals], ctx: { workspace: WS } }), 'ImplicitlyDenied');
  const subset = grant({ Constraints: { EncryptionContextSubset: { workspace: WS } } });
  assert.equal(kms(customerSession, { key: revoked, grants: [subset], ctx: { workspace: WS, secret: 'x', y: 'z' } }), 'AllowedByGrant');
  assert.equal(kms(customerSession, { key: revoked, grants: [subset], ctx: { workspace: 'other' } }), 'ImplicitlyDenied');
  assert.equal(kms(customerSession, { key: revoked, grants: [subset], ctx: {} }), 'ImplicitlyDenied');
  assert.equal(matchingGrant([grant()], { kind: 'service', principal: 'kms.amazonaws.com' }, 'kms:Decrypt', CTX), undefined);
});

/** The shipped key policy without KeybrokerDenyPlatformAccount (as before issue 23). */
const withoutPlatformDeny = (key = keyPolicy()) => ({
  ...key,
  Statement: key.Statement.filter((s) => s.Sid !== 'KeybrokerDenyPlatformAccount'),
});

test('cross account: the key policy and the caller identity policy must both allow', () => {
  const key = withoutPlatformDeny();
  key.Statement.push(allow('kms:Decrypt', '*', { Sid: 'Inject', Principal: { AWS: INJECT_ROLE_ARN } }));
  assert.equal(kms(injectSession, { key }), 'ImplicitlyDenied');
  assert.equal(kms(injectSession, { key, role: { inline: [DECRYPT_IDENTITY] } }), 'Allowed');
  // Identity policy alone, with no key-policy statement for the caller: denied.
  assert.equal(kms(injectSession, { key: withoutPlatformDeny(), role: { inline: [DECRYPT_IDENTITY] } }), 'ImplicitlyDenied');
  // The shipped policy: KeybrokerDenyPlatformAccount beats the Allow.
  const shipped = keyPolicy();
  shipped.Statement.push(allow('kms:Decrypt', '*', { Sid: 'Inject', Principal: { AWS: INJECT_ROLE_ARN } }));
  assert.equal(kms(injectSession, { key: shipped, role: { inline: [DECRYPT_IDENTITY] } }), 'ExplicitlyDenied');
});

test('cross account AssumeRole: the trust policy names the broker role AND its identity policy allows sts:AssumeRole', () => {
  const trust = trustPolicy(EXTERNAL_ID, [INJECT_ROLE_ARN]);
  const assume = (caller, role, t = trust, roleArn = ROLE_ARN, sourceIdentity = 'keybroker-inject') =>
    trustDecision({ caller, permissions: permissionsOf(caller, role), roleArn, trustPolicy: t, externalId: EXTERNAL_ID, sessionName: 'x', sourceIdentity }).result;
  const shipped = { inline: [injectRolePolicy([`arn:aws:iam::${CUSTOMER}:role/keybroker/*`])] };
  assert.equal(assume(injectSession, shipped), 'Allowed');
  // Without the identity policy, or with one for other roles: denied.
  assert.equal(assume(injectSession, {}), 'ImplicitlyDenied');
  assert.equal(assume(injectSession, { inline: [injectRolePolicy([`arn:aws:iam::${CUSTOMER}:role/other/*`])] }), 'ImplicitlyDenied');
  // The role/keybroker/* pattern: a role outside the path is not assumable.
  const outside = `arn:aws:iam::${CUSTOMER}:role/KeybrokerAccess`;
  assert.equal(assume(injectSession, shipped, trust, outside), 'ImplicitlyDenied');
  // The trust policy names the inject role: another broker-account principal is not trusted.
  assert.equal(assume(identify(BROKER, undefined, sessions).caller, {}), 'ImplicitlyDenied');
  // An explicit Deny in the caller's identity policy wins.
  assert.equal(assume(injectSession, { inline: [...shipped.inline, policy(deny('sts:AssumeRole'))] }), 'ExplicitlyDenied');
  // Setting a SourceIdentity needs sts:SetSourceIdentity on the caller's side too.
  const assumeOnly = policy(allow('sts:AssumeRole', `arn:aws:iam::${CUSTOMER}:role/keybroker/*`));
  assert.equal(assume(injectSession, { inline: [assumeOnly] }), 'ImplicitlyDenied');
});

test('the Lambda service principal may assume a role whose trust policy names it, and nothing else', () => {
  assert.equal(identify('lambda.amazonaws.com', undefined, sessions).refused, 'service');
  const lambda = identify('lambda.amazonaws.com', undefined, sessions, Date.now(), { allowService: true }).caller;
  assert.deepEqual(lambda, { kind: 'service', principal: 'lambda.amazonaws.com' });
  const lambdaTrust = policy({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' });
  const assume = (t) => trustDecision({ caller: lambda, roleArn: INJECT_ROLE_ARN, trustPolicy: t }).result;
  assert.equal(assume(lambdaTrust), 'Allowed');
  assert.equal(assume(trustPolicy(EXTERNAL_ID, [INJECT_ROLE_ARN])), 'ImplicitlyDenied');
});

test('every KMS operation the broker, the tests and the revocation routes use is checked; others are refused', () => {
  const used = ['CreateKey', 'ListKeys', 'ListAliases', 'DescribeKey', 'CreateGrant', 'ListGrants', 'RevokeGrant',
    'RetireGrant', 'PutKeyPolicy', 'GetKeyPolicy', 'DisableKey', 'EnableKey', 'ScheduleKeyDeletion',
    'CancelKeyDeletion', 'CreateAlias', 'DeleteAlias', 'UpdateAlias', 'Encrypt', 'Decrypt', 'GenerateDataKey',
    'GenerateDataKeyWithoutPlaintext', 'ReEncrypt', 'ReplicateKey'];
  for (const op of used) assert.ok(isCheckedKmsOp(op) && kmsChecks(op, {}) !== null, op);
  for (const op of ['Sign', 'GenerateDataKeyPair', 'ImportKeyMaterial', 'UpdatePrimaryRegion', 'NoSuchOp']) {
    assert.equal(isCheckedKmsOp(op), false, op);
    assert.equal(kmsChecks(op, {}), null, op);
  }
  assert.deepEqual(kmsChecks('CreateAlias', { AliasName: 'alias/a', TargetKeyId: KEY_ARN }), [
    { action: 'kms:CreateAlias', alias: 'alias/a' },
    { action: 'kms:CreateAlias', keyRef: KEY_ARN },
  ]);
  assert.deepEqual(kmsChecks('CreateGrant', { KeyId: KEY_ARN, GranteePrincipal: ROLE_ARN, Operations: ['Decrypt'] }), [
    { action: 'kms:CreateGrant', keyRef: KEY_ARN, context: { 'kms:GranteePrincipal': ROLE_ARN, 'kms:GrantOperations': ['Decrypt'] } },
  ]);
  assert.deepEqual(kmsChecks('ListKeys', {}), [{ action: 'kms:ListKeys', anyResource: true }]);
  // ReplicateKey: the primary's key policy, and CreateKey (identity) in the replica Region.
  assert.deepEqual(kmsChecks('ReplicateKey', { KeyId: KEY_ARN, ReplicaRegion: 'us-west-2' }), [
    { action: 'kms:ReplicateKey', keyRef: KEY_ARN },
    { action: 'kms:CreateKey', anyResource: true },
  ]);
});

test('key administration: the shipped key policy lets the owner root administer and the broker role do nothing else', () => {
  const root = identify(CUSTOMER, undefined, sessions).caller;
  for (const action of ['kms:PutKeyPolicy', 'kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:CreateGrant', 'kms:ListGrants']) {
    assert.equal(kms(root, { action, ctx: undefined }), 'Allowed', action);
    assert.equal(kms(customerSession, { action, ctx: undefined }), 'ExplicitlyDenied', action);
  }
  // A standing Deny on CreateGrant for the broker role beats an identity policy allowing kms:*.
  const key = keyPolicy();
  key.Statement.push(deny('kms:CreateGrant', '*', { Principal: { AWS: ROLE_ARN } }));
  assert.equal(kms(customerSession, { key, action: 'kms:CreateGrant', role: { inline: [policy(allow('kms:*'))] } }), 'ExplicitlyDenied');
  // Condition keys of CreateGrant reach the engine.
  const granteeOnly = keyPolicy({ brokerAccess: false });
  granteeOnly.Statement = granteeOnly.Statement.filter((s) => s.Effect !== 'Deny'); // without the module's standing Denies
  granteeOnly.Statement.push(allow('kms:CreateGrant', '*', { Principal: { AWS: ROLE_ARN }, Condition: { StringEquals: { 'kms:GranteePrincipal': ROLE_ARN } } }));
  const grantFor = (grantee) =>
    keyDecision({ caller: customerSession, action: 'kms:CreateGrant', keyArn: KEY_ARN, keyPolicy: granteeOnly, extraContext: { 'kms:GranteePrincipal': grantee } }).result;
  assert.equal(grantFor(ROLE_ARN), 'Allowed');
  assert.equal(grantFor(OTHER_ROLE_ARN), 'ImplicitlyDenied');
});

test('operations on no key (CreateKey, ListKeys, aliases) are decided by identity policies alone, in the caller account', () => {
  const decide = (caller, permissions, action, resourceArn = '*') => identityOnlyDecision({ caller, permissions, action, resourceArn }).result;
  const root = identify(CUSTOMER, undefined, sessions).caller;
  assert.equal(decide(root, undefined, 'kms:CreateKey'), 'Allowed');
  assert.equal(decide(customerSession, permissionsOf(customerSession), 'kms:CreateKey'), 'ImplicitlyDenied');
  assert.equal(decide(customerSession, permissionsOf(customerSession, { inline: [policy(allow('kms:CreateKey'))] }), 'kms:CreateKey'), 'Allowed');
  const alias = `arn:aws:kms:us-east-1:${CUSTOMER}:alias/keybroker`;
  assert.equal(decide(customerSession, permissionsOf(customerSession, { inline: [policy(allow('kms:CreateAlias', `arn:aws:kms:us-east-1:${CUSTOMER}:alias/other`))] }), 'kms:CreateAlias', alias), 'ImplicitlyDenied');
  assert.equal(decide({ kind: 'service', principal: 'lambda.amazonaws.com' }, undefined, 'kms:CreateKey'), 'ImplicitlyDenied');
  assert.ok(CHECKED_STS_OPS.has('GetCallerIdentity') && CHECKED_STS_OPS.has('AssumeRole') && !CHECKED_STS_OPS.has('GetSessionToken'));
});
