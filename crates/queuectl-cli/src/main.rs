//! `queuectl`: the command-line face of the queue.
//!
//! This crate is glue. It parses arguments, opens the store, calls the
//! libraries and renders what they return. It is the only crate that prints,
//! installs a log subscriber or chooses an exit code. The web dashboard
//! lives here too, as one more way of showing what the store holds.

mod cli;
mod commands;
mod dashboard;
mod database;
mod failure;
mod render;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
            // Help and version go to stdout with code 0, as does the help
            // shown for a bare group of commands; a usage error is one line.
            if err.use_stderr() && err.kind() != ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let line = failure::usage_line(&err.render().to_string());
                let _ = writeln!(std::io::stderr().lock(), "queuectl: {line}");
            } else {
                let _ = err.print();
            }
            return code;
        }
    };
    install_logging();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let failure = failure::classify(&err);
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "queuectl: {}", failure::one_line(&err));
            ExitCode::from(failure as u8)
        }
    }
}

/// Logs go to stderr. `RUST_LOG` chooses what is shown; by default, the
/// workers' lifecycle and two lines per job, as it starts and as it ends.
fn install_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,queuectl=info,queue_worker=info,queue_worker::pool=debug")
    });
    let ansi = std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}
