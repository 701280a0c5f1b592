//! `keybroker`, the operator CLI. Every operation is one Lambda `Invoke` of
//! the deployed `admin` function (or `inject`, to test a binding): IAM on
//! the functions stays the gate, and the CLI holds no table or KMS access.
//!
//! Modules, one concern each: [`args`] (the command line), [`ops`] (each
//! subcommand's request), [`input`] (values and policies from files or
//! stdin, zeroized), [`invoke`] (the Lambda call and its reply), [`render`]
//! (tables), [`exit`] (exit codes per error type), [`pages`] (paginated,
//! resumable operations with a progress bar), [`sweep`] (the paginated
//! operations `rewrap` and `check-workspace` on it).

pub mod args;
pub mod error;
pub mod exit;
pub mod input;
pub mod invoke;
pub mod oauth2;
pub mod ops;
pub mod pages;
pub mod plan;
pub mod render;
pub mod sweep;

use std::io::Write;

use args::Cli;
use error::CliError;
use invoke::{Broker, Target};
use plan::View;

/// Run one parsed command line; returns the exit code. Output goes to
/// stdout (tables or `--json`), diagnostics to stderr.
pub async fn run(cli: Cli) -> u8 {
    match execute(&cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keybroker: {e}");
            e.exit_code()
        }
    }
}

async fn execute(cli: &Cli) -> Result<u8, CliError> {
    // Inputs are read (and checked) before anything is sent.
    let plan = ops::plan(&cli.command)?;
    let broker = Broker::connect(&Target {
        admin: cli.admin_function.clone(),
        inject: cli.inject_function.clone(),
        endpoint_url: cli.endpoint_url.clone(),
        region: cli.region.clone(),
        profile: cli.profile.clone(),
    })
    .await;
    if let Some(done) = sweep::run(&cli.command, &broker, cli.json).await {
        return done;
    }
    let reply = broker.invoke(plan.function, &plan.payload).await?;
    drop(plan.payload); // wiped now, not at exit
    if cli.json {
        let mut out = reply.raw.clone();
        out.push(b'\n');
        print(&out);
    }
    if let Some(e) = reply.error() {
        return Err(e);
    }
    if cli.json {
        return verify_code(plan.view, &reply);
    }
    let text = match plan.view {
        View::Record | View::Verify => render::record(&reply.json["result"]),
        View::SecretTable => render::secret_table(&reply.json["result"]),
        View::Injection => render::injection(&reply.json),
    };
    print(text.as_bytes());
    verify_code(plan.view, &reply)
}

/// `verify-byok` reports a broken link as a successful reply; its exit code
/// is that link's error type's, so scripts can alert on it.
fn verify_code(view: View, reply: &invoke::Reply) -> Result<u8, CliError> {
    if view != View::Verify {
        return Ok(exit::OK);
    }
    let report: keybroker_contract::reply::VerifyReport = reply.result("admin")?;
    let Some(step) = report.failed_step else {
        return Ok(exit::OK);
    };
    let kind = report
        .error_kind
        .unwrap_or(keybroker_contract::ErrorType::Other(String::new()));
    eprintln!("keybroker: BYOK verification failed at {step}: {kind}");
    Ok(exit::for_type(kind.as_str()))
}

pub(crate) fn print(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}
