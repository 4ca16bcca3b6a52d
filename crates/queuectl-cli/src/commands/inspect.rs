//! `queuectl inspect`: everything about one job.

use std::path::Path;

use queue_store::StoreError;

use crate::cli::InspectArgs;
use crate::render;

pub(super) fn run(db: Option<&Path>, args: &InspectArgs) -> anyhow::Result<()> {
    let id = super::job_id(&args.id)?;
    let store = crate::database::open(db)?;
    let job = store.job(&id)?.ok_or(StoreError::NotFound(id.clone()))?;
    let history = store.attempts(&id)?;
    if args.json {
        render::print_json(&render::Inspection::new(&job, &history))
    } else {
        render::print(&render::job_detail(&job, &history))
    }
}
