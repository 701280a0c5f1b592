//! The withhold decision as a guessing oracle (issue 22), run to the
//! breaker through the real `inject` binary under lambda-runner, against an
//! honest upstream that returns what it is sent (keybroker_tests::echo).
//!
//! The attacker knows the token's public prefix (`sk-ant-api03-`) and
//! extends its guess one character at a time: a candidate is the last
//! `window - 1` characters it knows plus one more (`window`: the broker's
//! fragment length for this token, `Needles::fragment_len`), and a hit
//! (`probe` when the request scan sees it, `echo_withheld` when only the
//! echo does) confirms the character. Two starting points:
//! * **the public prefix only**: fragment windows start after it and carry
//!   64 bits, so no candidate of one unknown character is ever a window;
//!   every answer is a miss, nothing is learned and the breaker never
//!   moves (the search that remains is written down in THREAT_MODEL.md);
//! * **a leaked head** of `window - 1` characters of the random part (a
//!   key hint that showed too much, an earlier partial leak): now each next
//!   character is a one-character oracle, and the breaker trips after the
//!   budget's probe events; every later answer is `quarantined` without
//!   `kms:Decrypt`, and the characters learned are at most the budget plus
//!   those deduced by elimination.
//!
//! `breaker.rs` beside this file has the burst, the operator's controls and
//! the honest agent.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keybroker_lambda::inject::scrub::Needles;
use keybroker_tests::echo::Echo;
use keybroker_tests::lambda_env::{LambdaEnv, RunOptions};
use keybroker_tests::{assert_no_canary, assert_no_fragment, error_type, setup, Env};
use serde_json::{json, Value};

/// The deployment default (`KEYBROKER_PROBE_BUDGET` unset).
pub(crate) const BUDGET: u64 = broker_core::breaker::DEFAULT_PROBE_BUDGET as u64;
/// The token format's public prefix.
pub(crate) const PREFIX: &str = "sk-ant-api03-";
/// What the attacker guesses from: matching is ASCII case-insensitive, so
/// lower case and digits cover a base62 token (learned case-folded).
const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A canary in the token's format: the prefix, then 24 random base62
/// characters (37 in all, like the token the issue recovered). Drawn from
/// the random bytes behind an external id, not from its hex digits: those
/// are 16 symbols, which mapped into base62 gave 16 letters (4 bits a
/// character where the broker, seeing letters only, counts 4.7).
pub(crate) fn token() -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let hex = broker_core::external_id::generate().unwrap();
    let tail: String = (0..24)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .map(|b| char::from(B62[usize::from(b) % B62.len()]))
        .collect();
    format!("{PREFIX}{tail}")
}

/// A workspace whose policy lets any agent inject, on the echo upstream.
pub(crate) struct Lab {
    pub env: Env,
    pub lambda: LambdaEnv,
    pub echo: Echo,
    pub ws: String,
}

impl Lab {
    pub async fn start(opts: &RunOptions) -> Self {
        let env = setup().await;
        let lambda = LambdaEnv::start_with(&env, opts).await;
        let echo = Echo::start().await;
        let ws = crate::ws().to_string();
        lambda
            .admin(json!({ "op": "set_policy", "workspace": ws,
                           "policy": r#"permit(principal, action == Action::"inject", resource);"# }))
            .await;
        Self {
            env,
            lambda,
            echo,
            ws,
        }
    }

    /// `put_secret` `name` = `value`, bound to the echo upstream.
    pub async fn put(&self, name: &str, value: &str) {
        self.lambda
            .admin(
                json!({ "op": "put_secret", "workspace": self.ws, "secret": name,
                "value": value, "binding": { "hosts": [self.echo.addr.to_string()],
                "allow_insecure_http": true, "inject": { "type": "header",
                "name": "Authorization", "template": "Bearer {secret}" } } }),
            )
            .await;
    }

    /// One injection of `secret` as `agent`: `path_and_query` on the echo
    /// upstream, with `body` (a POST) or without (a GET).
    pub async fn inject(&self, secret: &str, agent: &str, path: &str, body: Option<&str>) -> Value {
        let method = if body.is_some() { "POST" } else { "GET" };
        let mut request = json!({ "method": method, "url": format!("{}{path}", self.echo.base()) });
        if let Some(b) = body {
            request["body"] = json!(b);
        }
        self.lambda
            .invoke(
                "inject",
                &json!({ "workspace": self.ws, "secret": secret, "agent": agent,
                         "request": request }),
            )
            .await
    }

    /// The outcome audit record of the answer `r`.
    pub fn audit_of(&self, r: &Value) -> Value {
        let id = &r["request_id"];
        self.lambda
            .audit_records()
            .into_iter()
            .find(|a| &a["request_id"] == id)
            .unwrap_or_else(|| panic!("no audit record for {r}"))
    }

    /// What `list_secrets` says of `name`'s breaker: (probes, quarantined).
    pub async fn breaker(&self, name: &str) -> (u64, bool) {
        let list = self
            .lambda
            .admin(json!({ "op": "list_secrets", "workspace": self.ws }))
            .await;
        let s = list
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {list}"))
            .clone();
        (s["probes"].as_u64().unwrap(), s["quarantined"] == true)
    }

    /// No form of `canary`, no fragment window of its random part and
    /// nothing the broker's scan finds decoded, in any reply, audit record
    /// or function log line.
    pub fn assert_clean(&self, replies: &[Value], canary: &str) {
        let all = [
            ("replies", json!(replies).to_string()),
            (
                "audit records",
                json!(self.lambda.audit_records()).to_string(),
            ),
            ("function output", self.lambda.output()),
        ];
        for (what, text) in all {
            assert_no_canary(what, &text, canary);
            assert_no_fragment(what, &text, canary);
        }
    }
}

/// `s` as the `b64` query value of the echo's `/decode` route: standard
/// base64, form-encoded (`+`, `/` and `=` escaped).
pub(crate) fn b64_param(s: &str) -> String {
    url::form_urlencoded::byte_serialize(STANDARD.encode(s).as_bytes()).collect()
}

/// How the attacker gets a candidate echoed.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// `GET /search?q=<candidate>`: the error page quotes it (the request
    /// scan sees the candidate: a hit is `probe`, nothing is sent).
    Query,
    /// `GET /decode?b64=<base64 of the candidate>`: the request scan sees
    /// only base64 of a fragment; the echo has it raw (`echo_withheld`).
    Base64,
    /// `POST /items` with a set of candidates, one a line, for bisection.
    Body,
}

/// A scan verdict as the attacker reads it off the answer.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    Hit,
    Miss,
    Quarantined,
}

pub(crate) fn verdict(r: &Value) -> Verdict {
    if r["ok"] == true {
        return match r["withheld"].as_str() {
            Some("echo_withheld") => Verdict::Hit,
            None => Verdict::Miss,
            Some(other) => panic!("withheld {other}: {r}"),
        };
    }
    match error_type(r) {
        "probe" => Verdict::Hit,
        "quarantined" => Verdict::Quarantined,
        _ => panic!("an answer the attacker cannot read: {r}"),
    }
}

/// The attacker's state.
struct Attacker<'a> {
    lab: &'a Lab,
    secret: &'static str,
    route: Route,
    /// The broker's fragment length for this token.
    window: usize,
    /// Characters known at the start (public prefix and any leaked head).
    start: usize,
    known: String,
    hits: u64,
    /// Characters taken because every other candidate missed.
    deduced: u64,
    requests: usize,
    replies: Vec<Value>,
}

impl Attacker<'_> {
    /// Ask whether any of `guesses` (each a next character) is right.
    async fn ask(&mut self, guesses: &[u8]) -> Verdict {
        let tail = &self.known[self.known.len() - (self.window - 1)..];
        let candidates: Vec<String> = guesses
            .iter()
            .map(|&c| format!("{tail}{}", char::from(c)))
            .collect();
        let (path, body) = match self.route {
            Route::Query => (format!("/search?q={}", candidates[0]), None),
            Route::Base64 => (format!("/decode?b64={}", b64_param(&candidates[0])), None),
            Route::Body => ("/items".to_owned(), Some(candidates.join("\n"))),
        };
        // A new agent id every time: the breaker is the secret's.
        let agent = format!("agent-{}", self.requests);
        let r = self
            .lab
            .inject(self.secret, &agent, &path, body.as_deref())
            .await;
        self.requests += 1;
        let v = verdict(&r);
        if v == Verdict::Hit {
            self.hits += 1;
        }
        self.replies.push(r);
        v
    }

    /// Extend `known` until the breaker answers `quarantined` or
    /// `max_requests` are spent: single candidates, or bisection over
    /// candidate sets. Misses are free, so a character every other
    /// candidate missed is taken without a hit (`deduced`).
    async fn run(&mut self, bisect: bool, max_requests: usize) {
        while self.requests < max_requests {
            let mut left: Vec<u8> = ALPHABET.to_vec();
            let hits_before = self.hits;
            while left.len() > 1 {
                let k = if bisect { left.len() / 2 } else { 1 };
                let asked = left[..k].to_vec();
                match self.ask(&asked).await {
                    Verdict::Hit => left = asked,
                    Verdict::Miss => drop(left.drain(..k)),
                    Verdict::Quarantined => return,
                }
            }
            if self.hits == hits_before {
                self.deduced += 1;
            }
            self.known.push(char::from(left[0]));
        }
    }

    /// Characters beyond what it started with that the attacker has right
    /// (case-folded).
    fn learned(&self, canary: &str) -> usize {
        let canary = canary.to_ascii_lowercase();
        self.known
            .bytes()
            .zip(canary.bytes())
            .skip(self.start)
            .take_while(|(a, b)| a == b)
            .count()
    }
}

/// Run one attack on its own secret, knowing the public prefix and
/// `leaked` characters after it, and assert what the breaker allows.
async fn attack(
    lab: &Lab,
    secret: &'static str,
    route: Route,
    bisect: bool,
    leaked: bool,
    max_requests: usize,
) -> (usize, usize) {
    let canary = token();
    lab.put(secret, &canary).await;
    let needles = Needles::new(canary.as_bytes(), &[]);
    assert_eq!(
        needles.public_prefix_len(),
        PREFIX.len(),
        "the prefix is public"
    );
    let window = needles.fragment_len();
    let start = PREFIX.len() + if leaked { window - 1 } else { 0 };
    // Whether a candidate of one unknown character can be a window at all.
    let first = &canary[start - (window - 1)..=start];
    let oracle = needles.count(first.as_bytes()) > 0;
    assert_eq!(
        oracle, leaked,
        "a one-character oracle exactly when a head leaked"
    );
    let mut a = Attacker {
        lab,
        secret,
        route,
        window,
        start,
        known: canary[..start].to_owned(),
        hits: 0,
        deduced: 0,
        requests: 0,
        replies: Vec::new(),
    };
    a.run(bisect, max_requests).await;
    let learned = a.learned(&canary);
    eprintln!(
        "oracle {route:?}{}{}: {learned} characters of {} learned beyond what it knew \
         in {} requests, {} probe events before the breaker tripped (budget {BUDGET}), \
         {} of them deduced from misses alone",
        if bisect { " (bisection)" } else { "" },
        if leaked {
            " with a leaked head"
        } else {
            " from the public prefix"
        },
        canary.len() - start,
        a.requests,
        a.hits,
        a.deduced,
    );
    // Each hit confirms at most one character; misses are free, and a
    // position where all but one candidate missed gives one more (a 1 in
    // 36 chance per position: docs/THREAT_MODEL.md, "The probe breaker").
    assert!(
        learned as u64 <= BUDGET + a.deduced,
        "learned {learned}, {} deduced",
        a.deduced
    );
    if !oracle {
        assert_eq!(a.hits, 0, "hits without a one-character oracle");
        assert!(a.requests >= max_requests, "ran to its request budget");
        assert!(
            a.replies.iter().all(|r| verdict(r) == Verdict::Miss),
            "every answer a miss, none quarantined"
        );
        assert_eq!(lab.breaker(secret).await, (0, false), "nothing was counted");
        lab.assert_clean(&a.replies, &canary);
        return (learned, a.requests);
    }
    assert_eq!(a.hits, BUDGET, "the breaker trips after the budget's hits");
    assert_eq!(
        verdict(a.replies.last().unwrap()),
        Verdict::Quarantined,
        "the search ended at the breaker"
    );
    // Every later answer is `quarantined`, before kms:Decrypt, whatever it
    // carries: the right next character, a wrong one, or nothing at all.
    let right = format!(
        "{}{}",
        &canary[a.known.len() - (window - 1)..a.known.len()],
        &canary[a.known.len()..=a.known.len()]
    );
    for (i, path) in [
        format!("/search?q={right}"),
        format!("/decode?b64={}", b64_param(&right)),
        "/search?q=nothing".to_owned(),
        "/".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let r = lab.inject(secret, &format!("late-{i}"), path, None).await;
        assert_eq!(error_type(&r), "quarantined", "{path}: {r}");
        assert_eq!(r["error"]["retry"], "never", "{r}");
        let msg = r["error"]["message"].as_str().unwrap();
        assert!(msg.contains("clear_breaker"), "{msg}");
        let audit = lab.audit_of(&r);
        assert_eq!(audit["aws_calls"]["kms"], 0, "before Decrypt: {audit}");
        assert_eq!(audit["reason"], "quarantined", "{audit}");
        assert_eq!(audit["Quarantined"], 1, "{audit}");
        a.replies.push(r);
    }
    // What the hits left in the audit: reason and kind, never the value.
    let hits: Vec<Value> = a
        .replies
        .iter()
        .filter(|r| verdict(r) == Verdict::Hit)
        .map(|r| lab.audit_of(r))
        .collect();
    for (n, audit) in hits.iter().enumerate() {
        let kind = match route {
            Route::Base64 => "echo",
            Route::Query | Route::Body => "request",
        };
        assert_eq!(audit["probe"], kind, "{audit}");
        assert_eq!(audit["probes"], n as u64 + 1, "{audit}");
        let metric = if kind == "echo" {
            "EchoWithheld"
        } else {
            "Probes"
        };
        assert_eq!(audit[metric], 1, "{audit}");
    }
    assert_eq!(lab.breaker(secret).await, (BUDGET, true));
    lab.assert_clean(&a.replies, &canary);
    (learned, a.requests)
}

#[tokio::test]
async fn the_oracle_runs_into_the_breaker_one_character_at_a_time() {
    let lab = Lab::start(&RunOptions::default()).await;
    let mut learned = Vec::new();
    for (secret, route, bisect, leaked, max) in [
        ("prefix-single", Route::Query, false, false, 72),
        ("prefix-echoed", Route::Base64, false, false, 72),
        ("prefix-bisect", Route::Body, true, false, 36),
        ("single", Route::Query, false, true, 400),
        ("echoed", Route::Base64, false, true, 400),
        ("bisect", Route::Body, true, true, 400),
    ] {
        learned.push(attack(&lab, secret, route, bisect, leaked, max).await);
    }
    eprintln!("oracle summary (characters learned, requests): {learned:?}");
    lab.lambda.stop().await;
}
