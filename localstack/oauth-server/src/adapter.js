// oidc-provider storage adapter over one in-process Map, exported so that
// the harness's /_test/ routes can read the provider's own records (which
// grants exist, which refresh tokens are consumed). Test-only: nothing
// survives a restart.
export const store = new Map();

const expiries = new Map();

function key(model, id) {
  return `${model}:${id}`;
}

function live(k) {
  const exp = expiries.get(k);
  if (exp && exp < Date.now()) {
    store.delete(k);
    expiries.delete(k);
    return undefined;
  }
  return store.get(k);
}

export class MemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  async upsert(id, payload, expiresIn) {
    const k = key(this.model, id);
    store.set(k, { model: this.model, payload });
    if (expiresIn) expiries.set(k, Date.now() + expiresIn * 1000);
    if (payload.grantId) {
      const gk = `grant-index:${payload.grantId}`;
      const ids = store.get(gk)?.ids || [];
      ids.push(k);
      store.set(gk, { model: 'index', ids });
    }
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, { model: 'index', id });
    if (payload.uid) store.set(`uid:${this.model}:${payload.uid}`, { model: 'index', id });
  }

  async find(id) {
    return live(key(this.model, id))?.payload;
  }

  async findByUserCode(userCode) {
    const ref = store.get(`userCode:${userCode}`);
    return ref ? this.find(ref.id) : undefined;
  }

  async findByUid(uid) {
    const ref = store.get(`uid:${this.model}:${uid}`);
    return ref ? this.find(ref.id) : undefined;
  }

  async consume(id) {
    const entry = live(key(this.model, id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(key(this.model, id));
  }

  async revokeByGrantId(grantId) {
    const gk = `grant-index:${grantId}`;
    for (const k of store.get(gk)?.ids || []) store.delete(k);
    store.delete(gk);
  }
}
