//! `queuectl worker start|stop`: run workers in the foreground, or ask the
//! running ones to stop.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use queue_store::{Store, WorkerRecord};
use queue_worker::{ShellHandler, WorkerPool};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::cli::{WorkerStartArgs, WorkerStopArgs};
use crate::render;

pub(super) fn start(db: Option<&Path>, args: &WorkerStartArgs) -> anyhow::Result<()> {
    let store = crate::database::open(db)?;
    adopt_orphans();
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("cannot listen for signals")?;
    let mut builder = WorkerPool::builder(store)
        .handler(queue_core::SHELL_KIND, ShellHandler::new())
        .concurrency(usize::from(args.count))
        .prefetch(usize::from(args.prefetch))
        .shutdown_grace(Duration::from_secs(args.grace));
    if let Some(host) = &args.host {
        builder = builder.host(host);
    }
    let pool = builder.start()?;

    // First signal: finish running jobs within the grace. Second: stop now.
    let handle = pool.handle();
    let signal_handle = signals.handle();
    let listener = std::thread::spawn(move || {
        for (count, signal) in signals.forever().enumerate() {
            if count == 0 {
                tracing::info!(signal, "signal received; finishing running jobs");
                handle.shutdown();
            } else {
                tracing::info!(signal, "second signal; releasing running jobs");
                handle.stop_now();
                break;
            }
        }
    });

    let summary = pool.join();
    signal_handle.close();
    let _ = listener.join();
    summary?;
    Ok(())
}

/// Makes this process the reaper of the processes jobs leave behind, so
/// that a stopped job's processes are reaped at once and none is left a
/// zombie; the worker starts no children of its own but job shells.
pub(super) fn adopt_orphans() {
    if let Err(err) = queue_worker::become_subreaper() {
        tracing::debug!(error = %err, "orphans of jobs are left to init");
    }
}

pub(super) fn stop(db: Option<&Path>, args: &WorkerStopArgs) -> anyhow::Result<()> {
    let store = crate::database::open(db)?;
    let live_before = live(store.as_ref())?;
    if live_before.is_empty() {
        return render::print("no workers are running");
    }
    store.request_stop()?;
    let plural = if live_before.len() == 1 { "" } else { "s" };
    if args.no_wait {
        return render::print(&format!(
            "asked {} worker{plural} to stop",
            live_before.len()
        ));
    }
    render::progress(&format!(
        "asked {} worker{plural} to stop; waiting for running jobs to finish",
        live_before.len()
    ));
    // Workers answer at their next heartbeat (within a second) and exit once
    // their running jobs finish, so this waits as long as the longest job.
    // A worker leaves the registry moments before its process ends, still
    // closing the database, so the processes on this host are waited for too.
    let host = this_host();
    let local: Vec<u32> = live_before
        .iter()
        .filter(|worker| host.as_deref() == Some(worker.host.as_str()))
        .map(|worker| worker.pid)
        .collect();
    while !live(store.as_ref())?.is_empty() || local.iter().any(|&pid| process_exists(pid)) {
        std::thread::sleep(Duration::from_millis(100));
    }
    render::print("all workers stopped")
}

/// Registered workers that are still alive: their heartbeat is younger than
/// a lease, and, on this host, their process still exists.
pub(crate) fn live(store: &dyn Store) -> anyhow::Result<Vec<WorkerRecord>> {
    let lease = store.config()?.lease;
    let now = store.now();
    let host = this_host();
    let workers = store.workers()?;
    Ok(workers
        .into_iter()
        .filter(|worker| {
            let age = (now - worker.heartbeat_at)
                .to_std()
                .unwrap_or(Duration::ZERO);
            let local = host.as_deref() == Some(worker.host.as_str());
            age <= lease && (!local || process_exists(worker.pid))
        })
        .collect())
}

fn this_host() -> Option<String> {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
}

/// Whether process `pid` is still running. One that has exited but that its
/// parent has not yet reaped (a zombie) has finished, and counts as gone.
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // Signal 0 checks for existence without sending anything.
    let exists = !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    );
    exists && !is_zombie(pid)
}

/// Whether `pid` is a zombie, as far as `/proc` tells (on Linux; elsewhere
/// the answer is always no).
fn is_zombie(pid: i32) -> bool {
    // The state letter follows the command name, which is in parentheses and
    // may itself contain ") ".
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(") ")?;
            Some(rest.starts_with('Z'))
        })
        .unwrap_or(false)
}
