//! `queuectl dashboard`: checks the address and token, opens the store and
//! hands both to the web server.

use std::path::Path;

use crate::cli::DashboardArgs;
use crate::dashboard::{self, Options};
use crate::failure::UsageError;

/// The shortest token accepted: guessing one of 16 random characters over
/// the network is out of reach, and a shorter one is likely a placeholder.
const MIN_TOKEN_CHARS: usize = 16;

pub(super) fn run(db: Option<&Path>, args: DashboardArgs) -> anyhow::Result<()> {
    let token = args.token.filter(|token| !token.is_empty());
    if let Some(token) = &token {
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(UsageError(format!(
                "the dashboard token must be at least {MIN_TOKEN_CHARS} characters long"
            ))
            .into());
        }
    }
    if token.is_none() && !args.bind.ip().is_loopback() {
        return Err(UsageError(format!(
            "--bind {} is not a loopback address, so the dashboard needs a token: pass \
             --token or set QUEUECTL_DASHBOARD_TOKEN",
            args.bind
        ))
        .into());
    }
    let (store, name) = crate::database::Database::choose(db)?.open()?;
    dashboard::serve(
        store,
        Options {
            bind: args.bind,
            token,
            open: args.open,
            queue_name: name,
        },
    )
}
