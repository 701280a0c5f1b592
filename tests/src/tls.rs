//! TLS for the harness: the test upstreams serve HTTPS with the certificate
//! the local stack issued at start (`localstack/tls.sh`), and the functions
//! trust the stack's CA the way an operator configures a private CA
//! (`SSL_CERT_FILE`, docs/OPERATIONS.md).
//!
//! TLS is on when the stack's env says so (`KEYBROKER_STACK_TLS_DIR`, set by
//! `localstack/env.sh` unless the stack was started with
//! `KEYBROKER_STACK_TLS=0`). Off, everything is plain HTTP as before, and the
//! functions get the deployment setting that allows it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// The env var naming the stack's certificate directory.
pub const TLS_DIR_VAR: &str = "KEYBROKER_STACK_TLS_DIR";

/// The stack's certificate directory, if the stack runs over TLS.
pub fn dir() -> Option<PathBuf> {
    std::env::var_os(TLS_DIR_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// True if the stack (and so the test upstreams) speak TLS.
pub fn enabled() -> bool {
    dir().is_some()
}

/// `https` or `http`, for URLs of the test upstreams.
pub fn scheme() -> &'static str {
    if enabled() {
        "https"
    } else {
        "http"
    }
}

/// A TLS acceptor serving the stack's server certificate (127.0.0.1 and
/// localhost), built once; `None` when the stack runs plain HTTP.
pub fn acceptor() -> Option<TlsAcceptor> {
    static ACCEPTOR: OnceLock<Option<TlsAcceptor>> = OnceLock::new();
    ACCEPTOR
        .get_or_init(|| {
            let dir = dir()?;
            let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
                .and_then(|c| c.collect::<Result<Vec<_>, _>>())
                .unwrap_or_else(|e| panic!("read {}/server.pem: {e}", dir.display()));
            let key = PrivateKeyDer::from_pem_file(dir.join("server-key.pem"))
                .unwrap_or_else(|e| panic!("read {}/server-key.pem: {e}", dir.display()));
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
                .unwrap_or_else(|e| panic!("server TLS config: {e}"));
            Some(TlsAcceptor::from(Arc::new(config)))
        })
        .clone()
}

/// The environment the functions get for the stack's transport: over TLS,
/// `SSL_CERT_FILE` naming the system roots plus the stack's CA (as an
/// operator sets it for a private CA) and no `SSL_CERT_DIR`; over plain HTTP, the deployment
/// setting that allows `http://` upstreams on loopback
/// (`KEYBROKER_ALLOW_INSECURE_HTTP`), which nothing needs over TLS.
pub fn function_env() -> Vec<(String, String)> {
    if enabled() {
        let trust = std::env::var("SSL_CERT_FILE")
            .expect("SSL_CERT_FILE is set with the TLS stack env (localstack/env.sh)");
        // SSL_CERT_DIR empty: the one bundle only, as on Lambda (where
        // neither is set and openssl-probe finds one bundle file). A
        // directory inherited from the developer's shell would be read as
        // well, which costs about 8 ms of CPU at every cold start
        // (docs/BENCHMARKS.md).
        vec![
            ("SSL_CERT_FILE".to_owned(), trust),
            ("SSL_CERT_DIR".to_owned(), String::new()),
        ]
    } else {
        vec![(
            broker_core::AccessSettings::ALLOW_INSECURE_HTTP_VAR.to_owned(),
            "1".to_owned(),
        )]
    }
}

/// A connection a test server reads and writes: TLS or plain TCP.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Accept `tcp` as the stack's transport says: the TLS handshake with the
/// stack's certificate, or the plain stream. `None` if the handshake failed
/// (a client that does not trust the CA hangs up: nothing to serve).
pub async fn accept(tcp: tokio::net::TcpStream) -> Option<Box<dyn Stream>> {
    match acceptor() {
        Some(a) => {
            let tls = a.accept(tcp).await.ok()?;
            let counter = match tls.get_ref().1.handshake_kind() {
                Some(rustls::HandshakeKind::Resumed) => &RESUMED,
                _ => &FULL,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            Some(Box::new(tls))
        }
        None => Some(Box::new(tcp)),
    }
}

static FULL: AtomicUsize = AtomicUsize::new(0);
static RESUMED: AtomicUsize = AtomicUsize::new(0);

/// TLS handshakes completed by this process's test servers so far:
/// `(full, resumed)`. A client that reconnects with a session ticket from
/// an earlier connection counts as resumed (what the benchmark reports).
pub fn handshakes() -> (usize, usize) {
    (
        FULL.load(Ordering::Relaxed),
        RESUMED.load(Ordering::Relaxed),
    )
}

/// Serve HTTP/1.1 on `listener` (over TLS when the stack is), answering
/// each request with `route`: the accept loop of the suite's hyper-based
/// upstreams. Abort the returned task to stop.
pub fn serve<F, Fut>(listener: tokio::net::TcpListener, route: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>>
        + Send
        + 'static,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let route = route.clone();
            tokio::spawn(async move {
                let Some(stream) = accept(stream).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req| {
                    let answer = route(req);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
