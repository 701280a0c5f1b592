//! The stack's OAuth 2.0 authorization server (`localstack/oauth-server/`,
//! the real `oidc-provider`) as a test drives it: the authorization-code
//! flow followed non-interactively (its interaction logs in the account
//! named by `login_hint`, so each test is its own user and its counts are
//! its own), the code exchanged, and the provider's own records read back
//! through its `/_test/` window (token-endpoint calls, grants).

use serde_json::Value;

/// The server, at `KEYBROKER_OAUTH_URL` (localstack/env.sh).
pub struct OAuthServer {
    /// `https://127.0.0.1:<port>`.
    pub base: String,
    http: reqwest::Client,
    /// The test client's id, secret and registered redirect URI.
    pub client_id: String,
    /// The client secret (a canary: it must never reach agents or logs).
    pub client_secret: String,
    /// Where the code is sent (never fetched: the flow stops there).
    pub redirect_uri: String,
}

/// Tokens of a code exchange.
pub struct Grant {
    /// The refresh token (a canary).
    pub refresh_token: String,
    /// The first access token (a canary).
    pub access_token: String,
}

impl OAuthServer {
    /// Connect to the stack's server and read its test client.
    pub async fn connect() -> Self {
        let base = std::env::var("KEYBROKER_OAUTH_URL")
            .expect("KEYBROKER_OAUTH_URL is set with the stack env (localstack/env.sh)");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let c: Value = http
            .get(format!("{base}/_test/client"))
            .send()
            .await
            .expect("oauth-server answers")
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap();
        Self {
            base,
            http,
            client_id: c["client_id"].as_str().unwrap().to_owned(),
            client_secret: c["client_secret"].as_str().unwrap().to_owned(),
            redirect_uri: c["redirect_uri"].as_str().unwrap().to_owned(),
        }
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.base)
    }

    /// Follow an authorization URL as a browser would (cookies kept,
    /// redirects followed) until the server redirects to the client's
    /// redirect URI; returns that URI's query (`code`, `state`, `iss`).
    pub async fn follow(&self, authorization_url: &str) -> Vec<(String, String)> {
        let mut url = authorization_url.to_owned();
        let mut cookies: Vec<(String, String)> = Vec::new();
        for _ in 0..10 {
            let cookie = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let r = self
                .http
                .get(&url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            for sc in r.headers().get_all("set-cookie") {
                let pair = sc.to_str().unwrap().split(';').next().unwrap();
                if let Some((k, v)) = pair.split_once('=') {
                    cookies.retain(|(ck, _)| ck != k);
                    cookies.push((k.to_owned(), v.to_owned()));
                }
            }
            let loc = r
                .headers()
                .get("location")
                .unwrap_or_else(|| panic!("no redirect from {url}: {}", r.status()))
                .to_str()
                .unwrap()
                .to_owned();
            let next = url::Url::parse(&url).unwrap().join(&loc).unwrap();
            if next.as_str().starts_with(&self.redirect_uri) {
                return next.query_pairs().into_owned().collect();
            }
            url = next.to_string();
        }
        panic!("the authorization flow did not reach the redirect URI");
    }

    /// The authorization-code flow with PKCE for `account`, driven by the
    /// test itself, and the code exchanged: a grant the test holds.
    pub async fn connect_account(&self, account: &str) -> Grant {
        // broker-core's own PKCE pair (its S256 is checked against RFC 7636's
        // vector in its unit tests; here the provider checks it).
        let (verifier, challenge) = broker_core::oauth2::pkce_pair().unwrap();
        let verifier = String::from_utf8(verifier.expose().to_vec()).unwrap();
        let mut auth = url::Url::parse(&format!("{}/auth", self.base)).unwrap();
        auth.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", "openid api")
            .append_pair("state", "s1")
            .append_pair("login_hint", account)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let q = self.follow(auth.as_str()).await;
        let code = q.iter().find(|(k, _)| k == "code").unwrap().1.clone();
        let t: Value = self
            .http
            .post(self.token_endpoint())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", self.redirect_uri.as_str()),
                        ("code_verifier", verifier.as_str()),
                        ("client_id", self.client_id.as_str()),
                        ("client_secret", self.client_secret.as_str()),
                    ])
                    .finish(),
            )
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap();
        Grant {
            refresh_token: t["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{t}"))
                .to_owned(),
            access_token: t["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Token-endpoint calls of `account` by grant type, and its errors.
    pub async fn stats(&self, account: &str) -> Value {
        self.get(&format!("/_test/stats?account={account}")).await
    }

    /// Refresh-token calls of `account` so far.
    pub async fn refreshes(&self, account: &str) -> u64 {
        self.stats(account).await["token"]["refresh_token"]
            .as_u64()
            .unwrap_or(0)
    }

    /// `invalid_grant` answers to `account` so far.
    pub async fn invalid_grants(&self, account: &str) -> u64 {
        self.stats(account).await["errors"]["invalid_grant"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Token requests being served right now (any account).
    pub async fn in_flight(&self) -> u64 {
        self.get("/_test/stats").await["inFlight"]
            .as_u64()
            .unwrap_or(0)
    }

    /// The provider's own grant records of `account`.
    pub async fn grants(&self, account: &str) -> Vec<Value> {
        self.get(&format!("/_test/grants?account={account}")).await["grants"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Revoke every grant of `account` at the provider.
    pub async fn revoke_grants(&self, account: &str) {
        self.post(&format!("/_test/revoke-grants?account={account}"))
            .await;
    }

    /// Access tokens issued to `account` from now on live `seconds`.
    pub async fn set_access_token_ttl(&self, account: &str, seconds: u64) {
        self.post(&format!("/_test/ttl?account={account}&seconds={seconds}"))
            .await;
    }

    /// Hold the next token request `ms` before serving it (dropped if the
    /// client is gone by then).
    pub async fn delay_next_token(&self, ms: u64) {
        self.post(&format!("/_test/delay-next-token?ms={ms}")).await;
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap()
    }

    async fn post(&self, path: &str) -> Value {
        self.http
            .post(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap()
    }
}
