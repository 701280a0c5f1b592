// keybroker iam-front: an IAM-enforcing HTTP front for the local AWS stack.
//
// Listens on 127.0.0.1:${KEYBROKER_FRONT_PORT:-4565} and forwards every
// request unchanged to LocalStack on 127.0.0.1:${KEYBROKER_LS_PORT:-4566}
// (LocalStack does not verify SigV4 signatures, so headers and body pass
// as-is), except that it first decides:
//   - sts:AssumeRole against the role's trust policy (fetched from
//     LocalStack IAM), and
//   - KMS GenerateDataKey[WithoutPlaintext] / Encrypt / Decrypt / ReEncrypt
//     against the key policy (fetched from LocalStack KMS),
// with the core engine of @cloud-copilot/iam-simulate. A denied request never
// reaches LocalStack. Any failure of the front itself fails closed.
// DynamoDB requests (X-Amz-Target DynamoDB_20120810.*) are relayed unchanged
// to moto on 127.0.0.1:${KEYBROKER_MOTO_PORT:-4569}, so that clients keep
// their connections alive as they do with DynamoDB: moto's server closes
// every connection, which made each DynamoDB call pay a new (TLS) connection
// that it does not pay on AWS (docs/BENCHMARKS.md, "Issue 17"). They are
// relayed one at a time, because moto's conditional writes are not atomic
// under concurrency and DynamoDB's are (src/serial.js).
//
// Every KMS and STS call it decides also gets a CloudTrail-shaped record in
// the trail file (KEYBROKER_FRONT_TRAIL, src/trail.js). HTTP plumbing and
// the LocalStack look-ups are src/upstream.js.
//
// One log line per decision goes to stdout (start.sh sends it to
// logs/iam-front.log). Request and response bodies are never logged: they
// carry plaintext data keys and session credentials.
// See ../README.md ("IAM front") for what is enforced and what is not.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import {
  CHECKED_STS_OPS,
  Sessions,
  credentialOf,
  identify,
  identityOnlyDecision,
  kmsChecks,
  keyDecision,
  parseKeyArn,
  parseRoleArn,
  trustDecision,
} from './decide.js';
import { Faults, controlAnswer } from './faults.js';
import { Serial } from './serial.js';
import { kmsAccessDenied, kmsError, stsAccessDenied, stsError } from './responses.js';
import { Trail, trailRecords } from './trail.js';
import {
  FrontError,
  HOST,
  LS_PORT,
  MOTO,
  MOTO_PORT,
  callerPermissions,
  decoded,
  forward,
  getKeyPolicy,
  getRole,
  kmsErrorType,
  listGrants,
  outcomeOf,
  readBody,
  relay,
  resolveKey,
  respond,
  upstreamAgent,
  xmlText,
  xmlUnescape,
} from './upstream.js';
import { loadShapes, validateKms, validateSts, validationMessage } from './validate.js';

const FRONT_PORT = Number(process.env.KEYBROKER_FRONT_PORT || 4565);
const HEALTH_PATH = '/_keybroker_front/health';
const FAULTS_PATH = '/_front/faults';

const faults = new Faults();
// AWS's request shapes; throws (the front does not start) when missing.
const SHAPES = loadShapes();

const sessions = new Sessions();
// DynamoDB to moto one request at a time (src/serial.js). The most requests
// ever in flight to moto is measured around the relay itself and reported
// by the health check, so that a queue that stopped serializing fails the
// e2e check (tests/tests/e2e/stack_semantics.rs), not a breaker test now
// and then.
const dynamodbQueue = new Serial();
const dynamodbLoad = { inFlight: 0, most: 0 };

function relayToMoto(req, body) {
  return dynamodbQueue.run(async () => {
    dynamodbLoad.inFlight += 1;
    dynamodbLoad.most = Math.max(dynamodbLoad.most, dynamodbLoad.inFlight);
    try {
      return await forward(req, body, MOTO);
    } finally {
      dynamodbLoad.inFlight -= 1;
    }
  });
}
// The stack's CloudTrail (src/trail.js): no file, no trail.
const trail = new Trail(process.env.KEYBROKER_FRONT_TRAIL || null);
const DYNAMODB_TARGET = 'DynamoDB_20120810.';

// --- logging ------------------------------------------------------------------
const log = (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
// The most recent denials, for tests to assert on (GET /_front/denials):
// who, what, on which resource, why; never a request body.
const DENIALS_PATH = '/_front/denials';
const MAX_DENIALS = 10_000;
const denials = [];
const decision = (allowed, principal, action, resource, why) => {
  log(`${allowed ? 'ALLOW' : 'DENY '} principal=${principal} action=${action} resource=${resource} (${why})`);
  if (!allowed) {
    denials.push({ time: new Date().toISOString(), principal, action, resource, reason: why });
    if (denials.length > MAX_DENIALS) denials.splice(0, denials.length - MAX_DENIALS);
  }
};

/** Write the trail records of one call, given what its caller got back. */
function logCall(call, answer, responseElements) {
  const o = outcomeOf(answer);
  trail.write(trailRecords({ ...call, ...o, responseElements: o.errorCode ? undefined : responseElements }));
}

/** Answer a KMS or STS call with one of our responses, and trail it. */
function reply(res, call, answer) {
  logCall(call, answer);
  return respond(res, answer);
}

/** Relay an upstream answer to a KMS or STS call, and trail it. */
function relayCall(res, call, answer, responseElements) {
  logCall(call, answer, responseElements);
  return relay(res, answer);
}

// --- KMS ------------------------------------------------------------------------
async function handleKms(req, res, body, op, cred) {
  const action = `kms:${op}`;
  let payload;
  try {
    payload = JSON.parse(body.toString('utf8') || '{}');
  } catch {
    throw new FrontError(`${action}: request body is not JSON`);
  }
  const who = identify(cred?.akid, req.headers['x-amz-security-token'], sessions);
  const call = { service: 'kms', operation: op, region: cred?.region, caller: who.caller ?? null, accessKeyId: cred?.akid, params: payload, authorized: false };
  if (who.refused) {
    decision(false, `akid:${cred?.akid ?? '-'}`, action, '-', `caller refused: ${who.refused}`);
    const type = who.refused === 'expired' ? 'ExpiredTokenException' : 'UnrecognizedClientException';
    return reply(res, call, kmsError(400, type, who.message));
  }
  const { caller } = who;
  const checks = kmsChecks(op, payload);
  if (!checks) {
    decision(false, caller.principal, action, '-', 'operation not modelled by the front (fail closed)');
    return reply(res, call, kmsError(400, 'AccessDeniedException', `iam-front: ${action} is not checked by the local stack, so it is refused`));
  }
  const invalid = validateKms(SHAPES, op, payload);
  if (!invalid) throw new FrontError(`${action}: no request shape for a checked operation`);
  if (invalid.length > 0) {
    decision(false, caller.principal, action, '-', `ValidationException: ${invalid.map((e) => e.path).join(', ')}`);
    return reply(res, call, kmsError(400, 'ValidationException', validationMessage(invalid)));
  }
  // Started now, awaited where needed: it runs alongside the key look-ups.
  const permissionsP = callerPermissions(caller);
  permissionsP.catch(() => {}); // a failure is thrown where it is awaited
  for (const check of checks) {
    if (check.anyResource || check.alias !== undefined) {
      const resource = check.anyResource
        ? '*'
        : `arn:aws:kms:${cred.region}:${caller.account}:${String(check.alias ?? '').replace(/^arn:aws:kms:[^:]*:\d{12}:/, '')}`;
      const d = identityOnlyDecision({ caller, permissions: await permissionsP, action: check.action, resourceArn: resource });
      decision(d.allowed, caller.principal, check.action, resource, d.detail ? `${d.result}: ${d.detail}` : d.result);
      if (!d.allowed) return reply(res, call, kmsAccessDenied(caller.principal, check.action, resource, d.result === 'ExplicitlyDenied'));
      continue;
    }
    if (!check.keyRef) {
      decision(false, caller.principal, check.action, '-', 'no key named and none found in the ciphertext');
      return reply(res, call, kmsAccessDenied(caller.principal, check.action, '*', false));
    }
    const resolved = await resolveKey(check.keyRef, caller, cred.region);
    if (resolved.keyArn) call.resource = { arn: resolved.keyArn, account: parseKeyArn(resolved.keyArn).account, type: 'AWS::KMS::Key' };
    if (resolved.relay) {
      decision(false, caller.principal, check.action, check.keyRef, `key look-up: ${kmsErrorType({}, resolved.relay) || 'error'}`);
      return relayCall(res, call, resolved.relay);
    }
    const [fetched, permissions] = await Promise.all([getKeyPolicy(resolved.keyArn), permissionsP]);
    if (fetched.relay) {
      decision(false, caller.principal, check.action, resolved.keyArn, `key look-up: ${kmsErrorType({}, fetched.relay) || 'error'}`);
      return relayCall(res, call, fetched.relay);
    }
    const decide = (grants) =>
      keyDecision({
        caller,
        permissions,
        action: check.action,
        keyArn: resolved.keyArn,
        keyPolicy: fetched.policy,
        grants,
        encryptionContext: check.encryptionContext,
        extraContext: check.context,
      });
    // Grants matter only when the policies implicitly deny: read them then.
    let d = decide([]);
    if (d.result === 'ImplicitlyDenied') d = decide(await listGrants(resolved.keyArn));
    decision(d.allowed, caller.principal, check.action, resolved.keyArn, d.detail ? `${d.result}: ${d.detail}` : d.result);
    if (!d.allowed) {
      return reply(res, call, kmsAccessDenied(caller.principal, check.action, resolved.keyArn, d.result === 'ExplicitlyDenied'));
    }
  }
  call.authorized = true;
  return relayCall(res, call, await forward(req, body));
}

// --- STS AssumeRole ---------------------------------------------------------------
function formParams(req, body) {
  const params = new URLSearchParams(new URL(req.url, 'http://front.invalid').search);
  const type = String(req.headers['content-type'] || '');
  if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.append(k, v);
  }
  return params;
}

async function handleAssumeRole(req, res, body, params, cred) {
  const action = 'sts:AssumeRole';
  const roleArn = params.get('RoleArn') || '';
  const who = identify(cred?.akid, req.headers['x-amz-security-token'], sessions, Date.now(), { allowService: true });
  const role = parseRoleArn(roleArn);
  const call = {
    service: 'sts',
    operation: 'AssumeRole',
    region: cred?.region,
    caller: who.caller ?? null,
    accessKeyId: cred?.akid,
    params,
    authorized: false,
    resource: role ? { arn: roleArn, account: role.account, type: 'AWS::IAM::Role' } : undefined,
  };
  if (who.refused) {
    decision(false, `akid:${cred?.akid ?? '-'}`, action, roleArn || '-', `caller refused: ${who.refused}`);
    return reply(
      res,
      call,
      who.refused === 'expired'
        ? stsError(400, 'ExpiredToken', who.message)
        : stsError(403, 'InvalidClientTokenId', who.message),
    );
  }
  const { caller } = who;
  if (stsInvalid(res, call, 'AssumeRole', params)) return;
  if (!role) {
    decision(false, caller.principal, action, roleArn || '-', 'not a role ARN');
    return reply(res, call, stsAccessDenied(caller.principal, roleArn));
  }
  const found = await getRole(role.account, role.name);
  if (found.missing || found.arn !== roleArn) {
    decision(false, caller.principal, action, roleArn, found.missing ? 'role does not exist' : `role exists as ${found.arn}`);
    return reply(res, call, stsAccessDenied(caller.principal, roleArn));
  }
  const d = trustDecision({
    caller,
    permissions: await callerPermissions(caller),
    roleArn,
    trustPolicy: found.trustPolicy,
    externalId: params.has('ExternalId') ? params.get('ExternalId') : undefined,
    sessionName: params.get('RoleSessionName') ?? undefined,
    sourceIdentity: params.has('SourceIdentity') ? params.get('SourceIdentity') : undefined,
  });
  const externalIdNote = params.has('ExternalId') ? 'external id sent' : 'no external id';
  const sourceNote = d.sourceIdentity === undefined ? 'no source identity' : `source identity ${d.sourceIdentity}`;
  decision(d.allowed, caller.principal, action, roleArn, `${d.detail ? `${d.result}: ${d.detail}` : d.result}, ${externalIdNote}, ${sourceNote}`);
  if (!d.allowed) return reply(res, call, stsAccessDenied(caller.principal, roleArn));

  call.authorized = true;
  const answer = await forward(req, body);
  let issued;
  if (answer.status === 200) {
    const xml = decoded(answer);
    const accessKeyId = xmlText(xml, 'AccessKeyId');
    const user = /<AssumedRoleUser>[\s\S]*<\/AssumedRoleUser>/.exec(xml)?.[0] || '';
    const sessionArn = xmlText(user, 'Arn');
    const roleId = xmlText(user, 'AssumedRoleId');
    const expiration = Date.parse(xmlText(xml, 'Expiration') || '');
    if (accessKeyId && sessionArn && Number.isFinite(expiration)) {
      sessions.remember({
        accessKeyId,
        sessionToken: xmlUnescape(xmlText(xml, 'SessionToken') || ''),
        sessionArn: xmlUnescape(sessionArn),
        roleArn,
        expiresAt: expiration,
        sourceIdentity: d.sourceIdentity,
        roleId: roleId && xmlUnescape(roleId),
      });
      issued = {
        credentials: { accessKeyId, expiration: new Date(expiration).toISOString() },
        assumedRoleUser: { assumedRoleId: roleId && xmlUnescape(roleId), arn: xmlUnescape(sessionArn) },
        ...(d.sourceIdentity === undefined ? {} : { sourceIdentity: d.sourceIdentity }),
      };
    } else {
      // The credentials stay unknown to the front, so every checked call
      // made with them is refused.
      log(`ERROR AssumeRole ${roleArn}: could not read the issued session from the answer; its calls will be refused`);
    }
  }
  return relayCall(res, call, answer, issued);
}

/** Answer an STS request that breaks the model with AWS's ValidationError. @returns true if answered. */
function stsInvalid(res, call, op, params) {
  const invalid = validateSts(SHAPES, op, params);
  if (!invalid) throw new FrontError(`sts:${op}: no request shape for a checked operation`);
  if (invalid.length === 0) return false;
  decision(false, call.caller.principal, `sts:${op}`, params.get('RoleArn') || '-', `ValidationError: ${invalid.map((e) => e.path).join(', ')}`);
  reply(res, call, stsError(400, 'ValidationError', validationMessage(invalid)));
  return true;
}

/** STS over the query protocol: its API version, or a credential scoped to sts. */
const isStsRequest = (params, cred) => params.get('Version') === '2011-06-15' || cred?.service === 'sts';

/** GetCallerIdentity needs no permission in AWS, only credentials that are valid. */
async function handleGetCallerIdentity(req, res, body, cred) {
  const who = identify(cred?.akid, req.headers['x-amz-security-token'], sessions);
  const params = formParams(req, body);
  const call = { service: 'sts', operation: 'GetCallerIdentity', region: cred?.region, caller: who.caller ?? null, accessKeyId: cred?.akid, params, authorized: false };
  if (who.refused) {
    decision(false, `akid:${cred?.akid ?? '-'}`, 'sts:GetCallerIdentity', '-', `caller refused: ${who.refused}`);
    return reply(
      res,
      call,
      who.refused === 'expired' ? stsError(400, 'ExpiredToken', who.message) : stsError(403, 'InvalidClientTokenId', who.message),
    );
  }
  if (stsInvalid(res, call, 'GetCallerIdentity', params)) return;
  decision(true, who.caller.principal, 'sts:GetCallerIdentity', '*', 'always allowed for a valid caller');
  call.authorized = true;
  return relayCall(res, call, await forward(req, body));
}

// --- fault injection (test-only; ../README.md "Fault injection") ------------------------
const isLoopback = (addr) => addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';
const jsonAnswer = (status, value) => ({
  status,
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(value),
});

async function handleFaults(req, res) {
  if (!isLoopback(req.socket.remoteAddress)) return respond(res, jsonAnswer(403, { error: 'loopback only' }));
  const body = req.method === 'POST' ? (await readBody(req)).toString('utf8') : '';
  const { status, value, logLines } = controlAnswer(faults, req.method, req.url, body);
  for (const line of logLines) log(line);
  return respond(res, jsonAnswer(status, value));
}

/** Count the request; answer it with an injected fault if one matches. @returns true if answered. */
async function injectFault(res, service, operation, resource) {
  const rule = faults.take(service, operation, resource);
  if (!rule) return false;
  log(`FAULT ${service}:${operation} -> ${rule.status} ${rule.error}`);
  if (rule.delay_ms) await new Promise((r) => setTimeout(r, rule.delay_ms));
  respond(res, service === 'kms' ? kmsError(rule.status, rule.error, rule.message) : stsError(rule.status, rule.error, rule.message));
  return true;
}

// --- dispatch ---------------------------------------------------------------------
async function handle(req, res) {
  if (req.url === FAULTS_PATH || req.url.startsWith(`${FAULTS_PATH}?`)) return handleFaults(req, res);
  if (req.url === DENIALS_PATH) {
    if (!isLoopback(req.socket.remoteAddress)) return respond(res, jsonAnswer(403, { error: 'loopback only' }));
    return respond(res, jsonAnswer(200, { denials }));
  }
  if (req.url === HEALTH_PATH) {
    return respond(res, {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        status: 'ok',
        upstream: `http://${HOST}:${LS_PORT}`,
        dynamodb: `http://${HOST}:${MOTO_PORT}`,
        dynamodb_most_in_flight: dynamodbLoad.most,
      }),
    });
  }
  const body = await readBody(req);
  const target = String(req.headers['x-amz-target'] || '');
  // DynamoDB: not IAM-checked here (see ../README.md), only kept alive and
  // serialized.
  if (target.startsWith(DYNAMODB_TARGET)) return relay(res, await relayToMoto(req, body));
  const cred = credentialOf(req.headers.authorization, req.url);
  const kmsOp = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : null;
  if (kmsOp) {
    let keyId = null;
    try {
      keyId = JSON.parse(body.toString('utf8') || '{}').KeyId ?? null;
    } catch {
      // Not JSON: the KMS handler below fails closed on it.
    }
    if (await injectFault(res, 'kms', kmsOp, keyId)) return;
  }
  if (!target) {
    const params = formParams(req, body);
    const stsAction = params.get('Action');
    if (stsAction && (await injectFault(res, 'sts', stsAction, params.get('RoleArn')))) return;
  }
  if (kmsOp) return handleKms(req, res, body, kmsOp, cred);
  if (/assumerole/i.test(target)) {
    // STS over a JSON protocol: not understood, so not allowed.
    decision(false, `akid:${cred?.akid ?? '-'}`, 'sts:AssumeRole', '-', `unsupported protocol (X-Amz-Target ${target})`);
    return respond(res, stsError(403, 'AccessDenied', 'iam-front: AssumeRole over a JSON protocol is not supported'));
  }
  if (!target) {
    const params = formParams(req, body);
    const actionParam = params.get('Action');
    if (isStsRequest(params, cred)) {
      if (!CHECKED_STS_OPS.has(actionParam)) {
        decision(false, `akid:${cred?.akid ?? '-'}`, `sts:${actionParam}`, '-', 'operation not modelled by the front (fail closed)');
        return respond(res, stsError(403, 'AccessDenied', `iam-front: sts:${actionParam} is not checked by the local stack, so it is refused`));
      }
      if (actionParam === 'AssumeRole') return handleAssumeRole(req, res, body, params, cred);
      return handleGetCallerIdentity(req, res, body, cred);
    }
  }
  return relay(res, await forward(req, body));
}

function failClosed(req, res, err) {
  const target = String(req.headers['x-amz-target'] || '');
  log(`ERROR fail-closed ${req.method} ${target || req.url}: ${err instanceof FrontError ? err.message : err.stack || err}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const message = `iam-front could not handle this request (see its log): ${err instanceof FrontError ? err.message : 'internal error'}`;
  if (target.startsWith('TrentService.')) return respond(res, kmsError(500, 'KMSInternalException', message));
  const type = String(req.headers['content-type'] || '');
  if (type.startsWith('application/x-www-form-urlencoded')) {
    return respond(res, stsError(500, 'InternalFailure', message));
  }
  return respond(res, { status: 502, headers: { 'Content-Type': 'text/plain' }, body: `${message}\n` });
}

// HTTPS when start.sh hands over the stack's certificate (the default: the
// broker talks TLS to AWS, so it does here too); plain HTTP otherwise.
const TLS_CERT = process.env.KEYBROKER_FRONT_TLS_CERT;
const TLS_KEY = process.env.KEYBROKER_FRONT_TLS_KEY;
const SCHEME = TLS_CERT && TLS_KEY ? 'https' : 'http';
const onRequest = (req, res) => {
  handle(req, res).catch((err) => failClosed(req, res, err));
};
const server =
  SCHEME === 'https'
    ? https.createServer({ cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY) }, onRequest)
    : http.createServer(onRequest);
server.keepAliveTimeout = 65_000;
server.on('clientError', (err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
});
server.listen(FRONT_PORT, HOST, () => {
  log(`iam-front listening on ${SCHEME}://${HOST}:${FRONT_PORT}, forwarding to http://${HOST}:${LS_PORT} and DynamoDB to http://${HOST}:${MOTO_PORT} (pid ${process.pid})`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log(`iam-front stopping (${sig})`);
    server.close();
    upstreamAgent.destroy();
    setTimeout(() => process.exit(0), 200).unref();
  });
}
