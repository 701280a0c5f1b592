// The stack's CloudTrail: one CloudTrail-shaped record for every KMS and
// STS call the front allows or denies, appended as a JSON line to a file
// (KEYBROKER_FRONT_TRAIL; start.sh: $STACK_DIR/trail/cloudtrail.jsonl).
// Customers' tools read it as they read a trail (terraform/readiness/
// reconcile.py), so its records carry the fields CloudTrail documents for
// these events: eventSource, eventName, eventTime, userIdentity (type, ARN,
// session issuer, sourceIdentity), requestParameters (the encryption
// context, never a plaintext or ciphertext), requestID (the one the SDK
// saw in x-amzn-RequestId), errorCode for a denial or an error, resources
// and recipientAccountId.
//
// Which accounts receive a record, as CloudTrail delivers them: the
// caller's account always; the resource owner's too when it differs and
// the call was authorized. A denied cross-account call is logged only in
// the caller's account (KMS and STS both), so a customer never sees the
// broker's account probing their key in their own trail.

import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Request members copied into requestParameters, by CloudTrail's name.
 * Anything else (Plaintext, CiphertextBlob, GrantTokens, ExternalId,
 * session policies) is left out: a trail must hold no secret, and the
 * front's log rule keeps external ids out too.
 */
const KMS_PARAMS = {
  KeyId: 'keyId',
  EncryptionContext: 'encryptionContext',
  KeySpec: 'keySpec',
  NumberOfBytes: 'numberOfBytes',
  EncryptionAlgorithm: 'encryptionAlgorithm',
  GranteePrincipal: 'granteePrincipal',
  RetiringPrincipal: 'retiringPrincipal',
  Operations: 'operations',
  Constraints: 'constraints',
  GrantId: 'grantId',
  PolicyName: 'policyName',
  Policy: 'policy',
  AliasName: 'aliasName',
  TargetKeyId: 'targetKeyId',
  SourceKeyId: 'sourceKeyId',
  DestinationKeyId: 'destinationKeyId',
  SourceEncryptionContext: 'sourceEncryptionContext',
  DestinationEncryptionContext: 'destinationEncryptionContext',
  ReplicaRegion: 'replicaRegion',
  PendingWindowInDays: 'pendingWindowInDays',
  MultiRegion: 'multiRegion',
  KeyUsage: 'keyUsage',
  Description: 'description',
};
const STS_PARAMS = {
  RoleArn: 'roleArn',
  RoleSessionName: 'roleSessionName',
  DurationSeconds: 'durationSeconds',
  SourceIdentity: 'sourceIdentity',
};
const READ_ONLY = /^(Describe|Get|List)/;

/** The requestParameters of a KMS call (JSON body) or an STS call (form params). */
export function requestParameters(service, params) {
  const names = service === 'kms' ? KMS_PARAMS : STS_PARAMS;
  const get = (k) => (params instanceof URLSearchParams ? params.get(k) ?? undefined : params?.[k]);
  const out = {};
  for (const [member, name] of Object.entries(names)) {
    const v = get(member);
    if (v === undefined || v === null) continue;
    out[name] = member === 'DurationSeconds' || member === 'PendingWindowInDays' ? Number(v) : v;
  }
  return Object.keys(out).length ? out : null;
}

/**
 * CloudTrail's userIdentity for a caller from identify() (or none: the
 * credentials were refused, only the access key id is known).
 */
export function userIdentity(caller, accessKeyId) {
  if (!caller) return { type: 'Unknown', accessKeyId };
  if (caller.kind === 'service') return { type: 'AWSService', invokedBy: caller.principal };
  if (caller.kind === 'root') {
    return { type: 'Root', principalId: caller.account, arn: caller.principal, accountId: caller.account, accessKeyId };
  }
  const roleName = caller.principalArn.split('/').pop();
  const roleUniqueId = String(caller.roleId || '').split(':')[0] || undefined;
  const ctx = {
    sessionIssuer: { type: 'Role', principalId: roleUniqueId, arn: caller.principalArn, accountId: caller.account, userName: roleName },
    attributes: { creationDate: new Date(caller.issuedAt ?? Date.now()).toISOString(), mfaAuthenticated: 'false' },
  };
  if (caller.sourceIdentity !== undefined) ctx.sourceIdentity = caller.sourceIdentity;
  return {
    type: 'AssumedRole',
    principalId: caller.roleId,
    arn: caller.principal,
    accountId: caller.account,
    accessKeyId: caller.accessKeyId ?? accessKeyId,
    sessionContext: ctx,
  };
}

/**
 * The records of one call, one per receiving account.
 *
 * @param {object} e
 * @param {'kms'|'sts'} e.service
 * @param {string} e.operation e.g. Decrypt, AssumeRole
 * @param {string} e.region
 * @param {object|null} e.caller from identify(), null when refused
 * @param {string} [e.accessKeyId] the request's access key id
 * @param {object|URLSearchParams} e.params the request (JSON body or form)
 * @param {string} e.requestId what the caller got as x-amzn-RequestId
 * @param {string} [e.errorCode] absent on success
 * @param {string} [e.errorMessage]
 * @param {boolean} e.authorized whether the policies allowed the call (a
 *   call refused by LocalStack afterwards, e.g. a disabled key, was authorized)
 * @param {{arn: string, account: string, type: string}} [e.resource] the key or role
 * @param {object} [e.responseElements]
 * @param {string} [e.time] ISO time; now by default
 * @returns {object[]}
 */
export function trailRecords(e) {
  const time = e.time ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const callerAccount = e.caller?.account;
  const owner = e.resource?.account;
  const recipients = [];
  if (callerAccount) recipients.push(callerAccount);
  if (owner && owner !== callerAccount && (e.authorized || !callerAccount)) recipients.push(owner);
  const shared = recipients.length > 1 ? randomUUID() : undefined;
  const base = {
    eventVersion: '1.08',
    userIdentity: userIdentity(e.caller, e.accessKeyId),
    eventTime: time,
    eventSource: `${e.service}.amazonaws.com`,
    eventName: e.operation,
    awsRegion: e.region,
    sourceIPAddress: e.caller?.kind === 'service' ? e.caller.principal : '127.0.0.1',
    userAgent: 'keybroker-local-stack',
    requestParameters: requestParameters(e.service, e.params),
    responseElements: e.errorCode ? null : (e.responseElements ?? null),
    requestID: e.requestId,
    eventType: 'AwsApiCall',
    readOnly: READ_ONLY.test(e.operation),
    managementEvent: true,
    eventCategory: 'Management',
  };
  if (e.errorCode) {
    base.errorCode = e.errorCode;
    if (e.errorMessage) base.errorMessage = e.errorMessage;
  }
  if (e.resource) base.resources = [{ accountId: e.resource.account, type: e.resource.type, ARN: e.resource.arn }];
  return recipients.map((recipientAccountId) => ({
    ...base,
    eventID: randomUUID(),
    recipientAccountId,
    ...(shared ? { sharedEventID: shared } : {}),
  }));
}

/** The trail file: records appended synchronously, so a caller that got its answer finds its record. */
export class Trail {
  constructor(path) {
    this.path = path;
    this.fd = null;
    if (path) {
      mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(path, 'a');
    }
  }

  /** Append records (no-op without a file). */
  write(records) {
    if (this.fd === null) return;
    for (const r of records) writeSync(this.fd, `${JSON.stringify(r)}\n`);
  }

  close() {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
