//! `queuectl export` and `queuectl import`: whole jobs out of one queue and
//! into another, as JSON Lines.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::Context;
use queue_store::{JobRecord, StoreError};

use crate::cli::{ExportArgs, ImportArgs};
use crate::failure::UsageError;
use crate::render;

pub(super) fn export(db: Option<&Path>, args: &ExportArgs) -> anyhow::Result<()> {
    let store = crate::database::open(db)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let written = store.export(args.state, &mut |record: JobRecord| {
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
        Ok(())
    });
    let result = written.map_err(anyhow::Error::from).and_then(|count| {
        out.flush()?;
        Ok(count)
    });
    match result {
        Ok(count) => {
            let plural = if count == 1 { "" } else { "s" };
            render::progress(&format!("exported {count} job{plural}"));
            Ok(())
        }
        Err(err) if is_broken_pipe(&err) => Ok(()),
        Err(err) => Err(err),
    }
}

/// A closed pipe (`queuectl export | head`) ends the output quietly.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        io == Some(std::io::ErrorKind::BrokenPipe)
    })
}

pub(super) fn import(db: Option<&Path>, args: &ImportArgs) -> anyhow::Result<()> {
    // Every line is read and checked before the database is opened, so a bad
    // file leaves no trace.
    let records = read_records(&args.file)?;
    let store = crate::database::open(db)?;
    let count = store.import(records).map_err(|err| match err {
        StoreError::Duplicate(id) => anyhow::Error::from(StoreError::Duplicate(id))
            .context("nothing was imported; remove the jobs already in the queue from the file"),
        other => other.into(),
    })?;
    let plural = if count == 1 { "" } else { "s" };
    render::print(&format!("imported {count} job{plural}"))
}

/// Reads JSON Lines of job records; blank lines are skipped, and an error
/// names its line.
fn read_records(file: &Path) -> anyhow::Result<Vec<JobRecord>> {
    let reader: Box<dyn Read> = if file == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        let opened = std::fs::File::open(file)
            .with_context(|| format!("cannot read {}", file.display()))
            .map_err(|err| UsageError(crate::failure::one_line(&err)))?;
        Box::new(opened)
    };
    let mut records = Vec::new();
    for (number, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read line {}", number + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: JobRecord = serde_json::from_str(&line).map_err(|err| {
            UsageError(format!(
                "line {}: not a job written by `queuectl export`: {err}",
                number + 1
            ))
        })?;
        records.push(record);
    }
    Ok(records)
}
