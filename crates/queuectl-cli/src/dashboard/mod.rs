//! The web dashboard behind `queuectl dashboard`: a live view of the queue
//! that can retry dead jobs and cancel waiting ones.
//!
//! Pages are rendered on the server ([`pages`]) and keep themselves current
//! by polling HTML fragments of themselves, with a few lines of embedded
//! JavaScript ([`assets`]); [`api`] serves the same data as JSON. Every read
//! and action goes through the [`Store`] trait, so the dashboard works alike
//! on SQLite and PostgreSQL. Requests are checked by [`security`] before any
//! handler runs.
//!
//! The server is axum on a single-threaded tokio runtime that exists only
//! while this command runs; store calls block, so they run on the runtime's
//! blocking threads and the rest of the program stays thread based.

mod api;
mod assets;
mod error;
mod pages;
mod params;
mod routes;
mod security;
mod snapshot;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use queue_store::Store;

use crate::render;

/// How the dashboard listens and whom it answers.
#[derive(Debug)]
pub(crate) struct Options {
    /// The address to listen on; port 0 picks a free one.
    pub(crate) bind: SocketAddr,
    /// The token every request must carry, if any.
    pub(crate) token: Option<String>,
    /// Whether to open a browser on the dashboard once it listens.
    pub(crate) open: bool,
    /// The queue's name for people: its file or URL without password.
    pub(crate) queue_name: String,
}

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    store: Arc<dyn Store>,
    security: Arc<security::Security>,
    queue_name: Arc<str>,
}

/// Serves the dashboard until the process is stopped. The URL is printed
/// on stdout once the port is bound, so a caller that asked for port 0
/// learns the one it got.
pub(crate) fn serve(store: Arc<dyn Store>, options: Options) -> anyhow::Result<()> {
    // One thread answers requests; the blocking pool runs store calls, and
    // a few of them are plenty for the people looking at one queue.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_name("dashboard")
        .build()
        .context("cannot start the dashboard's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .with_context(|| format!("cannot listen on {}", options.bind))?;
        let address = listener
            .local_addr()
            .context("cannot read the address listened on")?;
        let url = format!("http://{address}/");
        render::print(&url)?;
        render::progress(&format!(
            "dashboard of {} at {url}{}; Ctrl-C stops it",
            options.queue_name,
            if options.token.is_some() {
                " (token required)"
            } else {
                ""
            }
        ));
        if options.open {
            open_browser(&url);
        }

        let state = AppState {
            store,
            security: Arc::new(security::Security::new(options.token)),
            queue_name: options.queue_name.into(),
        };
        axum::serve(listener, routes::router(state))
            .await
            .context("the dashboard stopped serving")
    })
}

/// Opens `url` in the desktop's browser. A machine without one still
/// serves the dashboard, so failing to open it is only a warning.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match opened {
        // The opener exits within moments; a thread reaps it.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(err) => {
            tracing::warn!(error = %err, opener, "cannot open a browser; open {url} by hand")
        }
    }
}
