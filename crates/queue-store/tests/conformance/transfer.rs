//! Export and import: whole records out of one queue and into another.

use queue_core::{AttemptOutcome, JobId, JobState};
use queue_store::{JobRecord, Store, StoreError};

use super::{Harness, claim, claim_one, enqueue, id, job, report, secs, settle_one, shell, worker};

/// Every record the store hands out, in order.
fn export_all(store: &dyn Store, state: Option<JobState>) -> Vec<JobRecord> {
    let mut records = Vec::new();
    let count = store
        .export(state, &mut |record| {
            records.push(record);
            Ok(())
        })
        .unwrap();
    assert_eq!(count, records.len() as u64);
    records
}

fn record_ids(records: &[JobRecord]) -> Vec<JobId> {
    records.iter().map(|record| record.job.id.clone()).collect()
}

/// Three jobs: `a` waiting, `b` failed once and waiting to retry, `c` running.
fn three_jobs(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![
            shell("a", "true"),
            shell("b", "false").with_priority(2),
            shell("c", "sleep 9").with_priority(1),
        ],
    );
    let w = worker("w");
    let b = claim_one(store, &w, &id("b"));
    h.advance(secs(1));
    let mut failed = report(store, &b, AttemptOutcome::failed("boom"));
    failed.exit_code = Some(1);
    failed.stderr = Some("broken\n".into());
    settle_one(store, &w, failed);
    claim_one(store, &w, &id("c"));
    h.advance(secs(1));
}

/// An export hands over every job as stored, with its timeline, oldest
/// enqueue first; with a state, only the jobs in it.
pub(crate) fn export_hands_over_every_job_with_its_timeline(h: &dyn Harness) {
    three_jobs(h);
    let store = h.store();

    let records = export_all(store, None);

    assert_eq!(record_ids(&records), [id("a"), id("b"), id("c")]);
    for record in &records {
        assert_eq!(record.job, job(store, &record.job.id));
        assert_eq!(record.history, store.attempts(&record.job.id).unwrap());
    }
    assert_eq!(records[1].history.len(), 1);
    assert_eq!(
        record_ids(&export_all(store, Some(JobState::Failed))),
        [id("b")]
    );
    assert!(export_all(store, Some(JobState::Dead)).is_empty());
}

/// A failing receiver stops the export with its error.
pub(crate) fn export_stops_when_the_receiver_fails(h: &dyn Harness) {
    three_jobs(h);
    let mut seen = 0;

    let err = h
        .store()
        .export(None, &mut |_| {
            seen += 1;
            if seen == 2 {
                Err("disk full".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();

    assert!(matches!(err, StoreError::Sink(_)), "{err:?}");
    assert_eq!(seen, 2);
}

/// Imported records keep every field and their timelines; a job that was
/// running arrives released: pending, due now, its attempt not charged.
pub(crate) fn import_keeps_records_and_releases_running_jobs(h: &dyn Harness) {
    three_jobs(h);
    let store = h.store();
    let originals = export_all(store, None);
    let copies: Vec<JobRecord> = originals
        .iter()
        .cloned()
        .map(|mut record| {
            record.job.id = id(&format!("copy-{}", record.job.id));
            record
        })
        .collect();

    assert_eq!(store.import(copies.clone()).unwrap(), 3);

    for copy in &copies[..2] {
        assert_eq!(job(store, &copy.job.id), copy.job);
        assert_eq!(store.attempts(&copy.job.id).unwrap(), copy.history);
    }
    let running = job(store, &id("copy-c"));
    assert_eq!(running.state, JobState::Pending);
    assert_eq!(running.attempts, 0);
    assert_eq!(running.run_at, store.now());
    assert_eq!(running.worker_id, None);
    assert_eq!(running.lease_expires_at, None);
    let counts = store.counts().unwrap();
    assert_eq!(
        (counts.pending, counts.failed, counts.processing),
        (3, 2, 1)
    );
    // Within a priority and due time, imported jobs queue behind the jobs
    // already there.
    h.advance(secs(60));
    let order: Vec<JobId> = claim(store, &worker("w2"), 10)
        .into_iter()
        .map(|job| job.id)
        .collect();
    assert_eq!(
        order,
        [id("b"), id("copy-b"), id("copy-c"), id("a"), id("copy-a")]
    );
}

/// One taken or repeated id refuses the whole import.
pub(crate) fn import_with_a_taken_or_repeated_id_stores_nothing(h: &dyn Harness) {
    three_jobs(h);
    let store = h.store();
    let originals = export_all(store, None);
    let mut fresh = originals[0].clone();
    fresh.job.id = id("fresh");

    let taken = store
        .import(vec![fresh.clone(), originals[1].clone()])
        .unwrap_err();
    let repeated = store.import(vec![fresh.clone(), fresh]).unwrap_err();

    assert!(
        matches!(&taken, StoreError::Duplicate(dup) if *dup == id("b")),
        "{taken:?}"
    );
    assert!(
        matches!(&repeated, StoreError::Duplicate(dup) if *dup == id("fresh")),
        "{repeated:?}"
    );
    assert_eq!(store.job(&id("fresh")).unwrap(), None);
    assert_eq!(store.counts().unwrap().total(), 3);
    assert_eq!(export_all(store, None), originals);
}
