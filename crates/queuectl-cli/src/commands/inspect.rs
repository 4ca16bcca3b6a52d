//! `queuectl inspect`: everything about one job.

use std::path::Path;

use queue_core::{AttemptRecord, Job};
use queue_store::StoreError;
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::render;

/// The JSON form: the job's fields, its duration and its attempt timeline.
#[derive(Serialize)]
struct Inspection<'a> {
    #[serde(flatten)]
    job: &'a Job,
    duration_ms: Option<i64>,
    history: &'a [AttemptRecord],
}

pub(super) fn run(db: Option<&Path>, args: &InspectArgs) -> anyhow::Result<()> {
    let id = super::job_id(&args.id)?;
    let store = crate::database::open(db)?;
    let job = store.job(&id)?.ok_or(StoreError::NotFound(id.clone()))?;
    let history = store.attempts(&id)?;
    if args.json {
        let duration_ms = job.duration().map(|d| d.num_milliseconds());
        render::print_json(&Inspection {
            job: &job,
            duration_ms,
            history: &history,
        })
    } else {
        render::print(&render::job_detail(&job, &history))
    }
}
