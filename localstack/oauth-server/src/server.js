// Test-only OAuth 2.0 authorization server for the local stack: the real
// `oidc-provider` (certified OpenID Connect / OAuth 2.0), configured the way
// the providers keybroker meets in production behave at their strictest:
//   - refresh-token rotation on every refresh, and reuse detection: a
//     rotated (consumed) refresh token presented again revokes the grant
//     (oidc-provider's own behaviour with rotateRefreshToken: true);
//   - short access-token lifetimes (KEYBROKER_OAUTH_AT_TTL seconds);
//   - PKCE S256 required for the authorization-code flow;
//   - one confidential test client (client_secret_post).
// Interactions are non-interactive: /interaction/:uid logs in the test user
// and grants the requested scopes, so a client following redirects gets the
// code (no login form). /_test/* is the harness's window on the provider's
// own records (grants, token-endpoint calls, per account: login_hint picks
// the account) and its fault switches.
// Loopback only, TLS with the stack's CA.
import { createServer as createHttps } from 'node:https';
import { createServer as createHttp } from 'node:http';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

import { MemoryAdapter, store } from './adapter.js';

const port = Number(process.env.KEYBROKER_OAUTH_PORT || 4664);
const certFile = process.env.KEYBROKER_OAUTH_TLS_CERT;
const keyFile = process.env.KEYBROKER_OAUTH_TLS_KEY;
const scheme = certFile ? 'https' : 'http';
const issuer = `${scheme}://127.0.0.1:${port}`;
const atTtl = Number(process.env.KEYBROKER_OAUTH_AT_TTL || 60);

export const CLIENT_ID = process.env.KEYBROKER_OAUTH_CLIENT_ID || 'keybroker-test';
export const CLIENT_SECRET = process.env.KEYBROKER_OAUTH_CLIENT_SECRET || 'kb-test-client-secret-5f1c0e7a';
export const REDIRECT_URI = process.env.KEYBROKER_OAUTH_REDIRECT_URI || 'https://127.0.0.1/oauth2/callback';
const TEST_USER = 'test-user';

// Per-account access-token lifetimes set by the harness (/_test/ttl).
const ttlOverride = {};

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  scopes: ['openid', 'offline_access', 'api'],
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  // Every grant of the test client gets a refresh token (not only those
  // with offline_access), as most SaaS providers do.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: (_ctx, token) => ttlOverride[token.accountId] || atTtl,
    AuthorizationCode: 120,
    Grant: 14 * 24 * 3600,
    Interaction: 600,
    Session: 3600,
    RefreshToken: 14 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['keybroker-local-stack-only'] },
  pkce: { required: () => true },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

// --- Token-endpoint accounting and faults ---------------------------------
const stats = { token: {}, errors: {}, inFlight: 0, dropped: 0, byAccount: {} };
let delayNextTokenMs = 0;

// Per account (the harness logs each test in as its own user, login_hint),
// so that tests sharing the server count only their own calls.
function account(id) {
  if (!stats.byAccount[id]) stats.byAccount[id] = { token: {}, errors: {} };
  return stats.byAccount[id];
}

provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
  const delay = delayNextTokenMs;
  delayNextTokenMs = 0;
  stats.inFlight += 1;
  try {
    if (delay > 0) {
      await new Promise((r) => setTimeout(r, delay));
      if (ctx.req.socket.destroyed) {
        // The client died while waiting: the request never reaches the
        // provider's logic (so nothing was rotated).
        stats.dropped = (stats.dropped || 0) + 1;
        ctx.status = 499;
        return undefined;
      }
    }
    await next();
  } finally {
    stats.inFlight -= 1;
    const gt = ctx.oidc?.params?.grant_type || 'unknown';
    const acct = ctx.oidc?.entities?.RefreshToken?.accountId
      || ctx.oidc?.entities?.AuthorizationCode?.accountId
      || ctx.oidc?.entities?.Account?.accountId
      || 'unknown';
    for (const bucket of [stats, account(acct)]) {
      bucket.token[gt] = (bucket.token[gt] || 0) + 1;
      if (ctx.status >= 400) {
        const err = (ctx.body && ctx.body.error) || String(ctx.status);
        bucket.errors[err] = (bucket.errors[err] || 0) + 1;
      }
    }
  }
  return undefined;
});

// --- Non-interactive interactions -----------------------------------------
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    const accountId = details.params.login_hint || TEST_USER;
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  const { accountId } = details.session;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  const missing = details.prompt.details.missingOIDCScope;
  if (missing) grant.addOIDCScope(missing.join(' '));
  const claims = details.prompt.details.missingOIDCClaims;
  if (claims) grant.addOIDCClaims(claims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

// --- The harness's window --------------------------------------------------
function grants(accountId) {
  const out = [];
  for (const [key, entry] of store) {
    if (!key.startsWith('Grant:')) continue;
    const id = key.slice('Grant:'.length);
    if (accountId && entry.payload.accountId !== accountId) continue;
    const refresh = [...store.values()].filter((v) => v.model === 'RefreshToken' && v.payload.grantId === id);
    out.push({
      id,
      accountId: entry.payload.accountId,
      clientId: entry.payload.clientId,
      live_refresh_tokens: refresh.filter((r) => !r.payload.consumed).length,
      consumed_refresh_tokens: refresh.filter((r) => r.payload.consumed).length,
    });
  }
  return out;
}

async function revokeAllGrants(accountId) {
  const ids = grants(accountId).map((g) => g.id);
  for (const id of ids) {
    for (const name of ['AccessToken', 'RefreshToken', 'AuthorizationCode']) {
      await new MemoryAdapter(name).revokeByGrantId(id);
    }
    await new MemoryAdapter('Grant').destroy(id);
  }
  return ids.length;
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function testRoute(req, res, url) {
  switch (`${req.method} ${url.pathname}`) {
    case 'GET /_test/health':
      return json(res, 200, { status: 'ok', issuer });
    case 'GET /_test/stats': {
      const a = url.searchParams.get('account');
      return json(res, 200, a ? { ...account(a), inFlight: stats.inFlight, dropped: stats.dropped } : stats);
    }
    case 'POST /_test/reset':
      stats.token = {};
      stats.errors = {};
      stats.dropped = 0;
      stats.byAccount = {};
      return json(res, 200, { ok: true });
    case 'GET /_test/grants':
      return json(res, 200, { grants: grants(url.searchParams.get('account')) });
    case 'POST /_test/revoke-grants':
      return json(res, 200, { revoked: await revokeAllGrants(url.searchParams.get('account')) });
    case 'POST /_test/delay-next-token':
      delayNextTokenMs = Number(url.searchParams.get('ms') || 0);
      return json(res, 200, { ok: true });
    case 'POST /_test/ttl':
      ttlOverride[url.searchParams.get('account')] = Number(url.searchParams.get('seconds'));
      return json(res, 200, { ok: true });
    case 'GET /_test/client':
      return json(res, 200, { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uri: REDIRECT_URI });
    default:
      return json(res, 404, { error: 'not_found' });
  }
}

const callback = provider.callback();
async function handler(req, res) {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/_test/')) return await testRoute(req, res, url);
    if (req.method === 'GET' && url.pathname.startsWith('/interaction/')) return await interaction(req, res);
    return callback(req, res);
  } catch (e) {
    console.error('oauth-server error', e);
    if (!res.headersSent) json(res, 500, { error: 'server_error' });
    return undefined;
  }
}

const server = certFile
  ? createHttps({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler)
  : createHttp(handler);
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`oauth-server listening on ${issuer} (access tokens live ${atTtl} s)`);
});
