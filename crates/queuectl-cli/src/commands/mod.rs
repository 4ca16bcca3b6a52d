//! One module per command; each turns parsed arguments into library calls
//! and hands the results to `render`.

mod config;
mod dashboard;
mod demo;
mod dlq;
mod enqueue;
mod inspect;
mod list;
mod status;
mod transfer;
pub(crate) mod worker;

use queue_core::JobId;

use crate::cli::{Cli, Command, WorkerCommand};
use crate::failure::UsageError;

pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    let db = cli.db.as_deref();
    match cli.command {
        Command::Init => {
            let (_, name) = crate::database::Database::choose(db)?.open()?;
            crate::render::print(&name)
        }
        Command::Enqueue(args) => enqueue::run(db, args),
        Command::Worker(WorkerCommand::Start(args)) | Command::StartWorkers(args) => {
            worker::start(db, &args)
        }
        Command::Worker(WorkerCommand::Stop(args)) => worker::stop(db, &args),
        Command::Status(args) => status::run(db, &args),
        Command::List(args) => list::run(db, &args),
        Command::Inspect(args) => inspect::run(db, &args),
        Command::Dlq(command) => dlq::run(db, command),
        Command::Config(command) => config::run(db, command),
        Command::Demo(args) => demo::run(db, &args),
        Command::Dashboard(args) => dashboard::run(db, args),
        Command::Export(args) => transfer::export(db, &args),
        Command::Import(args) => transfer::import(db, &args),
    }
}

/// Parses a job id typed by the user.
fn job_id(text: &str) -> anyhow::Result<JobId> {
    JobId::new(text).map_err(|err| UsageError(err.to_string()).into())
}
