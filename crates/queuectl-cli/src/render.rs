//! Output for people (aligned tables, state colours) and for programs (JSON).

use std::io::{IsTerminal, Write};

use queue_core::{AttemptRecord, Job, JobState, QueueConfig, StateCounts, Timestamp};
use queue_store::WorkerRecord;
use serde::Serialize;
use tabled::settings::Style;
use tabled::{Table, Tabled};

/// Writes `text` and a newline to stdout. A closed pipe (`queuectl list | head`)
/// ends the output quietly instead of failing.
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Writes a progress note to stderr, keeping stdout for results.
pub(crate) fn progress(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

pub(crate) fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    print(&serde_json::to_string_pretty(value)?)
}

/// Whether to colour output: stdout is a terminal and `NO_COLOR` is unset.
fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn paint(state: JobState) -> String {
    if !colour() {
        return state.to_string();
    }
    let code = match state {
        JobState::Pending => "36",
        JobState::Processing => "33",
        JobState::Completed => "32",
        JobState::Failed => "35",
        JobState::Dead => "31",
    };
    format!("\x1b[{code}m{state}\x1b[0m")
}

pub(crate) fn time(at: Timestamp) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn shorten(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let kept: String = one_line.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

fn table<T: Tabled>(rows: Vec<T>) -> String {
    let table = Table::new(rows).with(Style::blank()).to_string();
    table
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Tabled)]
struct JobRow {
    #[tabled(rename = "ID")]
    id: String,
    #[tabled(rename = "COMMAND")]
    command: String,
    #[tabled(rename = "STATE")]
    state: String,
    #[tabled(rename = "ATTEMPTS")]
    attempts: String,
    #[tabled(rename = "PRIORITY")]
    priority: i32,
    #[tabled(rename = "NEXT RUN / UPDATED")]
    when: String,
}

/// A table of jobs; an empty list says so instead of printing bare headers.
pub(crate) fn jobs(jobs: &[Job]) -> String {
    if jobs.is_empty() {
        return "no jobs".into();
    }
    let rows = jobs
        .iter()
        .map(|job| JobRow {
            id: job.id.to_string(),
            command: shorten(&job.summary(), 40),
            state: paint(job.state),
            attempts: format!("{}/{}", job.attempts, job.max_retries.saturating_add(1)),
            priority: job.priority,
            when: match job.state {
                JobState::Pending | JobState::Failed => format!("runs {}", time(job.run_at)),
                _ => time(job.updated_at),
            },
        })
        .collect();
    table(rows)
}

/// The JSON form of one job (`inspect --json`, the dashboard's API): the
/// job's fields, its duration and its attempt timeline.
#[derive(Serialize)]
pub(crate) struct Inspection<'a> {
    #[serde(flatten)]
    job: &'a Job,
    duration_ms: Option<i64>,
    history: &'a [AttemptRecord],
}

impl<'a> Inspection<'a> {
    pub(crate) fn new(job: &'a Job, history: &'a [AttemptRecord]) -> Self {
        Inspection {
            job,
            duration_ms: job.duration().map(|d| d.num_milliseconds()),
            history,
        }
    }
}

/// Every field of one job, its attempts and its output.
pub(crate) fn job_detail(job: &Job, attempts: &[AttemptRecord]) -> String {
    let optional_time = |at: Option<Timestamp>| at.map_or_else(|| "-".into(), time);
    let mut fields = vec![
        ("id", job.id.to_string()),
        ("kind", job.kind.clone()),
        ("command", job.summary()),
        ("state", paint(job.state)),
        (
            "attempts",
            format!("{} of {}", job.attempts, job.max_retries.saturating_add(1)),
        ),
        ("priority", job.priority.to_string()),
        ("timeout", timeout_text(job.timeout_secs)),
        ("created", time(job.created_at)),
        ("updated", time(job.updated_at)),
        ("run at", time(job.run_at)),
        ("started", optional_time(job.started_at)),
        ("finished", optional_time(job.finished_at)),
        (
            "duration",
            job.duration().map_or_else(|| "-".into(), duration_text),
        ),
        (
            "exit code",
            job.exit_code
                .map_or_else(|| "-".into(), |code| code.to_string()),
        ),
        (
            "last error",
            job.last_error.clone().unwrap_or_else(|| "-".into()),
        ),
    ];
    if let Some(worker) = &job.worker_id {
        fields.push(("worker", worker.to_string()));
    }
    if let Some(lease) = job.lease_expires_at {
        fields.push(("lease until", time(lease)));
    }
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut text: String = fields
        .iter()
        .map(|(name, value)| format!("{name:<width$}  {value}\n"))
        .collect();

    if !attempts.is_empty() {
        text.push_str("\nattempts:\n");
        for attempt in attempts {
            let exit = attempt
                .exit_code
                .map_or_else(String::new, |code| format!(" exit {code}"));
            let error = attempt
                .error
                .as_deref()
                .map_or_else(String::new, |e| format!(" ({e})"));
            text.push_str(&format!(
                "  #{} {} → {}  {}{}{}\n",
                attempt.attempt,
                time(attempt.started_at),
                time(attempt.finished_at),
                attempt.result,
                exit,
                error
            ));
        }
    }
    // A running job's output is what its worker has stored so far.
    let so_far = if job.state == JobState::Processing {
        " (so far)"
    } else {
        ""
    };
    for (name, stream) in [("stdout", &job.stdout), ("stderr", &job.stderr)] {
        text.push_str(&format!("\n{name}{so_far}:\n"));
        match stream {
            Some(output) if !output.is_empty() => {
                text.push_str(output);
                if !output.ends_with('\n') {
                    text.push('\n');
                }
            }
            _ => text.push_str("  (empty)\n"),
        }
    }
    text.trim_end().to_owned()
}

pub(crate) fn timeout_text(secs: u64) -> String {
    if secs == 0 {
        "none".into()
    } else {
        format!("{secs}s")
    }
}

pub(crate) fn duration_text(duration: chrono::Duration) -> String {
    let millis = duration.num_milliseconds();
    if millis < 1000 {
        format!("{millis}ms")
    } else {
        format!("{:.2}s", millis as f64 / 1000.0)
    }
}

#[derive(Tabled)]
struct WorkerRow {
    #[tabled(rename = "WORKER")]
    id: String,
    #[tabled(rename = "HOST")]
    host: String,
    #[tabled(rename = "PID")]
    pid: u32,
    #[tabled(rename = "RUNNING")]
    running: String,
    #[tabled(rename = "LAST HEARTBEAT")]
    heartbeat: String,
}

/// Counts per state, then the active workers.
pub(crate) fn status(counts: &StateCounts, workers: &[WorkerRecord]) -> String {
    let mut text = String::from("jobs:\n");
    for state in JobState::ALL {
        let pad = 12usize.saturating_sub(state.as_str().len());
        text.push_str(&format!(
            "  {}{}{:>8}\n",
            paint(state),
            " ".repeat(pad),
            counts.of(state)
        ));
    }
    text.push_str(&format!("  {:<12}{:>8}\n", "total", counts.total()));
    if workers.is_empty() {
        text.push_str("\nworkers: none running");
        return text;
    }
    text.push_str(&format!("\nworkers: {} running\n", workers.len()));
    let rows = workers
        .iter()
        .map(|worker| WorkerRow {
            id: worker.id.to_string(),
            host: worker.host.clone(),
            pid: worker.pid,
            running: format!("{}/{}", worker.running, worker.slots),
            heartbeat: time(worker.heartbeat_at),
        })
        .collect();
    text.push_str(&table(rows));
    text
}

#[derive(Tabled)]
struct ConfigRow {
    #[tabled(rename = "KEY")]
    key: &'static str,
    #[tabled(rename = "VALUE")]
    value: String,
    #[tabled(rename = "MEANING")]
    meaning: &'static str,
}

pub(crate) fn config(config: &QueueConfig) -> String {
    let rows = queue_core::ConfigKey::ALL
        .into_iter()
        .map(|key| ConfigRow {
            key: key.as_str(),
            value: config.get(key),
            meaning: key.description(),
        })
        .collect();
    table(rows)
}
