//! The output of running attempts: guarded updates while a job runs, and a
//! claim that starts each attempt's output afresh.

use queue_core::{AttemptOutcome, Job, JobState, WorkerId};
use queue_store::{OutputUpdate, Store};

use super::{
    Harness, LEASE, claim_for, claim_one, enqueue, id, job, report, secs, settle_one, shell,
    snapshot, worker,
};

/// An update naming `job`'s claim, with `stdout` and no stderr.
fn update(job: &Job, stdout: &str) -> OutputUpdate {
    OutputUpdate {
        job_id: job.id.clone(),
        attempt: job.attempts,
        started_at: job.started_at.expect("a claimed job has started"),
        stdout: Some(stdout.to_owned()),
        stderr: None,
    }
}

fn record(store: &dyn Store, worker: &WorkerId, updates: &[OutputUpdate]) -> usize {
    store.record_output(worker, updates).unwrap()
}

/// The holder's updates land while the job runs, each replacing the last,
/// without touching the job's state or `updated_at`; the settled output
/// then replaces the stream it carries.
pub(crate) fn output_update_lands_for_the_holder_while_processing(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("job", "echo")]);
    let w = worker("w");
    let claimed = claim_one(store, &w, &id("job"));
    h.advance(secs(1));

    assert_eq!(record(store, &w, &[update(&claimed, "first\n")]), 1);
    let mut both = update(&claimed, "first\nsecond\n");
    both.stderr = Some("warning\n".to_owned());
    assert_eq!(record(store, &w, &[both]), 1);

    let running = job(store, &id("job"));
    assert_eq!(running.state, JobState::Processing);
    assert_eq!(running.stdout.as_deref(), Some("first\nsecond\n"));
    assert_eq!(running.stderr.as_deref(), Some("warning\n"));
    assert_eq!(running.updated_at, claimed.updated_at);
    assert_eq!(running.worker_id.as_ref(), Some(&w));

    let mut done = report(store, &claimed, AttemptOutcome::Succeeded);
    done.stdout = Some("first\nsecond\nthird\n".to_owned());
    assert!(matches!(
        settle_one(store, &w, done).state(),
        Some(JobState::Completed)
    ));
    let finished = job(store, &id("job"));
    assert_eq!(finished.stdout.as_deref(), Some("first\nsecond\nthird\n"));
    assert_eq!(finished.stderr.as_deref(), Some("warning\n"));
}

/// An update from a worker that does not hold the job changes nothing.
pub(crate) fn output_update_from_another_worker_changes_nothing(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("job", "echo")]);
    let claimed = claim_one(store, &worker("owner"), &id("job"));
    let before = snapshot(store, &id("job"));

    assert_eq!(record(store, &worker("other"), &[update(&claimed, "x")]), 0);

    assert_eq!(snapshot(store, &id("job")), before);
}

/// Once the attempt is settled, a late update changes nothing.
pub(crate) fn output_update_after_the_attempt_ended_changes_nothing(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("job", "echo")]);
    let w = worker("w");
    let claimed = claim_one(store, &w, &id("job"));
    let mut done = report(store, &claimed, AttemptOutcome::Succeeded);
    done.stdout = Some("final\n".to_owned());
    settle_one(store, &w, done);
    let before = snapshot(store, &id("job"));

    assert_eq!(record(store, &w, &[update(&claimed, "late")]), 0);

    assert_eq!(snapshot(store, &id("job")), before);
    assert_eq!(before.0.unwrap().stdout.as_deref(), Some("final\n"));
}

/// After a release or a rescue the worker no longer holds the job, and its
/// updates change nothing.
pub(crate) fn output_update_after_release_or_rescue_changes_nothing(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![shell("released", "echo"), shell("rescued", "echo")],
    );
    let w = worker("w");
    let released = claim_for(store, &w, 1, LEASE).remove(0);
    let rescued = claim_for(store, &w, 1, secs(5)).remove(0);
    assert_eq!(released.id, id("released"));
    assert_eq!(rescued.id, id("rescued"));

    assert_eq!(store.release(&w, &[id("released")]).unwrap(), 1);
    h.advance(secs(6));
    assert_eq!(store.rescue_expired().unwrap(), [id("rescued")]);
    let before = [
        snapshot(store, &id("released")),
        snapshot(store, &id("rescued")),
    ];

    let updates = [update(&released, "late"), update(&rescued, "late")];
    assert_eq!(record(store, &w, &updates), 0);

    let after = [
        snapshot(store, &id("released")),
        snapshot(store, &id("rescued")),
    ];
    assert_eq!(after, before);
}

/// A claim clears the previous attempt's output, and an update naming the
/// previous claim does not land on the new one; in a batch, only the
/// updates that name a held claim count.
pub(crate) fn output_of_a_new_attempt_starts_empty_and_old_claims_are_refused(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("retried", "echo")]);
    let w = worker("w");
    let first = claim_one(store, &w, &id("retried"));
    let mut failed = report(store, &first, AttemptOutcome::failed("boom"));
    failed.stdout = Some("attempt 1\n".to_owned());
    failed.stderr = Some("error 1\n".to_owned());
    assert!(matches!(
        settle_one(store, &w, failed).state(),
        Some(JobState::Failed)
    ));
    assert_eq!(
        job(store, &id("retried")).stdout.as_deref(),
        Some("attempt 1\n")
    );
    h.advance(secs(3600));
    // Enqueued after the retry fell due, so it is claimed after it.
    enqueue(store, vec![shell("other", "echo")]);

    let second = claim_one(store, &w, &id("retried"));
    assert_eq!(second.attempts, 2);
    assert_eq!(
        (second.stdout.as_deref(), second.stderr.as_deref()),
        (None, None)
    );
    let stored = job(store, &id("retried"));
    assert_eq!((stored.stdout, stored.stderr), (None, None));

    let other = claim_one(store, &w, &id("other"));
    let updates = [
        update(&first, "stale"),
        update(&second, "attempt 2\n"),
        update(&other, "other\n"),
    ];
    assert_eq!(record(store, &w, &updates), 2);
    assert_eq!(
        job(store, &id("retried")).stdout.as_deref(),
        Some("attempt 2\n")
    );
    assert_eq!(job(store, &id("other")).stdout.as_deref(), Some("other\n"));
    assert_eq!(record(store, &w, &[]), 0);
}

/// The last output stored while an attempt ran stays when its report
/// carries none, and when the attempt is released or rescued; a stream the
/// report carries replaces it.
pub(crate) fn recorded_output_stays_unless_the_end_of_the_attempt_replaces_it(h: &dyn Harness) {
    let store = h.store();
    let names = ["silent", "speaks", "released", "rescued"];
    enqueue(store, names.map(|name| shell(name, "echo")).to_vec());
    let w = worker("w");
    let mut held = Vec::new();
    for name in names {
        let lease = if name == "rescued" { secs(5) } else { LEASE };
        let claimed = claim_for(store, &w, 1, lease).remove(0);
        assert_eq!(claimed.id, id(name));
        let mut so_far = update(&claimed, "so far\n");
        so_far.stderr = Some("warned\n".to_owned());
        assert_eq!(record(store, &w, &[so_far]), 1);
        held.push(claimed);
    }

    let silent = report(store, &held[0], AttemptOutcome::Succeeded);
    settle_one(store, &w, silent);
    let mut speaks = report(store, &held[1], AttemptOutcome::Succeeded);
    speaks.stdout = Some("final\n".to_owned());
    settle_one(store, &w, speaks);
    assert_eq!(store.release(&w, &[id("released")]).unwrap(), 1);
    h.advance(secs(6));
    assert_eq!(store.rescue_expired().unwrap(), [id("rescued")]);

    let output = |name: &str| {
        let job = job(store, &id(name));
        (job.stdout, job.stderr)
    };
    let kept = (Some("so far\n".to_owned()), Some("warned\n".to_owned()));
    assert_eq!(output("silent"), kept);
    assert_eq!(
        output("speaks"),
        (Some("final\n".to_owned()), kept.1.clone())
    );
    assert_eq!(output("released"), kept);
    assert_eq!(output("rescued"), kept);
}
