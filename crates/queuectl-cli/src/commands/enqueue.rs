//! `queuectl enqueue`: one job from arguments, or many from JSON Lines.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use queue_core::JobSpec;
use queue_worker::Client;

use crate::cli::EnqueueArgs;
use crate::failure::UsageError;
use crate::render;

pub(super) fn run(db: Option<&Path>, args: EnqueueArgs) -> anyhow::Result<()> {
    let has_flags = args.id.is_some()
        || args.priority.is_some()
        || args.delay.is_some()
        || args.run_at.is_some()
        || args.timeout.is_some()
        || args.max_retries.is_some();
    if args.file.is_some() && has_flags {
        let message = "--file takes every option from its JSON lines; remove --id, \
            --priority, --delay, --run-at, --timeout and --max-retries";
        return Err(UsageError(message.into()).into());
    }
    // Every spec is checked before the database is opened, so a bad one
    // leaves no trace, not even a new database file.
    let specs = match &args.file {
        Some(file) => read_lines(file)?,
        None => vec![single(&args)?],
    };
    let store = crate::database::open(db)?;
    let ids = Client::new(store).enqueue_batch(specs)?;
    if args.json {
        render::print_json(&ids)
    } else {
        let lines: Vec<String> = ids.iter().map(ToString::to_string).collect();
        render::print(&lines.join("\n"))
    }
}

/// The job from the positional argument and flags; flags override the spec.
fn single(args: &EnqueueArgs) -> anyhow::Result<JobSpec> {
    let text = args.job.as_deref().unwrap_or_default();
    let mut spec = if text.trim_start().starts_with('{') {
        JobSpec::from_json(text)?
    } else {
        JobSpec::shell(text)
    };
    if let Some(id) = &args.id {
        spec.id = Some(super::job_id(id)?);
    }
    if let Some(priority) = args.priority {
        // clap has checked the range, which fits an i32.
        spec.priority = i32::try_from(priority).unwrap_or_default();
    }
    if let Some(delay) = args.delay {
        spec.delay = Some(Duration::from_secs(delay));
        spec.run_at = None;
    }
    if let Some(run_at) = &args.run_at {
        let at = chrono::DateTime::parse_from_rfc3339(run_at).map_err(|_| {
            UsageError(format!(
                "--run-at {run_at:?} is not an RFC 3339 time such as 2026-12-24T10:00:00Z"
            ))
        })?;
        spec.run_at = Some(at.with_timezone(&chrono::Utc));
    }
    if let Some(timeout) = args.timeout {
        spec.timeout_secs = Some(timeout);
    }
    if let Some(max_retries) = args.max_retries {
        spec.max_retries = Some(max_retries);
    }
    spec.validate()?;
    Ok(spec)
}

/// Reads JSON Lines; blank lines are skipped, and an error names its line.
fn read_lines(file: &Path) -> anyhow::Result<Vec<JobSpec>> {
    let stdin = file == Path::new("-");
    let name = if stdin {
        "standard input".to_owned()
    } else {
        file.display().to_string()
    };
    let reader: Box<dyn Read> = if stdin {
        Box::new(std::io::stdin())
    } else if file.is_dir() {
        return Err(UsageError(format!("job file {name} is a directory")).into());
    } else {
        let opened = std::fs::File::open(file)
            .with_context(|| format!("cannot read job file {name}"))
            .map_err(|err| UsageError(crate::failure::one_line(&err)))?;
        Box::new(opened)
    };
    let mut specs = Vec::new();
    for (number, line) in BufReader::new(reader).lines().enumerate() {
        let number = number + 1;
        let line = line.map_err(|err| match err.kind() {
            std::io::ErrorKind::InvalidData => {
                UsageError(format!("{name}: line {number} is not UTF-8 text"))
            }
            _ => UsageError(format!("cannot read {name}: line {number}: {err}")),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let spec = JobSpec::from_json(&line).map_err(|err| {
            UsageError(format!(
                "{name}: line {number}: {}",
                crate::failure::one_line(&err.into())
            ))
        })?;
        specs.push(spec);
    }
    if specs.is_empty() {
        return Err(UsageError(format!("{} holds no job specs", file.display())).into());
    }
    Ok(specs)
}
