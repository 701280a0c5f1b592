// Who is calling the front: the SigV4 credential of a request, the
// assumed-role sessions the front has seen issued, and the ARNs it parses.
// No network, no policy: decide.js decides, server.js asks.

import { createHash } from 'node:crypto';

const ACCOUNT_RE = /^\d{12}$/;

/**
 * Service principals a local client may act as, by sending the service
 * principal's name as its access key id. Only `sts:AssumeRole` accepts them
 * (see identify): lambda-runner uses it to obtain a function's execution-role
 * session the way Lambda does, so the role's trust policy naming
 * `lambda.amazonaws.com` is what decides.
 */
export const SERVICE_PRINCIPALS = new Set(['lambda.amazonaws.com']);
const ROLE_ARN_RE = /^arn:aws:iam::(\d{12}):role(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]{1,64})$/;
const KEY_ARN_RE = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]+)$/;

/**
 * The SigV4 credential of a request: from the Authorization header, or from
 * X-Amz-Credential in the query string (presigned requests).
 *
 * @returns {{akid: string, region: string, service: string} | null}
 */
export function credentialOf(authorization, url) {
  let scope = null;
  const m = /Credential=([^,\s]+)/.exec(authorization || '');
  if (m) {
    scope = m[1];
  } else if (url) {
    const q = new URL(url, 'http://front.invalid').searchParams.get('X-Amz-Credential');
    if (q) scope = q;
  }
  if (!scope) return null;
  const [akid, , region, service] = scope.split('/');
  if (!akid) return null;
  return { akid, region: region || 'us-east-1', service: service || '' };
}

export function parseRoleArn(arn) {
  const m = ROLE_ARN_RE.exec(arn || '');
  if (!m) return null;
  return { account: m[1], path: m[2], name: m[3] };
}

export function parseKeyArn(arn) {
  const m = KEY_ARN_RE.exec(arn || '');
  if (!m) return null;
  return { region: m[1], account: m[2], keyId: m[3] };
}

const sha256 = (s) => createHash('sha256').update(s, 'utf8').digest('hex');

/**
 * Assumed-role sessions the front has seen issued, by access key id. Only a
 * hash of the session token is kept.
 */
export class Sessions {
  constructor() {
    this.byAkid = new Map();
  }

  /**
   * @param {object} s
   * @param {string} s.accessKeyId
   * @param {string} s.sessionToken
   * @param {string} s.sessionArn arn:aws:sts::<acct>:assumed-role/<name>/<session>
   * @param {string} s.roleArn arn:aws:iam::<acct>:role/<path><name>
   * @param {number} s.expiresAt epoch milliseconds
   * @param {string} [s.sourceIdentity] the session's SourceIdentity (sticky:
   *   every call made with it carries it, as aws:SourceIdentity and in the trail)
   * @param {string} [s.roleId] the assumed-role id (AROA…:<session name>)
   */
  remember(s) {
    const now = Date.now();
    for (const [k, v] of this.byAkid) if (v.expiresAt <= now) this.byAkid.delete(k);
    this.byAkid.set(s.accessKeyId, {
      sessionArn: s.sessionArn,
      roleArn: s.roleArn,
      account: parseRoleArn(s.roleArn).account,
      expiresAt: s.expiresAt,
      tokenHash: sha256(s.sessionToken || ''),
      sourceIdentity: s.sourceIdentity,
      roleId: s.roleId,
      issuedAt: now,
    });
  }

  get(akid) {
    return this.byAkid.get(akid);
  }
}

/**
 * Who is calling. A 12-digit access key id is that account's root user; an
 * access key id the front saw returned by AssumeRole is that session (its
 * session token must match and it must not have expired); anything else is
 * refused. A service principal's name (SERVICE_PRINCIPALS) is that service,
 * accepted only with `allowService` (sts:AssumeRole).
 *
 * @returns {{caller: {principal: string, principalArn?: string, account?: string, kind: 'root'|'session'|'service'}}
 *         | {refused: 'unknown' | 'token' | 'expired' | 'service', message: string}}
 */
export function identify(akid, sessionToken, sessions, now = Date.now(), { allowService = false } = {}) {
  if (SERVICE_PRINCIPALS.has(akid)) {
    if (!allowService) {
      return { refused: 'service', message: `iam-front: ${akid} may only call sts:AssumeRole on the local stack` };
    }
    return { caller: { principal: akid, kind: 'service' } };
  }
  if (ACCOUNT_RE.test(akid || '')) {
    const root = `arn:aws:iam::${akid}:root`;
    return { caller: { principal: root, principalArn: root, account: akid, kind: 'root', accessKeyId: akid } };
  }
  const s = sessions.get(akid);
  if (!s) {
    return { refused: 'unknown', message: 'The security token included in the request is invalid.' };
  }
  if (sha256(sessionToken || '') !== s.tokenHash) {
    return { refused: 'token', message: 'The security token included in the request is invalid.' };
  }
  if (now >= s.expiresAt) {
    return { refused: 'expired', message: 'The security token included in the request is expired' };
  }
  return {
    caller: {
      principal: s.sessionArn,
      principalArn: s.roleArn,
      account: s.account,
      kind: 'session',
      accessKeyId: akid,
      sourceIdentity: s.sourceIdentity,
      roleId: s.roleId,
      issuedAt: s.issuedAt,
    },
  };
}
