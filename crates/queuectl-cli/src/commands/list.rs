//! `queuectl list`: a page of jobs, optionally in one state.

use std::path::Path;

use queue_store::JobQuery;

use crate::cli::ListArgs;
use crate::render;

pub(super) fn run(db: Option<&Path>, args: &ListArgs) -> anyhow::Result<()> {
    let store = crate::database::open(db)?;
    let query = JobQuery {
        state: args.state,
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
