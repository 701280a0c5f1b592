//! What can go wrong in the CLI, each with its exit code. Messages never
//! contain a secret value: input errors name the source, not the content,
//! and broker errors carry the broker's own message (which never holds one).

use keybroker_contract::client::{ClientError, TransportError};

use crate::exit;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A value or policy could not be read.
    #[error("cannot read the {what} from {origin}: {reason}")]
    Input {
        /// `value` or `policy`.
        what: &'static str,
        /// `stdin` or the path.
        origin: String,
        /// Why (never the content).
        reason: String,
    },
    /// A flag's content is unusable (a `--binding-file` that is not JSON).
    #[error("{flag}: {reason}")]
    Argument {
        /// The flag.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// The Lambda `Invoke` call itself failed.
    #[error("invoking {function} failed: {detail}")]
    Invoke {
        /// Function name.
        function: String,
        /// The SDK's error, with its code when AWS sent one.
        detail: String,
    },
    /// The AWS configuration cannot work (no credentials, no region):
    /// one line naming the fix, never an SDK dump.
    #[error("{fix}")]
    NotConfigured {
        /// What to set.
        fix: String,
    },
    /// The function raised an error or did not answer the broker's JSON.
    #[error("{function} answered something unexpected: {detail}")]
    BadReply {
        /// Function name.
        function: String,
        /// What was wrong.
        detail: String,
    },
    /// The broker answered `ok: false` with a typed error.
    #[error("{kind}: {message}")]
    Broker {
        /// The error `type`.
        kind: String,
        /// The broker's message.
        message: String,
    },
    /// A paginated operation stopped part-way; it can be resumed.
    #[error("{cause} (resume with --resume '{resume}')")]
    Interrupted {
        /// Why it stopped.
        cause: Box<CliError>,
        /// The resume token of the last completed page.
        resume: String,
    },
}

impl CliError {
    /// The process exit code (the table in [`crate::exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Input { .. } | Self::Argument { .. } => exit::LOCAL_INPUT,
            Self::Invoke { .. } | Self::NotConfigured { .. } => exit::INVOKE_FAILED,
            Self::BadReply { .. } => exit::BAD_REPLY,
            Self::Broker { kind, .. } => exit::for_type(kind),
            Self::Interrupted { cause, .. } => cause.exit_code(),
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Refused { body, .. } => Self::Broker {
                kind: body.kind.as_str().to_owned(),
                message: body.message,
            },
            ClientError::Transport {
                source: TransportError::NotConfigured { fix },
                ..
            } => Self::NotConfigured { fix },
            ClientError::Transport { function, source } => Self::Invoke {
                function,
                detail: source.to_string(),
            },
            // Name the error kind only: a function error's message is not
            // the broker's vetted reply.
            ClientError::FunctionFailed { function, kind } => Self::BadReply {
                function,
                detail: format!("function error {kind}"),
            },
            ClientError::BadReply { function, detail } => Self::BadReply { function, detail },
            ClientError::Unserialisable => Self::Argument {
                flag: "request",
                reason: "cannot be serialized".to_owned(),
            },
        }
    }
}
