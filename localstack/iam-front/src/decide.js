// The decision logic of the front, free of any network access: who is
// calling, which checks a request needs, and what the policies say. The
// node tests in ../test/ drive these functions with the shipped policy
// templates.

import { parseKeyArn, parseRoleArn } from './callers.js';
import { ROOT_IDENTITY_POLICY, evaluate } from './engine.js';

// Callers live in callers.js; re-exported so the front and its tests have one entry point.
export { SERVICE_PRINCIPALS, Sessions, credentialOf, identify, parseKeyArn, parseRoleArn } from './callers.js';

/**
 * KMS operations on one key, checked as `kms:<Op>` on that key against its
 * key policy, the caller's identity policies and the key's grants; the value
 * is the request member naming the key.
 */
const KMS_KEY_OPS = {
  CancelKeyDeletion: 'KeyId',
  CreateGrant: 'KeyId',
  DescribeKey: 'KeyId',
  DisableKey: 'KeyId',
  DisableKeyRotation: 'KeyId',
  EnableKey: 'KeyId',
  EnableKeyRotation: 'KeyId',
  GetKeyPolicy: 'KeyId',
  GetKeyRotationStatus: 'KeyId',
  ListGrants: 'KeyId',
  ListKeyPolicies: 'KeyId',
  ListResourceTags: 'KeyId',
  PutKeyPolicy: 'KeyId',
  ReplicateKey: 'KeyId',
  RetireGrant: 'KeyId',
  RevokeGrant: 'KeyId',
  ScheduleKeyDeletion: 'KeyId',
  TagResource: 'KeyId',
  UntagResource: 'KeyId',
  UpdateKeyDescription: 'KeyId',
};

/** KMS operations on no particular key: `kms:<Op>` on "*", identity policies only (as in AWS). */
const KMS_ACCOUNT_OPS = new Set(['CreateKey', 'ListAliases', 'ListKeys', 'ListRetirableGrants']);

/** KMS cryptographic operations (see kmsChecks). */
const KMS_CRYPTO_OPS = new Set(['GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'Decrypt', 'Encrypt', 'ReEncrypt']);

/** Alias operations: the alias (identity policies) and each key it touches (key policy). */
const KMS_ALIAS_OPS = new Set(['CreateAlias', 'DeleteAlias', 'UpdateAlias']);

/** Every KMS operation the front checks; any other is refused. */
export const CHECKED_KMS_OPS = new Set([...Object.keys(KMS_KEY_OPS), ...KMS_ACCOUNT_OPS, ...KMS_CRYPTO_OPS, ...KMS_ALIAS_OPS]);

/** Whether the front knows how to check this KMS operation. */
export const isCheckedKmsOp = (op) => CHECKED_KMS_OPS.has(op);

/** STS operations the front decides; any other STS operation is refused. */
export const CHECKED_STS_OPS = new Set(['AssumeRole', 'GetCallerIdentity']);

const KEY_ID_RE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;

/**
 * The trust-policy decision for sts:AssumeRole, as STS makes it: the caller
 * needs `sts:AssumeRole` on the role and, when the session gets a
 * SourceIdentity (sent, or inherited from a caller session that has one),
 * `sts:SetSourceIdentity` too; both are evaluated against the trust policy
 * and the caller's identity policies with `sts:SourceIdentity` in the
 * context. A caller session with a SourceIdentity may not send another one
 * (STS refuses to change it in a role chain).
 *
 * @param {object} a
 * @param {object} a.caller from identify()
 * @param {string} a.roleArn
 * @param {object} a.trustPolicy the role's AssumeRolePolicyDocument (parsed)
 * @param {string|undefined} a.externalId sts:ExternalId, only when sent
 * @param {string|undefined} a.sessionName
 * @param {string|undefined} [a.sourceIdentity] SourceIdentity, only when sent
 * @param {object} [a.permissions] the caller's identity policies and
 *   boundary (see permissionsOf); by default what identify() implies
 * @returns {{allowed: boolean, result: string, detail?: string, sourceIdentity?: string}}
 *   sourceIdentity: the new session's, when allowed
 */
export function trustDecision({ caller, permissions, roleArn, trustPolicy, externalId, sessionName, sourceIdentity }) {
  const role = parseRoleArn(roleArn);
  if (!role) return { allowed: false, result: 'InvalidRoleArn' };
  const inherited = caller.sourceIdentity;
  if (inherited !== undefined && sourceIdentity !== undefined && sourceIdentity !== inherited) {
    return { allowed: false, result: 'SourceIdentityChanged', detail: 'a role chain cannot change its SourceIdentity' };
  }
  const effective = sourceIdentity ?? inherited;
  const context = {};
  if (externalId !== undefined) context['sts:ExternalId'] = externalId;
  if (sessionName !== undefined) context['sts:RoleSessionName'] = sessionName;
  if (effective !== undefined) context['sts:SourceIdentity'] = effective;
  const decide = (action) =>
    evaluate({
      caller,
      action,
      resourceArn: roleArn,
      resourceAccount: role.account,
      policy: trustPolicy,
      policyName: 'trust-policy',
      permissions: permissions ?? permissionsOf(caller),
      context,
    });
  const assume = decide('sts:AssumeRole');
  if (!assume.allowed || effective === undefined) return { ...assume, sourceIdentity: effective };
  const set = decide('sts:SetSourceIdentity');
  if (!set.allowed) return { ...set, detail: `sts:SetSourceIdentity ${set.result}` };
  return { ...assume, sourceIdentity: effective };
}

/**
 * The checks one KMS request needs: which action on which resource with
 * which encryption context. Each check names one of:
 * - `keyRef`: a key, checked against its key policy, the caller's identity
 *   policies and its grants. It is what the caller sent (key ARN, key id,
 *   alias name or alias ARN), or for a Decrypt without KeyId the key id
 *   LocalStack wrote into the ciphertext (`fromCiphertext`); `null` when
 *   neither is known (denied).
 * - `alias`: an alias name, checked on the alias ARN against the caller's
 *   identity policies only (aliases have no resource policy).
 * - `anyResource`: `*`, identity policies only (CreateKey, ListKeys, ...).
 * ReEncrypt needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo on
 * the destination key; CreateAlias needs kms:CreateAlias on the alias and on
 * the key; UpdateAlias on the alias, the current key and the new key.
 * `context` adds operation condition keys (kms:GranteePrincipal, ...).
 *
 * @returns {{action: string, keyRef?: string|null, alias?: string, anyResource?: true,
 *            encryptionContext?: object, context?: object, fromCiphertext?: boolean}[] | null}
 *   null for an operation the front does not know (refused)
 */
export function kmsChecks(op, body) {
  const action = `kms:${op}`;
  if (op === 'ReplicateKey') {
    // kms:ReplicateKey on the primary key (its key policy), and
    // kms:CreateKey in the replica's Region (identity policies only).
    return [
      { action, keyRef: body.KeyId ?? null },
      { action: 'kms:CreateKey', anyResource: true },
    ];
  }
  if (op in KMS_KEY_OPS) {
    const check = { action, keyRef: body[KMS_KEY_OPS[op]] ?? null };
    if (op === 'CreateGrant') {
      check.context = {};
      if (body.GranteePrincipal !== undefined) check.context['kms:GranteePrincipal'] = String(body.GranteePrincipal);
      if (body.RetiringPrincipal !== undefined) check.context['kms:RetiringPrincipal'] = String(body.RetiringPrincipal);
      if (Array.isArray(body.Operations)) check.context['kms:GrantOperations'] = body.Operations.map(String);
    }
    return [check];
  }
  if (KMS_ACCOUNT_OPS.has(op)) return [{ action, anyResource: true }];
  switch (op) {
    case 'GenerateDataKey':
    case 'GenerateDataKeyWithoutPlaintext':
    case 'Encrypt':
      return [{ action, keyRef: body.KeyId ?? null, encryptionContext: body.EncryptionContext }];
    case 'Decrypt':
      if (body.KeyId) {
        return [{ action: 'kms:Decrypt', keyRef: body.KeyId, encryptionContext: body.EncryptionContext }];
      }
      return [
        {
          action: 'kms:Decrypt',
          keyRef: keyIdFromCiphertext(body.CiphertextBlob),
          encryptionContext: body.EncryptionContext,
          fromCiphertext: true,
        },
      ];
    case 'ReEncrypt':
      return [
        {
          action: 'kms:ReEncryptFrom',
          keyRef: body.SourceKeyId ?? keyIdFromCiphertext(body.CiphertextBlob),
          encryptionContext: body.SourceEncryptionContext,
          fromCiphertext: !body.SourceKeyId,
        },
        {
          action: 'kms:ReEncryptTo',
          keyRef: body.DestinationKeyId ?? null,
          encryptionContext: body.DestinationEncryptionContext,
        },
      ];
    case 'CreateAlias':
      return [
        { action, alias: body.AliasName ?? null },
        { action, keyRef: body.TargetKeyId ?? null },
      ];
    case 'DeleteAlias':
      return [
        { action, alias: body.AliasName ?? null },
        { action, keyRef: body.AliasName ?? null },
      ];
    case 'UpdateAlias':
      return [
        { action, alias: body.AliasName ?? null },
        { action, keyRef: body.AliasName ?? null },
        { action, keyRef: body.TargetKeyId ?? null },
      ];
    default:
      return null;
  }
}

/**
 * LocalStack (2026.3.0, services/kms/models.py) starts every ciphertext blob
 * with the 36-character key id (a UUID, or `mrk-` + 32 hex digits for a
 * multi-Region key). Real KMS hides the key in the blob too; the
 * front needs it to know whose policy applies to a Decrypt without KeyId.
 */
export function keyIdFromCiphertext(b64) {
  if (typeof b64 !== 'string') return null;
  const head = Buffer.from(b64, 'base64').subarray(0, 36).toString('latin1');
  return KEY_ID_RE.test(head) ? head : null;
}

/**
 * Context keys for one KMS check, named as policies write them.
 * `kms:EncryptionContextKeys` is left out when there is no context, so that
 * a `Null: false` condition on it fails as it does in AWS.
 *
 * @returns {Record<string, string|string[]> | null} null when two context
 *   keys differ only in case (condition key names are case-insensitive, so
 *   the request would be ambiguous: refused).
 */
export function kmsContext(encryptionContext, callerAccount) {
  const context = { 'kms:CallerAccount': callerAccount };
  const keys = Object.keys(encryptionContext || {});
  const seen = new Set();
  for (const k of keys) {
    const lower = k.toLowerCase();
    if (seen.has(lower)) return null;
    seen.add(lower);
    context[`kms:EncryptionContext:${k}`] = String(encryptionContext[k]);
  }
  if (keys.length > 0) context['kms:EncryptionContextKeys'] = keys;
  return context;
}

/**
 * The caller's identity-based permissions. The account root user's are
 * implicitly everything (AWS treats it so); a role session's are its role's
 * inline and attached managed policies and its permissions boundary, which
 * the server fetches from LocalStack IAM and passes in; a service principal
 * has none.
 *
 * @param {object} caller from identify()
 * @param {{inline?: object[], managed?: object[], boundary?: object|null}} [role]
 * @returns {{identityPolicies: object[], permissionBoundaries?: object[]}}
 */
export function permissionsOf(caller, role = {}) {
  if (caller.kind === 'root') return { identityPolicies: [ROOT_IDENTITY_POLICY] };
  if (caller.kind !== 'session') return { identityPolicies: [] };
  return {
    identityPolicies: [...(role.inline ?? []), ...(role.managed ?? [])],
    permissionBoundaries: role.boundary ? [role.boundary] : undefined,
  };
}

/**
 * The grant (from KMS ListGrants) that gives this caller this action with
 * this encryption context, if any. A grant's grantee is a role (any session
 * of it), an assumed-role session, or an account root (that root user).
 * Its constraints: EncryptionContextEquals (the whole context, exactly) or
 * EncryptionContextSubset (its pairs all present in the context).
 *
 * @returns {object|undefined} the grant
 */
export function matchingGrant(grants, caller, action, encryptionContext) {
  const op = action.replace(/^kms:/, '');
  const ctx = encryptionContext || {};
  const sameContext = (want) =>
    Object.keys(want).length === Object.keys(ctx).length && Object.entries(want).every(([k, v]) => ctx[k] === v);
  const subset = (want) => Object.entries(want).every(([k, v]) => ctx[k] === v);
  return (grants || []).find((g) => {
    if (!Array.isArray(g.Operations) || !g.Operations.includes(op)) return false;
    if (caller.kind === 'service') return false;
    if (g.GranteePrincipal !== caller.principalArn && g.GranteePrincipal !== caller.principal) return false;
    const c = g.Constraints || {};
    if (c.EncryptionContextEquals && !sameContext(c.EncryptionContextEquals)) return false;
    if (c.EncryptionContextSubset && !subset(c.EncryptionContextSubset)) return false;
    return true;
  });
}

/**
 * The decision for one KMS check, as KMS makes it: the key policy together
 * with the caller's identity policies and permissions boundary (same-account
 * key access needs the key policy to allow the principal directly, or to
 * delegate to the account root and an identity policy to allow; cross-account
 * access needs both), an explicit Deny anywhere beating every Allow; when
 * the policies only implicitly deny, a grant on the key for this grantee,
 * operation and context allows.
 *
 * @param {object} a
 * @param {object} a.caller from identify()
 * @param {object} [a.permissions] from permissionsOf(); default: what identify() implies
 * @param {string} a.action e.g. kms:Decrypt
 * @param {string} a.keyArn the resolved key ARN
 * @param {object} a.keyPolicy the key policy (parsed)
 * @param {object[]} [a.grants] the key's grants (ListGrants)
 * @param {object|undefined} a.encryptionContext
 * @param {object} [a.extraContext] operation condition keys (kmsChecks' `context`)
 */
export function keyDecision({ caller, permissions, action, keyArn, keyPolicy, grants, encryptionContext, extraContext }) {
  const key = parseKeyArn(keyArn);
  if (!key) return { allowed: false, result: 'InvalidKeyArn' };
  const context = kmsContext(encryptionContext, caller.account);
  if (!context) return { allowed: false, result: 'AmbiguousEncryptionContext' };
  Object.assign(context, extraContext);
  const d = evaluate({
    caller,
    action,
    resourceArn: keyArn,
    resourceAccount: key.account,
    policy: keyPolicy,
    policyName: 'key-policy',
    permissions: permissions ?? permissionsOf(caller),
    context,
  });
  if (d.result !== 'ImplicitlyDenied') return d;
  const grant = matchingGrant(grants, caller, action, encryptionContext);
  if (grant) return { allowed: true, result: 'AllowedByGrant', detail: `grant ${grant.GrantId}` };
  return d;
}

/**
 * The decision for a KMS check on no key: an alias ARN or "*", for which
 * AWS has no resource policy, so the caller's identity policies decide
 * (same account only: a caller cannot act on another account's aliases).
 *
 * @param {object} a
 * @param {object} a.caller from identify()
 * @param {object} [a.permissions] from permissionsOf()
 * @param {string} a.action
 * @param {string} a.resourceArn an alias ARN or "*"
 */
export function identityOnlyDecision({ caller, permissions, action, resourceArn }) {
  if (caller.kind === 'service') return { allowed: false, result: 'ImplicitlyDenied' };
  return evaluate({
    caller,
    action,
    resourceArn,
    resourceAccount: caller.account,
    policy: null,
    policyName: 'none',
    permissions: permissions ?? permissionsOf(caller),
    context: kmsContext(undefined, caller.account),
  });
}
