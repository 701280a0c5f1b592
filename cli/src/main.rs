//! The `keybroker` binary: parse, run, exit with the documented code.

use std::process::ExitCode;

use clap::Parser;
use keybroker_cli::args::Cli;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(
                u8::try_from(e.exit_code()).unwrap_or(keybroker_cli::exit::USAGE),
            );
        }
    };
    ExitCode::from(keybroker_cli::run(cli).await)
}
