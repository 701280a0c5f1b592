//! An honest upstream that returns what it was sent, the way ordinary APIs
//! do: a create endpoint answering with the representation it stored, an
//! error page quoting the input, a content endpoint decoding a base64
//! field. Nothing here reads the credential: it is what turns a guess into
//! an answer, and the oracle suite (`tests/tests/e2e/oracle.rs`) attacks
//! the broker through it.
//!
//! Routes (any method):
//! * `/items`: `201`, the request body as is (`Prefer: return=representation`);
//! * `/search?q=…`: `404`, `{"error": "nothing matches <q>"}`, `q`
//!   form-decoded (an error message that quotes its input);
//! * `/decode?b64=…`: `200`, the standard-base64-decoded `b64` (a content
//!   API storing base64 and answering with the content);
//! * anything else: `200`, `{"ok":true}`.
//!
//! `delay_ms=N` in the query holds the answer back (a burst's requests are
//! then all in flight together).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

/// The echo upstream.
pub struct Echo {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Echo {
    /// Start on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        let task = crate::tls::serve(listener, move |req| {
            count.fetch_add(1, Ordering::SeqCst);
            route(req)
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    /// `https://127.0.0.1:<port>` (plain http when the stack is).
    pub fn base(&self) -> String {
        format!("{}://{}", crate::tls::scheme(), self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn route(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if let Ok(ms) = param("delay_ms").parse::<u64>() {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let answer = |status: StatusCode, body: Bytes| {
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        r
    };
    match path.as_str() {
        "/items" => answer(StatusCode::CREATED, body),
        "/search" => answer(
            StatusCode::NOT_FOUND,
            Bytes::from(
                serde_json::json!({ "error": format!("nothing matches {}", param("q")) })
                    .to_string(),
            ),
        ),
        "/decode" => match STANDARD.decode(param("b64")) {
            Ok(content) => answer(StatusCode::OK, Bytes::from(content)),
            Err(_) => answer(StatusCode::BAD_REQUEST, Bytes::from_static(b"bad base64")),
        },
        _ => answer(StatusCode::OK, Bytes::from_static(br#"{"ok":true}"#)),
    }
}
