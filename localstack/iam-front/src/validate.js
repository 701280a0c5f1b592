// Request parameters checked against the AWS service models, answered as
// AWS answers: the input shapes of every operation the front checks
// (src/aws-shapes.json, generated from the botocore models by
// scripts/gen-shapes.js) with their required members, lengths, ranges,
// patterns and enums. LocalStack and moto accept values AWS rejects (a
// 65-character RoleSessionName, for one), so without this the broker's
// requests could pass locally and fail on AWS.
//
// No values appear in messages or logs: members may hold plaintext or
// external ids.

import { readFileSync } from 'node:fs';

/**
 * A botocore (Java-syntax) pattern as an anchored JavaScript RegExp: AWS
 * matches the whole value. Throws if it does not translate.
 */
export function compilePattern(pattern) {
  const js = pattern.replace(/\\u([0-9A-Fa-f]{5,6})/g, '\\u{$1}').replace(/\\:/g, ':');
  return new RegExp(`^(?:${js})$`, 'u');
}

/**
 * The shapes file, read once at start. Missing or unreadable: throws, so the
 * front does not start (it never validates silently against nothing).
 */
export function loadShapes(url = new URL('./aws-shapes.json', import.meta.url)) {
  let shapes;
  try {
    shapes = JSON.parse(readFileSync(url, 'utf8'));
  } catch (e) {
    throw new Error(`iam-front: AWS request shapes unreadable (${e.message}); run scripts/gen-shapes.js`);
  }
  for (const svc of ['sts', 'kms']) {
    if (!shapes[svc]?.operations || !shapes[svc]?.shapes) throw new Error(`iam-front: no ${svc} shapes in ${url}`);
    for (const s of Object.values(shapes[svc].shapes)) if (s.pattern !== undefined) s.regex = compilePattern(s.pattern);
  }
  return shapes;
}

const lowerFirst = (s) => s.charAt(0).toLowerCase() + s.slice(1);
const length = (s) => [...s].length;

function checkScalar(shape, value, path, errors) {
  const fail = (constraint) => errors.push({ path, constraint });
  switch (shape.type) {
    case 'string': {
      if (typeof value !== 'string') return fail('Member must be a string');
      if (shape.min !== undefined && length(value) < shape.min) fail(`Member must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && length(value) > shape.max) fail(`Member must have length less than or equal to ${shape.max}`);
      if (shape.regex && !shape.regex.test(value)) fail(`Member must satisfy regular expression pattern: ${shape.pattern}`);
      if (shape.enum && !shape.enum.includes(value)) fail(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
      return;
    }
    case 'integer':
    case 'long': {
      if (!Number.isInteger(value)) return fail('Member must be an integer');
      if (shape.min !== undefined && value < shape.min) fail(`Member must have value greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && value > shape.max) fail(`Member must have value less than or equal to ${shape.max}`);
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') fail('Member must be a boolean');
      return;
    case 'blob': {
      if (typeof value !== 'string') return fail('Member must be a base64-encoded blob');
      const bytes = Buffer.from(value, 'base64').length;
      if (shape.min !== undefined && bytes < shape.min) fail(`Member must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && bytes > shape.max) fail(`Member must have length less than or equal to ${shape.max}`);
      return;
    }
    default:
      // timestamp: any value the service parses; not validated here.
      return;
  }
}

/** Validate a JSON-protocol value (KMS) against a shape, recursively. */
function checkJson(shapes, name, value, path, errors) {
  const shape = shapes[name];
  if (shape.type === 'structure') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return errors.push({ path, constraint: 'Member must be a structure' });
    }
    for (const req of shape.required ?? []) {
      if (value[req] === undefined || value[req] === null) errors.push({ path: join(path, req), constraint: 'Member must not be null' });
    }
    for (const [m, v] of Object.entries(value)) {
      if (v === undefined || v === null) continue;
      // Members the model does not know are ignored by AWS's JSON parsers.
      if (shape.members?.[m]) checkJson(shapes, shape.members[m], v, join(path, m), errors);
    }
    return;
  }
  if (shape.type === 'list') {
    if (!Array.isArray(value)) return errors.push({ path, constraint: 'Member must be a list' });
    if (shape.min !== undefined && value.length < shape.min) errors.push({ path, constraint: `Member must have length greater than or equal to ${shape.min}` });
    if (shape.max !== undefined && value.length > shape.max) errors.push({ path, constraint: `Member must have length less than or equal to ${shape.max}` });
    value.forEach((v, i) => checkJson(shapes, shape.member, v, `${path}.${i + 1}.member`, errors));
    return;
  }
  if (shape.type === 'map') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return errors.push({ path, constraint: 'Member must be a map' });
    const entries = Object.entries(value);
    if (shape.min !== undefined && entries.length < shape.min) errors.push({ path, constraint: `Member must have length greater than or equal to ${shape.min}` });
    if (shape.max !== undefined && entries.length > shape.max) errors.push({ path, constraint: `Member must have length less than or equal to ${shape.max}` });
    for (const [k, v] of entries) {
      checkJson(shapes, shape.key, k, `${path}.key`, errors);
      checkJson(shapes, shape.value, v, `${path}.value`, errors);
    }
    return;
  }
  checkScalar(shape, value, path, errors);
}

const join = (path, member) => (path ? `${path}.${lowerFirst(member)}` : lowerFirst(member));

/**
 * Validate a KMS (JSON) request.
 * @returns {{path: string, constraint: string}[] | null} errors, or null for an operation without a shape (refuse)
 */
export function validateKms(shapes, op, payload) {
  const input = shapes.kms.operations[op];
  if (input === undefined) return null;
  const errors = [];
  if (input) checkJson(shapes.kms.shapes, input, payload, '', errors);
  return errors;
}

/**
 * Validate an STS (query protocol) request: its top-level members. Scalars
 * are checked as the model says (integers parsed from their text); a list
 * member (`Name.member.N...`) is checked for its count; members of nested
 * structures are not checked.
 *
 * @param {URLSearchParams} params
 * @returns {{path: string, constraint: string}[] | null}
 */
export function validateSts(shapes, op, params) {
  const input = shapes.sts.operations[op];
  if (input === undefined) return null;
  const errors = [];
  if (!input) return errors;
  const shape = shapes.sts.shapes[input];
  for (const req of shape.required ?? []) {
    if (!params.has(req)) errors.push({ path: lowerFirst(req), constraint: 'Member must not be null' });
  }
  for (const [m, typeName] of Object.entries(shape.members ?? {})) {
    const t = shapes.sts.shapes[typeName];
    const path = lowerFirst(m);
    if (t.type === 'list') {
      const indexes = new Set();
      for (const k of params.keys()) {
        const hit = new RegExp(`^${m}\\.member\\.(\\d+)(\\.|$)`).exec(k);
        if (hit) indexes.add(hit[1]);
      }
      if (indexes.size > 0 && t.min !== undefined && indexes.size < t.min) errors.push({ path, constraint: `Member must have length greater than or equal to ${t.min}` });
      if (t.max !== undefined && indexes.size > t.max) errors.push({ path, constraint: `Member must have length less than or equal to ${t.max}` });
      continue;
    }
    if (!params.has(m) || t.type === 'structure') continue;
    const raw = params.get(m);
    const value = t.type === 'integer' || t.type === 'long' ? (/^-?\d+$/.test(raw) ? Number(raw) : raw) : raw;
    checkScalar(t, value, path, errors);
  }
  return errors;
}

/** AWS's message for validation errors. */
export function validationMessage(errors) {
  const n = errors.length;
  const head = `${n} validation error${n === 1 ? '' : 's'} detected: `;
  return head + errors.map((e) => `Value at '${e.path}' failed to satisfy constraint: ${e.constraint}`).join('; ');
}
