// Fault injection for the local stack (test-only): make the front answer
// chosen KMS or STS operations with an AWS error, a number of times, so the
// suite can prove how the broker and the AWS SDK behave on throttling,
// server errors and outages. Controlled over HTTP on the front's loopback
// port (see server.js and ../README.md "Fault injection"). Also counts every
// KMS/STS request it sees, so a test can tell how often the SDK retried.

const SERVICES = new Set(['kms', 'sts']);
const NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** Validate one rule from the control API; @returns the normalised rule or throws. */
export function parseRule(input) {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new Error('a fault is a JSON object');
  const known = new Set(['service', 'operation', 'resource', 'error', 'status', 'count', 'message', 'delay_ms']);
  for (const k of Object.keys(input)) if (!known.has(k)) throw new Error(`unknown field ${k}`);
  const service = String(input.service || '').toLowerCase();
  if (!SERVICES.has(service)) throw new Error('service must be "kms" or "sts"');
  if (!NAME.test(String(input.operation || ''))) throw new Error('operation must be an API operation name, e.g. Decrypt');
  if (!NAME.test(String(input.error || ''))) throw new Error('error must be an AWS error code, e.g. ThrottlingException');
  const status = input.status === undefined ? 400 : Number(input.status);
  if (!Number.isInteger(status) || status < 400 || status > 599) throw new Error('status must be 400..599');
  const count = input.count === undefined || input.count === null ? null : Number(input.count);
  if (count !== null && (!Number.isInteger(count) || count < 1)) throw new Error('count must be a positive integer or null (forever)');
  const delayMs = input.delay_ms === undefined ? 0 : Number(input.delay_ms);
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 120_000) throw new Error('delay_ms must be 0..120000');
  if (input.resource !== undefined && (typeof input.resource !== 'string' || !input.resource)) {
    throw new Error('resource must be a non-empty string (a KMS KeyId or an STS RoleArn)');
  }
  return {
    service,
    operation: input.operation,
    resource: input.resource ?? null,
    error: input.error,
    status,
    count,
    message: String(input.message ?? `injected fault: ${input.error}`),
    delay_ms: delayMs,
  };
}

/**
 * The rules in force. A rule matches requests of its service and operation,
 * and, if it names a `resource`, only those whose KMS `KeyId` or STS
 * `RoleArn` equals it (so concurrent tests do not fault each other). Each
 * rule counts the requests it `matched` and the ones it `faulted`; a rule
 * whose `count` is used up stays listed (remaining 0) so a test can read
 * how many attempts the SDK made.
 */
export class Faults {
  constructor() {
    this.nextId = 1;
    this.clear();
  }

  clear() {
    this.rules = [];
  }

  remove(id) {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return before !== this.rules.length;
  }

  add(input) {
    const list = Array.isArray(input) ? input : [input];
    const rules = list.map(parseRule).map((r) => ({ id: this.nextId++, ...r, remaining: r.count, matched: 0, faulted: 0 }));
    this.rules.push(...rules);
    return rules;
  }

  /** Count a request against every matching rule; @returns the first rule with uses left, or null. */
  take(service, operation, resource) {
    let hit = null;
    for (const r of this.rules) {
      if (r.service !== service || r.operation !== operation) continue;
      if (r.resource !== null && r.resource !== resource) continue;
      r.matched += 1;
      if (!hit && (r.remaining === null || r.remaining > 0)) {
        if (r.remaining !== null) r.remaining -= 1;
        r.faulted += 1;
        hit = r;
      }
    }
    return hit;
  }

  snapshot() {
    return { rules: this.rules.map((r) => ({ ...r })) };
  }
}

/**
 * The control API's answer (GET lists, POST adds, DELETE removes one by
 * `?id=` or all), with the log lines it owes; no I/O.
 *
 * @returns {{status: number, value: object, logLines: string[]}}
 */
export function controlAnswer(faults, method, url, bodyText) {
  if (method === 'GET') return { status: 200, value: faults.snapshot(), logLines: [] };
  if (method === 'DELETE') {
    const id = new URL(url, 'http://front.invalid').searchParams.get('id');
    if (id === null) faults.clear();
    else faults.remove(Number(id));
    return { status: 200, value: faults.snapshot(), logLines: [`FAULTS ${id === null ? 'cleared' : `removed ${id}`}`] };
  }
  if (method === 'POST') {
    let added;
    try {
      added = faults.add(JSON.parse(bodyText));
    } catch (e) {
      return { status: 400, value: { error: e.message }, logLines: [] };
    }
    const logLines = added.map(
      (r) =>
        `FAULTS added #${r.id} ${r.service}:${r.operation}${r.resource ? ` on ${r.resource}` : ''} -> ${r.status} ${r.error} x${r.count ?? 'forever'}${r.delay_ms ? ` after ${r.delay_ms} ms` : ''}`,
    );
    return { status: 200, value: { added }, logLines };
  }
  return { status: 405, value: { error: 'GET, POST or DELETE' }, logLines: [] };
}
