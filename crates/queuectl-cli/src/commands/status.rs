//! `queuectl status`: counts per state and the workers that are alive.

use std::path::Path;

use crate::cli::OutputArgs;
use crate::render;

pub(super) fn run(db: Option<&Path>, args: &OutputArgs) -> anyhow::Result<()> {
    let store = crate::database::open(db)?;
    let counts = store.counts()?;
    let workers = super::worker::live(store.as_ref())?;
    if args.json {
        render::print_json(&serde_json::json!({ "counts": counts, "workers": workers }))
    } else {
        render::print(&render::status(&counts, &workers))
    }
}
