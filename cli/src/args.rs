//! The command line. Subcommands are the admin operations, named as on the
//! wire with `-` for `_` (`put-secret` is `put_secret`), plus `inject`.
//! There is deliberately no flag that takes a secret value: values come from
//! `--value-file` or `--value-stdin` only.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::input::Source;

/// keybroker operator CLI: runs admin operations (and test injections)
/// through the deployed functions' Lambda Invoke API, so IAM on the
/// functions decides who may do what. It never reads the table or calls KMS.
#[derive(Debug, Parser)]
// A later global flag overrides an earlier one (a wrapper script's defaults
// can be overridden on its command line).
#[command(name = "keybroker", version, args_override_self = true, after_long_help = crate::exit::help_text())]
pub struct Cli {
    /// Print the function's JSON reply unchanged instead of a table.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Admin function name or ARN.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KEYBROKER_ADMIN_FUNCTION",
        default_value = "keybroker-admin"
    )]
    pub admin_function: String,
    /// Inject function name or ARN.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KEYBROKER_INJECT_FUNCTION",
        default_value = "keybroker-inject"
    )]
    pub inject_function: String,
    /// Lambda endpoint, e.g. the local runner (`http://127.0.0.1:9001`).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KEYBROKER_ENDPOINT_URL"
    )]
    pub endpoint_url: Option<String>,
    /// AWS region of the functions (default: the AWS configuration's).
    #[arg(long, global = true, help_heading = "Global options")]
    pub region: Option<String>,
    /// Named profile of the shared AWS configuration.
    #[arg(long, global = true, help_heading = "Global options")]
    pub profile: Option<String>,
    /// The operation.
    #[command(subcommand)]
    pub command: Command,
}

/// One subcommand per operation. To add an admin operation: one arm here and
/// one request mapping in `ops::plan`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the workspace (if new) and print its external id for the customer.
    PrepareByok(Workspace),
    /// Verify the customer's role and key, then store them.
    EnableByok(EnableByok),
    /// Run the BYOK canary round trip; exits with the failed link's error code.
    VerifyByok(Workspace),
    /// Send new and rotated secrets back to the platform key.
    DisableByok(Workspace),
    /// Store a new secret (value from --value-file or --value-stdin) with its binding.
    PutSecret(PutSecret),
    /// Re-encrypt a secret under the workspace's current key, optionally with a new value.
    RotateSecret(RotateSecret),
    /// Delete a secret.
    DeleteSecret(SecretRef),
    /// List the workspace's secrets (metadata only, never values).
    ListSecrets(Workspace),
    /// Replace the workspace's Cedar policy (from --policy-file or --policy-stdin).
    SetPolicy(SetPolicy),
    /// Set the workspace's injection limits, or --clear them (back to the deployment default).
    SetLimits(SetLimits),
    /// Reset a secret's probe breaker after reviewing its probe events: it can be injected again.
    ClearBreaker(SecretRef),
    /// Set a secret's probe budget (1 to 1000), or --default for the deployment's.
    SetProbeBudget(SetProbeBudget),
    /// Make one request through the inject function, to test a binding and policy.
    Inject(Inject),
    /// Move every secret of the workspace to its current key, page by page (resumable).
    Rewrap(Rewrap),
    /// Probe each key of a workspace (or, with --all, of every workspace) and update statuses.
    CheckWorkspace(CheckWorkspace),
    /// Start connecting an OAuth 2.0 secret: prints the URL to send the user to.
    #[command(name = "start-oauth2")]
    StartOAuth2(StartOAuth2),
    /// Finish it with the URL the provider redirected to: the broker exchanges the code itself.
    #[command(name = "complete-oauth2")]
    CompleteOAuth2(CompleteOAuth2),
}

/// `start-oauth2`.
#[derive(Debug, Args)]
pub struct StartOAuth2 {
    /// The secret.
    #[command(flatten)]
    pub secret: SecretRef,
    /// Where the access token may be sent and how.
    #[command(flatten)]
    pub binding: BindingArgs,
    /// The provider's token endpoint (part of the binding).
    #[arg(long)]
    pub token_endpoint: String,
    /// The OAuth client id.
    #[arg(long)]
    pub client_id: String,
    /// Scope to ask for.
    #[arg(long)]
    pub scope: Option<String>,
    /// The provider's authorization endpoint.
    #[arg(long)]
    pub authorization_endpoint: String,
    /// The redirect URI registered for the client.
    #[arg(long)]
    pub redirect_uri: String,
    /// Read a per-customer client secret from this file.
    #[arg(long, conflicts_with = "client_secret_stdin")]
    pub client_secret_file: Option<PathBuf>,
    /// Read a per-customer client secret from stdin.
    #[arg(long)]
    pub client_secret_stdin: bool,
}

/// `complete-oauth2`.
#[derive(Debug, Args)]
pub struct CompleteOAuth2 {
    /// The secret.
    #[command(flatten)]
    pub secret: SecretRef,
    /// Read the URL the provider redirected to (code and state) from this file.
    #[arg(long, conflicts_with = "callback_stdin")]
    pub callback_file: Option<PathBuf>,
    /// Read it from stdin.
    #[arg(long)]
    pub callback_stdin: bool,
}

/// A workspace.
#[derive(Debug, Args)]
pub struct Workspace {
    /// Workspace id.
    #[arg(long, short = 'w', env = "KEYBROKER_WORKSPACE")]
    pub workspace: String,
}

/// A secret of a workspace.
#[derive(Debug, Args)]
pub struct SecretRef {
    /// The workspace.
    #[command(flatten)]
    pub ws: Workspace,
    /// Secret name.
    #[arg(long, short = 's')]
    pub secret: String,
}

/// `enable-byok`.
#[derive(Debug, Args)]
pub struct EnableByok {
    /// The workspace.
    #[command(flatten)]
    pub ws: Workspace,
    /// The customer's role ARN (terraform output `role_arn`).
    #[arg(long)]
    pub role_arn: String,
    /// The customer's key ARN (terraform output `key_arn`).
    #[arg(long)]
    pub key_arn: String,
    /// The key's region (default: the key ARN's).
    #[arg(long = "key-region")]
    pub key_region: Option<String>,
}

/// Where a secret value comes from (exactly one, for `put-secret`).
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ValueFrom {
    /// Read the value from this file (one trailing newline is removed).
    #[arg(long)]
    pub value_file: Option<PathBuf>,
    /// Read the value from stdin (one trailing newline is removed).
    #[arg(long)]
    pub value_stdin: bool,
}

impl ValueFrom {
    /// The source, if one was given.
    pub fn source(&self) -> Option<Source> {
        Source::from_flags(self.value_file.clone(), self.value_stdin)
    }
}

/// `put-secret`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("value_source").required(true).args(["value_file", "value_stdin"])))]
pub struct PutSecret {
    /// The secret.
    #[command(flatten)]
    pub secret: SecretRef,
    /// Its value.
    #[command(flatten)]
    pub value: ValueFrom,
    /// Where it may be sent.
    #[command(flatten)]
    pub binding: BindingArgs,
}

/// How the binding is given: a JSON file, or flags.
#[derive(Debug, Args)]
pub struct BindingArgs {
    /// The whole binding as JSON (docs/INVOCATION.md "Bindings"); excludes the flags below.
    #[arg(long, conflicts_with_all = ["host", "header", "template", "basic_auth", "query_param", "agent_header", "on_echo"])]
    pub binding_file: Option<PathBuf>,
    /// A host (optionally `host:port`) the secret may be sent to; repeat for more.
    #[arg(long)]
    pub host: Vec<String>,
    /// Inject into this header, with --template.
    #[arg(long, conflicts_with_all = ["basic_auth", "query_param"])]
    pub header: Option<String>,
    /// Header value template containing `{secret}` once.
    #[arg(long, default_value = "Bearer {secret}", requires = "header")]
    pub template: String,
    /// Inject as Basic auth with this user name.
    #[arg(long, conflicts_with = "query_param")]
    pub basic_auth: Option<String>,
    /// Inject as this query parameter.
    #[arg(long)]
    pub query_param: Option<String>,
    /// The only header an agent may send with this secret; repeat for more.
    #[arg(long)]
    pub agent_header: Vec<String>,
    /// What to do when the upstream echoes the credential.
    #[arg(long, value_enum)]
    pub on_echo: Option<OnEcho>,
}

/// `on_echo` of a binding.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnEcho {
    /// Return only the status and `echo_withheld` (the default).
    Withhold,
    /// Replace each occurrence with `[REDACTED]` (weaker).
    Redact,
}

/// `rotate-secret`.
#[derive(Debug, Args)]
pub struct RotateSecret {
    /// The secret.
    #[command(flatten)]
    pub secret: SecretRef,
    /// A new value (else the current one is re-encrypted).
    #[command(flatten)]
    pub value: ValueFrom,
    /// Only rotate if the stored version is this one (`conflict` otherwise).
    #[arg(long)]
    pub expected_version: Option<u64>,
}

/// `set-policy`.
#[derive(Debug, Args)]
pub struct SetPolicy {
    /// The workspace.
    #[command(flatten)]
    pub ws: Workspace,
    /// Read the Cedar policy from this file.
    #[arg(
        long,
        required_unless_present = "policy_stdin",
        conflicts_with = "policy_stdin"
    )]
    pub policy_file: Option<PathBuf>,
    /// Read the Cedar policy from stdin.
    #[arg(long)]
    pub policy_stdin: bool,
}

/// `set-limits`: fixed windows; a count left out is unlimited.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("limits_change").required(true).args(["workspace_limit", "agent_limit", "clear"]).multiple(true)))]
pub struct SetLimits {
    /// The workspace.
    #[command(flatten)]
    pub ws: Workspace,
    /// Window length in seconds (1 to 3600).
    #[arg(long, default_value_t = 60, conflicts_with = "clear")]
    pub window_seconds: u32,
    /// Injections per window for the whole workspace (0 refuses all).
    #[arg(long, conflicts_with = "clear")]
    pub workspace_limit: Option<u64>,
    /// Injections per window for each agent name.
    #[arg(long, conflicts_with = "clear")]
    pub agent_limit: Option<u64>,
    /// Remove the workspace's own limits: the deployment default applies.
    #[arg(long)]
    pub clear: bool,
}

/// `set-probe-budget`: exactly one of `--budget` and `--default`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("budget_change").required(true).args(["budget", "default"])))]
pub struct SetProbeBudget {
    /// The secret.
    #[command(flatten)]
    pub secret: SecretRef,
    /// Probe events the secret may see before it is quarantined (1 to 1000).
    #[arg(long)]
    pub budget: Option<u32>,
    /// Remove the secret's own budget: the deployment's applies.
    #[arg(long)]
    pub default: bool,
}

/// `inject`.
#[derive(Debug, Args)]
pub struct Inject {
    /// The secret.
    #[command(flatten)]
    pub secret: SecretRef,
    /// The agent identity to assert.
    #[arg(long)]
    pub agent: String,
    /// HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// Absolute URL; its host must be bound to the secret.
    #[arg(long)]
    pub url: String,
    /// Extra header `Name: value`; repeat for more.
    #[arg(long = "request-header", short = 'H')]
    pub headers: Vec<String>,
    /// Request body (UTF-8) from this file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Timeout for the upstream request, in milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
}

/// `rewrap`.
#[derive(Debug, Args)]
pub struct Rewrap {
    /// The workspace.
    #[command(flatten)]
    pub ws: Workspace,
    /// Secrets per page (one admin invocation each; default 25, at most 200).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Allow moving secrets from the customer's key to the platform key,
    /// out of the customer's revocation reach (recorded in the admin audit).
    #[arg(long)]
    pub allow_leaving_customer_key: bool,
    /// Continue an interrupted run from this token (printed when it stopped).
    #[arg(long)]
    pub resume: Option<String>,
}

/// `check-workspace`.
#[derive(Debug, Args)]
pub struct CheckWorkspace {
    /// Workspace id.
    #[arg(
        long,
        short = 'w',
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub workspace: Option<String>,
    /// Check every workspace in the table, page by page.
    #[arg(long)]
    pub all: bool,
    /// Workspaces per page with --all (default 25, at most 200).
    #[arg(long, requires = "all")]
    pub limit: Option<u32>,
    /// Continue an interrupted --all run from this token.
    #[arg(long, requires = "all")]
    pub resume: Option<String>,
}
