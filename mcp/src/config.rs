//! Server configuration: who the server acts for and how it is reached.
//!
//! The workspace and the agent identity are fixed here, by whoever starts
//! the server (the agent runtime), and never taken from a tool call: a model
//! that could name the workspace could spend another tenant's credentials.
//! Flags win over environment variables; the HTTP bearer token is read from
//! the environment only, so it never shows up in a process listing.

use std::net::SocketAddr;

/// Default name of the inject function (`infra/`'s default prefix).
pub const DEFAULT_FUNCTION: &str = "keybroker-inject";
/// Default streamable HTTP listen address: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:8931";
/// Environment variable holding the HTTP transport's bearer token.
pub const TOKEN_ENV: &str = "KEYBROKER_MCP_HTTP_TOKEN";

/// How MCP clients reach the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// JSON-RPC over stdin/stdout (local clients launch the server).
    Stdio,
    /// Streamable HTTP on this address.
    Http {
        /// Listen address.
        bind: SocketAddr,
        /// `Host` header values accepted (DNS-rebinding defence); empty: the
        /// SDK's loopback defaults.
        allowed_hosts: Vec<String>,
    },
}

/// The bearer token HTTP clients must present. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpToken(String);

impl HttpToken {
    /// Whether `presented` (an `Authorization` header value) carries this
    /// token. Compares every byte, whatever matches first.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let Some(token) = presented.strip_prefix(b"Bearer ") else {
            return false;
        };
        let want = self.0.as_bytes();
        if token.len() != want.len() {
            return false;
        }
        token
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for HttpToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpToken([redacted])")
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The workspace every call is made in.
    pub workspace: String,
    /// The agent identity every call asserts.
    pub agent: String,
    /// Inject function name or ARN.
    pub function: String,
    /// Transport.
    pub transport: Transport,
    /// Required bearer token for HTTP, if set.
    pub http_token: Option<HttpToken>,
}

/// A configuration mistake, named.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required setting is missing.
    #[error("{0} is required (flag --{1} or environment variable {2})")]
    Missing(&'static str, &'static str, &'static str),
    /// An unknown flag or a flag without its value.
    #[error("bad argument {0:?}; run with --help")]
    BadArgument(String),
    /// A value that cannot be right.
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
    /// A non-loopback HTTP bind without a token: anyone who can reach the
    /// port could spend the workspace's credentials.
    #[error(
        "--bind {0} is not a loopback address: set {TOKEN_ENV} so that clients must authenticate"
    )]
    PublicWithoutToken(SocketAddr),
}

/// `--help` text.
pub const USAGE: &str = "\
keybroker-mcp: an MCP server whose tools call keybroker's inject function.

USAGE: keybroker-mcp --workspace ID --agent ID [--function NAME] [--transport stdio|http]
                     [--bind ADDR] [--allowed-host HOST]...

  --workspace ID      workspace every call is made in     (KEYBROKER_MCP_WORKSPACE)
  --agent ID          agent identity every call asserts   (KEYBROKER_MCP_AGENT)
  --function NAME     inject function name or ARN         (KEYBROKER_MCP_FUNCTION, default keybroker-inject)
  --transport T       stdio (default) or http             (KEYBROKER_MCP_TRANSPORT)
  --bind ADDR         HTTP listen address                 (KEYBROKER_MCP_BIND, default 127.0.0.1:8931)
  --allowed-host H    accepted Host header (repeatable; default: loopback names)

AWS credentials and region come from the standard AWS chain (AWS_PROFILE,
AWS_REGION, ...); AWS_ENDPOINT_URL_LAMBDA points at another Lambda endpoint.
KEYBROKER_MCP_HTTP_TOKEN: bearer token HTTP clients must send (required for a
non-loopback --bind). Logs go to stderr; RUST_LOG sets the level.
";

impl Config {
    /// Parse `args` (without the program name), falling back to `env`.
    /// `Ok(None)`: `--help` was asked for.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let (mut workspace, mut agent, mut function, mut transport, mut bind) =
            (None, None, None, None, None);
        let mut allowed_hosts = Vec::new();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Ok(None);
            }
            let slot = match flag.as_str() {
                "--workspace" => &mut workspace,
                "--agent" => &mut agent,
                "--function" => &mut function,
                "--transport" => &mut transport,
                "--bind" => &mut bind,
                "--allowed-host" => {
                    let v = args.next().ok_or(ConfigError::BadArgument(flag))?;
                    allowed_hosts.push(v);
                    continue;
                }
                _ => return Err(ConfigError::BadArgument(flag)),
            };
            *slot = Some(args.next().ok_or(ConfigError::BadArgument(flag))?);
        }
        let or_env = |v: Option<String>, var: &str| v.or_else(|| env(var));
        let workspace = or_env(workspace, "KEYBROKER_MCP_WORKSPACE").ok_or(
            ConfigError::Missing("the workspace", "workspace", "KEYBROKER_MCP_WORKSPACE"),
        )?;
        let agent = or_env(agent, "KEYBROKER_MCP_AGENT").ok_or(ConfigError::Missing(
            "the agent identity",
            "agent",
            "KEYBROKER_MCP_AGENT",
        ))?;
        for (what, v) in [("workspace", &workspace), ("agent", &agent)] {
            identity_value(what, v)?;
        }
        let function = or_env(function, "KEYBROKER_MCP_FUNCTION")
            .unwrap_or_else(|| DEFAULT_FUNCTION.to_owned());
        if function.is_empty() {
            return Err(ConfigError::Invalid("function", "empty".into()));
        }
        let http_token = env(TOKEN_ENV).filter(|t| !t.is_empty()).map(HttpToken);
        let transport = match or_env(transport, "KEYBROKER_MCP_TRANSPORT").as_deref() {
            None | Some("stdio") => Transport::Stdio,
            Some("http") => {
                let bind =
                    or_env(bind, "KEYBROKER_MCP_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
                let bind: SocketAddr = bind
                    .parse()
                    .map_err(|_| ConfigError::Invalid("bind address", bind))?;
                if !bind.ip().is_loopback() && http_token.is_none() {
                    return Err(ConfigError::PublicWithoutToken(bind));
                }
                Transport::Http {
                    bind,
                    allowed_hosts,
                }
            }
            Some(other) => return Err(ConfigError::Invalid("transport", other.to_owned())),
        };
        Ok(Some(Self {
            workspace,
            agent,
            function,
            transport,
            http_token,
        }))
    }
}

/// Workspace and agent ids: what the broker accepts (letters, digits and
/// `-_.:@`), checked here too so that a typo fails at start, not per call.
fn identity_value(what: &'static str, v: &str) -> Result<(), ConfigError> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid(what, v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Option<Config>, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::parse(args.iter().map(|s| (*s).to_owned()), move |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn identity_comes_from_flags_or_environment() {
        let c = parse(&["--workspace", "acme", "--agent", "a-1"], &[])
            .unwrap()
            .unwrap();
        assert_eq!((c.workspace.as_str(), c.agent.as_str()), ("acme", "a-1"));
        assert_eq!(c.function, DEFAULT_FUNCTION);
        assert_eq!(c.transport, Transport::Stdio);
        let c = parse(
            &["--agent", "flag"],
            &[
                ("KEYBROKER_MCP_WORKSPACE", "w"),
                ("KEYBROKER_MCP_AGENT", "env"),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!((c.workspace.as_str(), c.agent.as_str()), ("w", "flag"));
        assert_eq!(
            parse(&["--agent", "a"], &[]).unwrap_err(),
            ConfigError::Missing("the workspace", "workspace", "KEYBROKER_MCP_WORKSPACE")
        );
        assert!(parse(&["--workspace", "a b", "--agent", "a"], &[]).is_err());
        assert!(parse(&["--workspace"], &[]).is_err());
        assert!(parse(&["--nope", "x"], &[]).is_err());
        assert!(parse(&["--help"], &[]).unwrap().is_none());
    }

    #[test]
    fn http_binds_loopback_unless_a_token_is_set() {
        let base = ["--workspace", "w", "--agent", "a", "--transport", "http"];
        let c = parse(&base, &[]).unwrap().unwrap();
        assert!(
            matches!(c.transport, Transport::Http { bind, .. } if bind.to_string() == DEFAULT_BIND)
        );
        let public = [&base[..], &["--bind", "0.0.0.0:9000"]].concat();
        assert!(matches!(
            parse(&public, &[]),
            Err(ConfigError::PublicWithoutToken(_))
        ));
        let c = parse(&public, &[(TOKEN_ENV, "t0ken")]).unwrap().unwrap();
        let token = c.http_token.unwrap();
        assert!(token.accepts(b"Bearer t0ken"));
        for bad in [&b"Bearer t0kem"[..], b"Bearer t0ke", b"t0ken", b"Bearer "] {
            assert!(!token.accepts(bad));
        }
        assert_eq!(format!("{token:?}"), "HttpToken([redacted])");
    }
}
