// The front's side of HTTP: reading requests, relaying answers, and the
// look-ups it makes in LocalStack (IAM roles and policies, key policies,
// grants), each as the resource owner's account. No decisions here: those
// are decide.js; the handlers are server.js.

import http from 'node:http';
import { gunzipSync } from 'node:zlib';

import { parseKeyArn, parseRoleArn, permissionsOf } from './decide.js';

export const HOST = '127.0.0.1';
export const LS_PORT = Number(process.env.KEYBROKER_LS_PORT || 4566);
export const MOTO_PORT = Number(process.env.KEYBROKER_MOTO_PORT || 4569);
const MAX_BODY = 16 * 1024 * 1024;
const UPSTREAM_TIMEOUT_MS = 30_000;
export const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 128 });
/** Where a request goes after the front: LocalStack (KMS, STS, IAM) or moto (DynamoDB). */
export const LOCALSTACK = { name: 'LocalStack', port: LS_PORT };
export const MOTO = { name: 'moto', port: MOTO_PORT };

/** A failure of the front itself: logged, answered as a server error, never allowed. */
export class FrontError extends Error {}

// --- HTTP plumbing --------------------------------------------------------------
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'content-length',
]);

export function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new FrontError(`request body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Raw header pairs without hop-by-hop headers, plus an exact Content-Length. */
function endToEndHeaders(rawHeaders, bodyLength, { keepLength = false } = {}) {
  const out = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(name) && !(keepLength && name === 'content-length')) continue;
    out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  if (!keepLength) out.push('Content-Length', String(bodyLength));
  return out;
}

/** One HTTP exchange with LocalStack (or `to`). @returns {Promise<{status, rawHeaders, headers, body: Buffer}>} */
function upstream(method, path, headers, body, to = LOCALSTACK) {
  return new Promise((resolve, reject) => {
    const r = http.request(
      { host: HOST, port: to.port, method, path, headers, agent: upstreamAgent, timeout: UPSTREAM_TIMEOUT_MS },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new FrontError(`${to.name} did not answer within ${UPSTREAM_TIMEOUT_MS} ms`)));
    r.on('error', (e) => reject(e instanceof FrontError ? e : new FrontError(`${to.name} unreachable: ${e.message}`)));
    r.end(body);
  });
}

/** Forward the client's request unchanged; @returns the upstream answer. */
export function forward(req, body, to = LOCALSTACK) {
  const headers = endToEndHeaders(req.rawHeaders, body.length);
  return upstream(req.method, req.url, headers, body, to);
}

export function relay(res, answer) {
  const keepLength = answer.status === 304 || answer.status === 204;
  res.writeHead(answer.status, endToEndHeaders(answer.rawHeaders, answer.body.length, { keepLength }));
  res.end(answer.body);
}

export function respond(res, { status, headers, body }) {
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function decoded(answer) {
  const enc = String(answer.headers['content-encoding'] || '').toLowerCase();
  return enc === 'gzip' ? gunzipSync(answer.body).toString('utf8') : answer.body.toString('utf8');
}

// --- LocalStack look-ups (made as the resource owner's account) ----------------------
function ownerAuth(account, region, service) {
  return `AWS4-HMAC-SHA256 Credential=${account}/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

export const xmlText = (xml, tag) => {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return m ? m[1] : undefined;
};
export const xmlUnescape = (s) =>
  s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e) => {
    const named = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (named[e]) return named[e];
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });

const xmlAll = (xml, tag) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => xmlUnescape(m[1]));

/** A policy document as IAM returns it (URL-encoded JSON inside XML). */
function policyDocument(raw, what) {
  try {
    return JSON.parse(decodeURIComponent(xmlUnescape(raw)));
  } catch (e) {
    throw new FrontError(`${what}: unreadable policy document (${e.message})`);
  }
}

/** One IAM query-protocol call to LocalStack as `account`. @returns {Promise<{status: number, xml: string}>} */
async function iamCall(account, action, params) {
  const body = Buffer.from(new URLSearchParams({ Action: action, Version: '2010-05-08', ...params }).toString());
  const answer = await upstream(
    'POST',
    '/',
    {
      Host: `${HOST}:${LS_PORT}`,
      Authorization: ownerAuth(account, 'us-east-1', 'iam'),
      'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
      'Content-Length': String(body.length),
    },
    body,
  );
  return { status: answer.status, xml: decoded(answer) };
}

/**
 * An IAM call that must succeed (or, with `missingOk`, name an entity that
 * does not exist: no pages); a paginated list is read to its end.
 * @returns {Promise<string[]>} the answers' XML
 */
async function iamAll(account, action, params, { missingOk = false } = {}) {
  const pages = [];
  let marker;
  for (;;) {
    const { status, xml } = await iamCall(account, action, marker ? { ...params, Marker: marker } : params);
    if (missingOk && (status === 404 || xmlText(xml, 'Code') === 'NoSuchEntity')) return pages;
    if (status !== 200) {
      throw new FrontError(`IAM ${action} in ${account} answered HTTP ${status} ${xmlText(xml, 'Code') || ''}`);
    }
    pages.push(xml);
    if (xmlText(xml, 'IsTruncated') !== 'true') return pages;
    marker = xmlText(xml, 'Marker');
    if (!marker) throw new FrontError(`IAM ${action} in ${account}: truncated answer without a Marker`);
  }
}

/** @returns {Promise<{missing: true} | {arn: string, trustPolicy: object, boundaryArn?: string}>} */
export async function getRole(account, name) {
  const { status, xml } = await iamCall(account, 'GetRole', { RoleName: name });
  if (status === 404 || xmlText(xml, 'Code') === 'NoSuchEntity') return { missing: true };
  if (status !== 200) {
    throw new FrontError(`IAM GetRole ${name} in ${account} answered HTTP ${status} ${xmlText(xml, 'Code') || ''}`);
  }
  const arn = xmlText(xml, 'Arn');
  const doc = xmlText(xml, 'AssumeRolePolicyDocument');
  if (!arn || doc === undefined) throw new FrontError(`IAM GetRole ${name}: no Arn/AssumeRolePolicyDocument in the answer`);
  const boundary = /<PermissionsBoundary>[\s\S]*?<\/PermissionsBoundary>/.exec(xml)?.[0];
  return {
    arn: xmlUnescape(arn),
    trustPolicy: policyDocument(doc, `IAM GetRole ${name}`),
    boundaryArn: boundary ? xmlText(boundary, 'PermissionsBoundaryArn') : undefined,
  };
}

/** The default version's document of a managed policy. */
async function managedPolicy(account, policyArn) {
  const [policy] = await iamAll(account, 'GetPolicy', { PolicyArn: policyArn });
  const versionId = xmlText(policy, 'DefaultVersionId');
  if (!versionId) throw new FrontError(`IAM GetPolicy ${policyArn}: no DefaultVersionId`);
  const [version] = await iamAll(account, 'GetPolicyVersion', { PolicyArn: policyArn, VersionId: versionId });
  const doc = xmlText(version, 'Document');
  if (doc === undefined) throw new FrontError(`IAM GetPolicyVersion ${policyArn}: no Document`);
  return policyDocument(doc, `IAM GetPolicyVersion ${policyArn}`);
}

/**
 * A session caller's identity permissions: its role's inline and attached
 * managed policies and its permissions boundary, read from LocalStack IAM on
 * every decision (so a change applies to the very next request).
 */
export async function callerPermissions(caller) {
  if (caller.kind !== 'session') return permissionsOf(caller);
  const role = parseRoleArn(caller.principalArn);
  // Independent look-ups run concurrently: a decision costs the slowest
  // chain, not the sum.
  const [found, inlinePages, attachedPages] = await Promise.all([
    getRole(role.account, role.name),
    // The role may be gone (deleted mid-session): it then has no policies.
    iamAll(role.account, 'ListRolePolicies', { RoleName: role.name }, { missingOk: true }),
    iamAll(role.account, 'ListAttachedRolePolicies', { RoleName: role.name }, { missingOk: true }),
  ]);
  if (found.missing) return permissionsOf(caller, {});
  const inlineNames = inlinePages.flatMap((x) => xmlAll(/<PolicyNames>[\s\S]*<\/PolicyNames>/.exec(x)?.[0] || '', 'member'));
  const attachedArns = attachedPages.flatMap((x) => xmlAll(x, 'PolicyArn'));
  const [inline, managed, boundary] = await Promise.all([
    Promise.all(
      inlineNames.map(async (name) => {
        const [x] = await iamAll(role.account, 'GetRolePolicy', { RoleName: role.name, PolicyName: name });
        return policyDocument(xmlText(x, 'PolicyDocument') ?? '', `IAM GetRolePolicy ${role.name}/${name}`);
      }),
    ),
    Promise.all(attachedArns.map((arn) => managedPolicy(role.account, arn))),
    found.boundaryArn ? managedPolicy(role.account, found.boundaryArn) : null,
  ]);
  return permissionsOf(caller, { inline, managed, boundary });
}

async function kmsCall(account, region, op, payload) {
  const body = Buffer.from(JSON.stringify(payload));
  const answer = await upstream(
    'POST',
    '/',
    {
      Host: `${HOST}:${LS_PORT}`,
      Authorization: ownerAuth(account, region, 'kms'),
      'X-Amz-Target': `TrentService.${op}`,
      'Content-Type': 'application/x-amz-json-1.1',
      'Content-Length': String(body.length),
    },
    body,
  );
  let json = {};
  try {
    json = JSON.parse(decoded(answer) || '{}');
  } catch {
    throw new FrontError(`KMS ${op} answered HTTP ${answer.status} with a body that is not JSON`);
  }
  return { answer, json };
}

// Key-state answers from a look-up are relayed to the caller as they are:
// they say the key cannot be used, and reveal nothing the request would not.
const RELAYED_KMS_ERRORS = new Set(['NotFoundException', 'KMSInvalidStateException', 'DisabledException']);
export const kmsErrorType = (json, answer) =>
  String(json.__type || answer.headers['x-amzn-errortype'] || '').split('#').pop().split(':')[0];

/** @returns {Promise<{keyArn: string} | {relay: object}>} */
export async function resolveKey(keyRef, caller, region) {
  if (parseKeyArn(keyRef)) return { keyArn: keyRef };
  // A key id, alias name or alias ARN: resolve it as KMS would, in the
  // account it names or else the caller's.
  const aliasArn = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):alias\/.+$/.exec(keyRef);
  const account = aliasArn ? aliasArn[2] : caller.account;
  const atRegion = aliasArn ? aliasArn[1] : region;
  const { answer, json } = await kmsCall(account, atRegion, 'DescribeKey', { KeyId: keyRef });
  if (answer.status === 200 && parseKeyArn(json.KeyMetadata?.Arn)) return { keyArn: json.KeyMetadata.Arn };
  if (RELAYED_KMS_ERRORS.has(kmsErrorType(json, answer))) return { relay: answer };
  throw new FrontError(`KMS DescribeKey ${keyRef} in ${account} answered HTTP ${answer.status} ${kmsErrorType(json, answer)}`);
}

/** @returns {Promise<{policy: object} | {relay: object}>} */
export async function getKeyPolicy(keyArn) {
  const key = parseKeyArn(keyArn);
  const { answer, json } = await kmsCall(key.account, key.region, 'GetKeyPolicy', { KeyId: keyArn, PolicyName: 'default' });
  if (answer.status === 200 && typeof json.Policy === 'string') {
    try {
      return { policy: JSON.parse(json.Policy) };
    } catch (e) {
      throw new FrontError(`key policy of ${keyArn} is not JSON (${e.message})`);
    }
  }
  if (RELAYED_KMS_ERRORS.has(kmsErrorType(json, answer))) return { relay: answer };
  throw new FrontError(`KMS GetKeyPolicy ${keyArn} answered HTTP ${answer.status} ${kmsErrorType(json, answer)}`);
}

/** Every grant on the key (KMS ListGrants as the key's owner, all pages). */
export async function listGrants(keyArn) {
  const key = parseKeyArn(keyArn);
  const grants = [];
  let marker;
  for (;;) {
    const { answer, json } = await kmsCall(key.account, key.region, 'ListGrants', marker ? { KeyId: keyArn, Marker: marker } : { KeyId: keyArn });
    if (answer.status !== 200 || !Array.isArray(json.Grants)) {
      throw new FrontError(`KMS ListGrants ${keyArn} answered HTTP ${answer.status} ${kmsErrorType(json, answer)}`);
    }
    grants.push(...json.Grants);
    if (!json.Truncated) return grants;
    marker = json.NextMarker;
    if (!marker) throw new FrontError(`KMS ListGrants ${keyArn}: truncated answer without NextMarker`);
  }
}

/** The request id and error code a caller got in `answer` (ours or LocalStack's). */
export function outcomeOf(answer) {
  const h = Object.fromEntries(Object.entries(answer.headers || {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const out = { requestId: h['x-amzn-requestid'] };
  if (answer.status < 400) return out;
  const text = Buffer.isBuffer(answer.body) ? decoded(answer) : String(answer.body ?? '');
  let code = h['x-amzn-errortype'];
  let message;
  if (text.startsWith('<')) {
    code = xmlText(text, 'Code') ?? code;
    message = xmlText(text, 'Message');
  } else {
    try {
      const json = JSON.parse(text || '{}');
      code = code ?? json.__type;
      message = json.message ?? json.Message;
    } catch {
      // not JSON: the header's type is all there is
    }
  }
  out.errorCode = String(code || `HTTP${answer.status}`).split('#').pop().split(':')[0];
  if (message) out.errorMessage = xmlUnescape(String(message));
  if (!out.requestId && text.startsWith('<')) out.requestId = xmlText(text, 'RequestId');
  return out;
}
