//! `queuectl demo`: a representative batch on a fresh database, run to the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use queue_core::{ConfigKey, JobId, JobSpec, JobState};
use queue_store::{JobQuery, SqliteStore, Store};
use queue_worker::{ShellHandler, WorkerPool};

use crate::cli::DemoArgs;
use crate::render;

pub(super) fn run(db: Option<&Path>, args: &DemoArgs) -> anyhow::Result<()> {
    let (store, path) = match db {
        Some(_) => crate::database::Database::choose(db)?.open()?,
        None => {
            let path = fresh_path();
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path)?);
            (store, path.display().to_string())
        }
    };
    // Short retry waits and quick polling, so the demo ends in seconds.
    store.set_config(ConfigKey::BackoffMax, "1s")?;
    store.set_config(ConfigKey::PollInterval, "100ms")?;

    let id = |name: &str| JobId::new(format!("demo-{name}-{}", std::process::id()));
    let batch = vec![
        JobSpec::shell("echo 'low priority'")
            .with_id(id("low")?)
            .with_priority(0),
        JobSpec::shell("echo 'high priority'")
            .with_id(id("high")?)
            .with_priority(10),
        JobSpec::shell("echo 'medium priority'")
            .with_id(id("medium")?)
            .with_priority(5),
        JobSpec::shell("echo 'ran after a 2 s delay'")
            .with_id(id("delayed")?)
            .with_delay(Duration::from_secs(2)),
        JobSpec::shell("sleep 30")
            .with_id(id("timeout")?)
            .with_timeout_secs(1)
            .with_max_retries(0),
        JobSpec::shell("echo 'failing on purpose' >&2; exit 3")
            .with_id(id("failing")?)
            .with_max_retries(2),
        JobSpec::shell("for i in 1 2 3; do echo step $i; sleep 0.2; done").with_id(id("steps")?),
    ];
    let ids = store.enqueue(batch)?;
    render::print(&format!("database: {path}\nenqueued {} jobs:\n", ids.len()))?;
    render::print(&render::jobs(&store.list(&JobQuery {
        limit: 50,
        ..JobQuery::default()
    })?))?;

    super::worker::adopt_orphans();
    let pool = WorkerPool::builder(store.clone())
        .handler(queue_core::SHELL_KIND, ShellHandler::new())
        .concurrency(usize::from(args.count))
        // As for `worker start`: shell jobs gain little from a prefetch.
        .prefetch(0)
        .start()?;
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let counts = store.counts()?;
        let line = JobState::ALL
            .iter()
            .map(|&state| format!("{state} {}", counts.of(state)))
            .collect::<Vec<_>>()
            .join(" · ");
        if line != last {
            render::print(&format!(
                "[{:>4.1}s] {line}",
                started.elapsed().as_secs_f64()
            ))?;
            last = line;
        }
        let unfinished = counts.pending + counts.processing + counts.failed;
        if unfinished == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    pool.handle().shutdown();
    pool.join()?;

    render::print("\nfinal status:")?;
    render::print(&render::status(&store.counts()?, &[]))?;
    render::print("")?;
    render::print(&render::jobs(&store.list(&JobQuery {
        limit: 50,
        ..JobQuery::default()
    })?))?;
    render::print(&format!(
        "\nlook closer with:\n  queuectl --db {path} inspect {}\n  queuectl --db {path} dlq list",
        ids[5],
    ))
}

fn fresh_path() -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    std::env::temp_dir().join(format!("queuectl-demo-{stamp}-{}.db", std::process::id()))
}
