//! The MCP server: lists the two tools and turns calls into broker
//! invocations.
//!
//! Failures are kept in two kinds. A request the server cannot route (an
//! unknown tool) is a JSON-RPC protocol error. Everything a tool ran and
//! failed at, including arguments that do not match its schema, is a tool
//! result with `isError: true`, the broker's error type and retry advice,
//! so the model can read it and act (MCP's rule for tool errors).
//!
//! Nothing here ever holds a credential: the broker injects it on its side
//! and scrubs what comes back. Logs name the tool, the secret, the method
//! and the outcome, never headers, bodies or URLs' query strings.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tokio::sync::RwLock;

use crate::broker::{Broker, SecretEntry, UpstreamRequest};
use crate::tools::{self, HttpRequestArgs, ListSecretsArgs};

/// Shared by every session (the HTTP transport makes one handler per
/// session): the broker client and the last catalog seen.
#[derive(Debug)]
pub struct State {
    broker: Broker,
    catalog: RwLock<Option<Vec<SecretEntry>>>,
}

impl State {
    /// State for `broker`, with no catalog yet.
    pub fn new(broker: Broker) -> Arc<Self> {
        Arc::new(Self {
            broker,
            catalog: RwLock::new(None),
        })
    }

    /// Fetch the catalog and remember it; returns whether it changed. A
    /// failure keeps the previous one (tool descriptions then say less).
    pub async fn refresh(&self) -> Result<bool, crate::broker::BrokerFailure> {
        let fresh = self.broker.list_secrets().await?;
        let mut cached = self.catalog.write().await;
        let changed = cached.as_ref() != Some(&fresh);
        *cached = Some(fresh);
        Ok(changed)
    }
}

/// One MCP session's handler.
#[derive(Debug, Clone)]
pub struct KeybrokerMcp {
    state: Arc<State>,
}

impl KeybrokerMcp {
    /// A handler over shared `state`.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    async fn http_request(&self, args: HttpRequestArgs) -> rmcp::model::CallToolResult {
        let request = UpstreamRequest {
            method: args.method.clone(),
            url: args.url.clone(),
            headers: args.headers.clone(),
            body: args.body.clone(),
            ..UpstreamRequest::default()
        };
        let result = self.state.broker.inject(&args.secret, request).await;
        match result {
            Ok(answer) => {
                tracing::info!(tool = tools::HTTP_REQUEST, secret = %args.secret, method = %args.method, status = ?answer.status, request_id = %answer.request_id, "ok");
                tools::ok_result(tools::http_response(&answer))
            }
            Err(f) => {
                tracing::info!(tool = tools::HTTP_REQUEST, secret = %args.secret, method = %args.method, error = %f, "refused");
                tools::failure_result(&f)
            }
        }
    }

    async fn list_secrets(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> rmcp::model::CallToolResult {
        match self.state.refresh().await {
            Ok(changed) => {
                if changed {
                    // The http_request description lists the secrets.
                    if let Err(e) = context.peer.notify_tool_list_changed().await {
                        tracing::warn!(error = %e, "could not send tools/list_changed");
                    }
                }
                let secrets = self.state.catalog.read().await.clone().unwrap_or_default();
                tracing::info!(tool = tools::LIST_SECRETS, count = secrets.len(), "ok");
                tools::ok_result(serde_json::json!({
                    "workspace": self.state.broker.workspace(),
                    "secrets": secrets,
                }))
            }
            Err(f) => {
                tracing::info!(tool = tools::LIST_SECRETS, error = %f, "refused");
                tools::failure_result(&f)
            }
        }
    }
}

impl ServerHandler for KeybrokerMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            "keybroker-mcp",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(format!(
            "Tools of keybroker for workspace {}: http_request makes one HTTP request with a \
             stored credential injected by the broker (you never see it); list_secrets shows \
             which secrets exist and which hosts each may be sent to.",
            self.state.broker.workspace()
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let catalog = self.state.catalog.read().await;
        Ok(ListToolsResult::with_all_items(tools::tools(
            self.state.broker.workspace(),
            catalog.as_deref(),
        )))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let result = match request.name.as_ref() {
            tools::HTTP_REQUEST => match tools::parse_args::<HttpRequestArgs>(request.arguments) {
                Ok(args) => self.http_request(args).await,
                Err(why) => tools::invalid_arguments(&why),
            },
            tools::LIST_SECRETS => match tools::parse_args::<ListSecretsArgs>(request.arguments) {
                Ok(ListSecretsArgs {}) => self.list_secrets(&context).await,
                Err(why) => tools::invalid_arguments(&why),
            },
            other => {
                return Err(ErrorData::invalid_params(
                    format!("unknown tool {other:?}"),
                    None,
                ))
            }
        };
        Ok(result.into())
    }
}
