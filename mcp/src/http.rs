//! Streamable HTTP transport: the SDK's service behind a small hyper
//! server. Loopback by default; `Host` is checked against loopback names
//! (DNS rebinding), any browser `Origin` is refused, and a bearer token is
//! always required: the configured one, or one generated at start into a
//! 0600 file ([`crate::token_file`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::config::HttpToken;
use crate::server::{KeybrokerMcp, State};
use crate::token_file;

/// Serve MCP over streamable HTTP on `bind` until the process is stopped.
/// The bound address is logged (port 0 picks a free one). Without a
/// configured `token`, one is generated into `token_file` (or the default
/// path for the bound port) before the first connection is accepted, and
/// the file's path is logged.
pub async fn serve(
    state: Arc<State>,
    bind: SocketAddr,
    allowed_hosts: Vec<String>,
    token: Option<HttpToken>,
    token_file: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = StreamableHttpServerConfig::default().enforce_origin_validation();
    if !allowed_hosts.is_empty() {
        config = config.with_allowed_hosts(allowed_hosts);
    }
    let service = Arc::new(StreamableHttpService::new(
        move || Ok(KeybrokerMcp::new(state.clone())),
        LocalSessionManager::default().into(),
        config,
    ));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let local = listener.local_addr()?;
    let token = match token {
        Some(t) => t,
        None => {
            let (path, make_dir) = match token_file {
                Some(p) => (p, false),
                None => (
                    token_file::default_path(|k| std::env::var(k).ok(), local.port())
                        .ok_or(token_file::TokenFileError::NoPath)?,
                    true,
                ),
            };
            let t = token_file::generate(&path, make_dir)?;
            tracing::info!(token_file = %path.display(), "bearer token generated (mode 0600)");
            t
        }
    };
    tracing::info!(address = %local, path = "/mcp", "listening (streamable HTTP)");
    let token = Arc::new(token);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let (service, token) = (service.clone(), token.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (service, token) = (service.clone(), token.clone());
                async move {
                    if !authorized(&token, &req) {
                        return Ok::<_, Infallible>(unauthorized());
                    }
                    if req.uri().path() != "/mcp" {
                        return Ok(status(StatusCode::NOT_FOUND, "not found: use /mcp"));
                    }
                    Ok(service.handle(req).await)
                }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}

fn authorized(token: &HttpToken, req: &Request<Incoming>) -> bool {
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|v| token.accepts(v.as_bytes()))
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn status(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *r.status_mut() = code;
    r
}

fn unauthorized() -> Response<Body> {
    let mut r = status(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    r.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        hyper::header::HeaderValue::from_static("Bearer"),
    );
    r
}
