//! `queuectl dlq`: the jobs that failed for good, and bringing them back.

use std::path::Path;

use queue_core::JobState;
use queue_store::JobQuery;

use crate::cli::DlqCommand;
use crate::render;

pub(super) fn run(db: Option<&Path>, command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List(args) => {
            let store = crate::database::open(db)?;
            let query = JobQuery {
                state: Some(JobState::Dead),
                limit: usize::try_from(args.limit).unwrap_or(usize::MAX),
                ..JobQuery::default()
            };
            let jobs = store.list(&query)?;
            if args.json {
                render::print_json(&jobs)
            } else {
                render::print(&render::jobs(&jobs))
            }
        }
        DlqCommand::Retry(args) => {
            let id = super::job_id(&args.id)?;
            let store = crate::database::open(db)?;
            let job = store.revive(&id)?;
            render::print(&format!("job {} is {} again", job.id, job.state))
        }
    }
}
