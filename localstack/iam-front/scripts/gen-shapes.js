// Generates src/aws-shapes.json: the input shapes of every STS and KMS
// operation the front checks, cut down to what validation needs (type,
// required members, min/max, pattern, enum), from the botocore service
// models in the LocalStack venv. Those models are AWS's own, so the front
// enforces AWS's exact limits.
//
//   node localstack/iam-front/scripts/gen-shapes.js <botocore data dir>
//   (default: <repo>/.stack/venv-localstack/lib/python3.13/site-packages/botocore/data)
//
// Patterns are written in Java regex syntax; they are translated to
// JavaScript (`\uXXXXX` -> `\u{XXXXX}`, `\:` -> `:`), anchored (AWS matches
// the whole value), and compiled here, so a pattern that does not translate
// stops the generator rather than being dropped.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { CHECKED_KMS_OPS, CHECKED_STS_OPS } from '../src/decide.js';
import { compilePattern } from '../src/validate.js';

const repo = new URL('../../../', import.meta.url);
const dataDir =
  process.argv[2] ?? new URL('.stack/venv-localstack/lib/python3.13/site-packages/botocore/data/', repo).pathname;

function loadModel(service) {
  const dir = `${dataDir.replace(/\/$/, '')}/${service}`;
  const [version] = readdirSync(dir).sort().reverse();
  const file = `${dir}/${version}/service-2.json.gz`;
  return { version, model: JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) };
}

const KEEP = ['type', 'required', 'min', 'max', 'pattern', 'enum', 'sensitive'];

function cut(service, operations) {
  const { version, model } = loadModel(service);
  const shapes = {};
  const visit = (name) => {
    if (shapes[name]) return;
    const s = model.shapes[name];
    if (!s) throw new Error(`${service}: shape ${name} missing from the model`);
    const out = {};
    for (const k of KEEP) if (s[k] !== undefined) out[k] = s[k];
    if (out.pattern !== undefined) compilePattern(out.pattern); // throws if it does not translate
    shapes[name] = out;
    if (s.members) {
      out.members = {};
      for (const [m, ref] of Object.entries(s.members)) {
        out.members[m] = ref.shape;
        visit(ref.shape);
      }
    }
    for (const k of ['member', 'key', 'value']) {
      if (s[k]) {
        out[k] = s[k].shape;
        visit(s[k].shape);
      }
    }
  };
  const ops = {};
  for (const op of operations) {
    const o = model.operations[op];
    if (!o) throw new Error(`${service}: operation ${op} missing from the model`);
    ops[op] = o.input?.shape ?? null;
    if (ops[op]) visit(ops[op]);
  }
  return { apiVersion: version, protocol: model.metadata.protocol, operations: ops, shapes };
}

const out = {
  generatedBy: 'localstack/iam-front/scripts/gen-shapes.js from the botocore service models',
  sts: cut('sts', [...CHECKED_STS_OPS].sort()),
  kms: cut('kms', [...CHECKED_KMS_OPS].sort()),
};
writeFileSync(new URL('../src/aws-shapes.json', import.meta.url), `${JSON.stringify(out, null, 1)}\n`);
console.log(`wrote src/aws-shapes.json: sts ${Object.keys(out.sts.shapes).length} shapes, kms ${Object.keys(out.kms.shapes).length} shapes`);
