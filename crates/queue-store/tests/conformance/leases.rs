//! Leases: renewal, rescue of attempts whose worker was lost, and release.

use std::collections::HashSet;

use queue_core::{JobId, JobState};

use super::{
    Harness, LEASE, claim, claim_for, claim_one, enqueue, id, ids, job, plus, secs, shell,
    snapshot, worker,
};

fn set(ids: impl IntoIterator<Item = JobId>) -> HashSet<JobId> {
    ids.into_iter().collect()
}

/// Renewal answers with the worker's jobs, no others, and pushes their leases out.
pub(crate) fn renew_returns_exactly_the_held_jobs_and_extends_them(h: &dyn Harness) {
    let store = h.store();
    let specs = ["a1", "a2", "b1", "done"]
        .map(|name| shell(name, "true"))
        .to_vec();
    enqueue(store, specs);
    let (a, b) = (worker("a"), worker("b"));
    claim(store, &a, 2);
    let b_job = claim_one(store, &b, &id("b1"));
    let finished = claim_one(store, &a, &id("done"));
    let done = super::report(store, &finished, queue_core::AttemptOutcome::Succeeded);
    super::settle_one(store, &a, done);
    h.advance(secs(20));

    let renewed = store.renew_leases(&a, secs(60)).unwrap();

    assert_eq!(set(renewed), set([id("a1"), id("a2")]));
    for name in ["a1", "a2"] {
        assert_eq!(
            job(store, &id(name)).lease_expires_at,
            Some(store.now() + secs(60))
        );
    }
    assert_eq!(
        job(store, &id("b1")).lease_expires_at,
        b_job.lease_expires_at
    );
    assert!(
        store
            .renew_leases(&worker("nobody"), LEASE)
            .unwrap()
            .is_empty()
    );
}

/// A job rescued from a worker is missing from that worker's next renewal.
pub(crate) fn rescued_job_drops_out_of_renewal(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("short", "true"), shell("long", "true")]);
    let w = worker("w");
    claim_for(store, &w, 1, secs(5));
    claim_for(store, &w, 1, secs(60));
    h.advance(secs(6));

    assert_eq!(store.rescue_expired().unwrap(), [id("short")]);

    assert_eq!(store.renew_leases(&w, LEASE).unwrap(), [id("long")]);
    assert_eq!(job(store, &id("short")).lease_expires_at, None);
}

/// Only leases past their expiry are rescued (a lease holds up to that instant);
/// the attempt counts as a failure with backoff, and the job says its worker was lost.
pub(crate) fn rescue_takes_only_lapsed_leases(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("lapsed", "true"), shell("held", "true")]);
    let w = worker("w");
    claim_for(store, &w, 1, secs(10));
    let held = claim_for(store, &w, 1, secs(60)).remove(0);
    h.advance(secs(10));
    assert!(
        store.rescue_expired().unwrap().is_empty(),
        "rescued before the lease lapsed"
    );
    h.advance(secs(1));

    let rescued = store.rescue_expired().unwrap();

    assert_eq!(rescued, [id("lapsed")]);
    let lost = job(store, &id("lapsed"));
    assert_eq!(lost.state, JobState::Failed);
    assert_eq!(lost.attempts, 1);
    assert_eq!(lost.run_at, plus(store.now(), 2));
    assert_eq!(lost.worker_id, None);
    let error = lost.last_error.unwrap_or_default();
    assert!(error.contains("worker lost"), "last_error: {error:?}");
    assert_eq!(job(store, &id("held")), held);
    assert!(store.rescue_expired().unwrap().is_empty(), "rescued twice");
}

/// A lost attempt that was the last allowed sends the job to `dead`.
pub(crate) fn rescue_kills_a_job_out_of_retries(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true").with_max_retries(0)]);
    claim(store, &worker("w"), 1);
    h.advance(LEASE + secs(1));

    assert_eq!(store.rescue_expired().unwrap(), [id("j")]);

    let dead = job(store, &id("j"));
    assert_eq!(dead.state, JobState::Dead);
    assert!(dead.last_error.unwrap_or_default().contains("worker lost"));
}

/// A lease renewed in time is not rescued at its first expiry.
pub(crate) fn renewal_before_expiry_prevents_rescue(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true")]);
    let w = worker("w");
    claim_for(store, &w, 1, secs(10));
    h.advance(secs(8));
    assert_eq!(store.renew_leases(&w, secs(10)).unwrap(), [id("j")]);
    h.advance(secs(8));

    assert!(store.rescue_expired().unwrap().is_empty());

    let stored = job(store, &id("j"));
    assert_eq!(stored.state, JobState::Processing);
    assert_eq!(stored.worker_id, Some(w));
    h.advance(secs(3));
    assert_eq!(store.rescue_expired().unwrap(), [id("j")]);
}

/// A released job is pending and due at once, its attempt not charged.
pub(crate) fn release_makes_the_job_due_now_without_charging(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true"), shell("kept", "true")]);
    let w = worker("w");
    claim(store, &w, 2);
    h.advance(secs(7));

    assert_eq!(store.release(&w, &[id("j"), id("unknown")]).unwrap(), 1);

    let released = job(store, &id("j"));
    assert_eq!(released.state, JobState::Pending);
    assert_eq!(released.attempts, 0);
    assert_eq!(released.run_at, store.now());
    assert_eq!(released.worker_id, None);
    assert_eq!(released.lease_expires_at, None);
    assert_eq!(job(store, &id("kept")).state, JobState::Processing);
    let again = claim(store, &worker("other"), 10);
    assert_eq!(ids(&again), [id("j")]);
    assert_eq!(again[0].attempts, 1);
}

/// Only the holder can release a job.
pub(crate) fn release_by_another_worker_changes_nothing(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true")]);
    claim(store, &worker("owner"), 1);
    let before = snapshot(store, &id("j"));
    h.advance(secs(1));

    assert_eq!(store.release(&worker("intruder"), &[id("j")]).unwrap(), 0);

    assert_eq!(snapshot(store, &id("j")), before);
}
