// Issue 23: every principal of the broker's own account is denied the
// customer's key (KeybrokerDenyPlatformAccount, keyed on aws:PrincipalAccount),
// whatever grants or key-policy Allows name it, in both states of the switch;
// the customer's role and admins are not. And sessions carry a SourceIdentity
// the role's trust policy must allow (sts:SetSourceIdentity). No network.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Sessions, identify, keyDecision, permissionsOf, trustDecision } from '../src/decide.js';
import {
  ADMIN_ROLE_ARN,
  BROKER,
  CUSTOMER,
  EXTERNAL_ID,
  INJECT_ROLE_ARN,
  KEY_ARN,
  ROLE_ARN,
  WS,
  injectRolePolicy,
  keyPolicy,
  render,
  trustPolicy,
} from './fixtures.js';

const sessions = new Sessions();
let n = 0;
const sessionOf = (roleArn, sourceIdentity) => {
  const [, account, name] = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  const akid = `LSIAQAAAAAAAPRINC${String(n++).padStart(3, '0')}`;
  sessions.remember({
    accessKeyId: akid,
    sessionToken: `t-${akid}`,
    sessionArn: `arn:aws:sts::${account}:assumed-role/${name}/s`,
    roleArn,
    expiresAt: Date.now() + 900_000,
    sourceIdentity,
  });
  return identify(akid, `t-${akid}`, sessions).caller;
};
const root = (account) => identify(account, undefined, sessions).caller;
const CTX = { workspace: WS, secret: 'github' };
const policy = (...Statement) => ({ Version: '2012-10-17', Statement });
const KMS_STAR = policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' });
const without = (doc, sid) => ({ ...doc, Statement: doc.Statement.filter((s) => s.Sid !== sid) });
const revokedPolicy = () => {
  const revoke = render('terraform/policies/broker-revoke-statement.json.tftpl', { broker_role_arn: ROLE_ARN });
  const key = keyPolicy({ brokerAccess: false });
  key.Statement.push(revoke);
  return key;
};

const decide = (caller, key, { role = {}, grants = [], ctx = CTX, action = 'kms:Decrypt' } = {}) =>
  keyDecision({ caller, permissions: permissionsOf(caller, role), action, keyArn: KEY_ARN, keyPolicy: key, grants, encryptionContext: ctx }).result;

const grantTo = (grantee) => ({ GrantId: `g-${grantee}`, GranteePrincipal: grantee, Operations: ['Decrypt', 'GenerateDataKey'] });

test('a grant to a broker execution role decrypts without the platform Deny, and never with it (both switch states)', () => {
  const inject = sessionOf(INJECT_ROLE_ARN);
  const admin = sessionOf(ADMIN_ROLE_ARN);
  for (const [label, shipped] of [['enabled', keyPolicy()], ['revoked', revokedPolicy()]]) {
    const before = without(shipped, 'KeybrokerDenyPlatformAccount');
    // AWS lets a grantee sit in another account and needs no IAM policy for it.
    assert.equal(decide(inject, before, { grants: [grantTo(INJECT_ROLE_ARN)] }), 'AllowedByGrant', label);
    assert.equal(decide(admin, before, { grants: [grantTo(ADMIN_ROLE_ARN)] }), 'AllowedByGrant', label);
    assert.equal(decide(inject, shipped, { grants: [grantTo(INJECT_ROLE_ARN)] }), 'ExplicitlyDenied', label);
    assert.equal(decide(admin, shipped, { grants: [grantTo(ADMIN_ROLE_ARN)], action: 'kms:GenerateDataKey' }), 'ExplicitlyDenied', label);
  }
});

test('a key-policy Allow for the broker account root reaches its root and IAM principals, unless the platform Deny stands', () => {
  const support = { Sid: 'SupportDebug', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${BROKER}:root` }, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*' };
  const operator = sessionOf(`arn:aws:iam::${BROKER}:role/PlatformOperator`);
  for (const shipped of [keyPolicy(), revokedPolicy()]) {
    const open = without(shipped, 'KeybrokerDenyPlatformAccount');
    open.Statement.push(support);
    // Cross-account: the account is delegated to, and its own IAM decides.
    assert.equal(decide(root(BROKER), open), 'Allowed');
    assert.equal(decide(operator, open, { role: { inline: [KMS_STAR] } }), 'Allowed');
    assert.equal(decide(operator, open), 'ImplicitlyDenied');
    const closed = { ...shipped, Statement: [...shipped.Statement, support] };
    assert.equal(decide(root(BROKER), closed), 'ExplicitlyDenied');
    assert.equal(decide(operator, closed, { role: { inline: [KMS_STAR] } }), 'ExplicitlyDenied');
  }
});

test('the platform Deny leaves the customer role, root and admins alone', () => {
  const customerRole = sessionOf(ROLE_ARN);
  const adminRole = `arn:aws:iam::${CUSTOMER}:role/SecurityAdmin`;
  const key = keyPolicy({ admins: [adminRole] });
  assert.equal(decide(customerRole, key), 'Allowed');
  assert.equal(decide(customerRole, key, { action: 'kms:GenerateDataKey' }), 'Allowed');
  assert.equal(decide(root(CUSTOMER), key, { ctx: undefined, action: 'kms:PutKeyPolicy' }), 'Allowed');
  assert.equal(decide(sessionOf(adminRole), key, { ctx: undefined, action: 'kms:PutKeyPolicy' }), 'Allowed');
  assert.equal(decide(sessionOf(adminRole), key, { ctx: undefined, action: 'kms:CreateGrant' }), 'Allowed');
  // A customer-account principal with only an identity policy (root delegation) too.
  assert.equal(decide(sessionOf(`arn:aws:iam::${CUSTOMER}:role/App`), key, { ctx: { app: 'x' }, role: { inline: [KMS_STAR] } }), 'Allowed');
  // Another foreign account is not the broker's: the Deny does not name it (the readiness check reports such grants).
  const stranger = sessionOf('arn:aws:iam::333333333333:role/Stranger');
  assert.equal(decide(stranger, keyPolicy(), { grants: [grantTo('arn:aws:iam::333333333333:role/Stranger')] }), 'AllowedByGrant');
});

test('the trust policy requires a keybroker SourceIdentity and allows sts:SetSourceIdentity', () => {
  const inject = sessionOf(INJECT_ROLE_ARN);
  const shipped = { inline: [injectRolePolicy([`arn:aws:iam::${CUSTOMER}:role/keybroker/*`])] };
  const assume = (trust, sourceIdentity, caller = inject, role = shipped) =>
    trustDecision({ caller, permissions: permissionsOf(caller, role), roleArn: ROLE_ARN, trustPolicy: trust, externalId: EXTERNAL_ID, sessionName: `keybroker-inject.${WS}`, sourceIdentity });
  const trust = trustPolicy(EXTERNAL_ID, [INJECT_ROLE_ARN, ADMIN_ROLE_ARN]);
  const ok = assume(trust, 'keybroker-inject');
  assert.equal(ok.result, 'Allowed');
  assert.equal(ok.sourceIdentity, 'keybroker-inject');
  // Without a SourceIdentity, or with one that is not the broker's: refused.
  assert.equal(assume(trust, undefined).result, 'ImplicitlyDenied');
  assert.equal(assume(trust, 'someone-else').result, 'ImplicitlyDenied');
  // A trust policy from before issue 23 (AssumeRole only): STS refuses the SourceIdentity.
  const old = { ...trust, Statement: [{ ...trust.Statement[0], Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } } }] };
  const refused = assume(old, 'keybroker-inject');
  assert.equal(refused.allowed, false);
  assert.match(refused.detail, /sts:SetSourceIdentity/);
  assert.equal(assume(old, undefined).result, 'Allowed');
});

test('a SourceIdentity is sticky: it reaches key-policy conditions and cannot change in a role chain', () => {
  const marked = sessionOf(ROLE_ARN, 'keybroker-inject');
  const key = keyPolicy();
  key.Statement.push({
    Sid: 'OnlyInjectMayDecrypt',
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: 'kms:Decrypt',
    Resource: '*',
    Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE_ARN }, StringNotEquals: { 'aws:SourceIdentity': 'keybroker-inject' } },
  });
  assert.equal(decide(marked, key), 'Allowed');
  assert.equal(decide(sessionOf(ROLE_ARN, 'keybroker-admin'), key), 'ExplicitlyDenied');
  // Chaining from a session with a SourceIdentity: the same one or none passes, another is refused.
  const open = policy({ Effect: 'Allow', Principal: { AWS: '*' }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] });
  const chain = (sourceIdentity) =>
    trustDecision({ caller: marked, permissions: permissionsOf(marked, { inline: [policy({ Effect: 'Allow', Action: 'sts:*', Resource: '*' })] }), roleArn: `arn:aws:iam::${CUSTOMER}:role/Next`, trustPolicy: open, sourceIdentity });
  assert.equal(chain(undefined).sourceIdentity, 'keybroker-inject');
  assert.equal(chain('keybroker-inject').result, 'Allowed');
  assert.equal(chain('keybroker-admin').result, 'SourceIdentityChanged');
});
