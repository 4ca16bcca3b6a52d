//! Operator commands: reviving dead jobs and cancelling waiting ones.

use queue_core::{AttemptOutcome, JobState, Transition, TransitionError};
use queue_store::StoreError;

use super::{
    Harness, claim, claim_one, enqueue, id, job, report, secs, settle_one, shell, snapshot, worker,
};

/// Revive moves a dead job to `pending`, due now, with no attempts spent.
pub(crate) fn revive_brings_a_dead_job_back_with_attempts_reset(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "false").with_max_retries(0)]);
    let w = worker("w");
    let claimed = claim_one(store, &w, &id("j"));
    settle_one(
        store,
        &w,
        report(store, &claimed, AttemptOutcome::failed("boom")),
    );
    h.advance(secs(60));

    let revived = store.revive(&id("j")).unwrap();

    assert_eq!(
        revived,
        job(store, &id("j")),
        "revive returns the job as stored"
    );
    assert_eq!(revived.state, JobState::Pending);
    assert_eq!(revived.attempts, 0);
    assert_eq!(revived.run_at, store.now());
    assert_eq!(claim(store, &w, 1)[0].attempts, 1);
}

/// Reviving a job that is not dead is refused with its state, and changes nothing.
pub(crate) fn revive_of_a_live_job_is_refused_and_changes_nothing(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true")]);
    let before = snapshot(store, &id("j"));
    h.advance(secs(1));

    let err = store.revive(&id("j")).unwrap_err();

    let refused = TransitionError {
        from: JobState::Pending,
        transition: Transition::Revive,
    };
    let StoreError::WrongState { id: j, source } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((j, source), (&id("j"), &refused));
    assert_eq!(snapshot(store, &id("j")), before);
}

/// Reviving or cancelling an unknown id says so and stores nothing.
pub(crate) fn revive_and_cancel_of_a_missing_job_are_not_found(h: &dyn Harness) {
    let store = h.store();

    let revived = store.revive(&id("ghost")).unwrap_err();
    let cancelled = store.cancel(&id("ghost")).unwrap_err();

    assert!(
        matches!(&revived, StoreError::NotFound(j) if *j == id("ghost")),
        "{revived:?}"
    );
    assert!(
        matches!(&cancelled, StoreError::NotFound(j) if *j == id("ghost")),
        "{cancelled:?}"
    );
    assert_eq!(store.job(&id("ghost")).unwrap(), None);
    assert_eq!(store.counts().unwrap().total(), 0);
}

/// A pending or failed job can be cancelled; it goes to `dead` and is not claimed.
pub(crate) fn cancel_sends_waiting_jobs_to_dead(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![shell("pending", "true"), shell("failed", "true")],
    );
    let w = worker("w");
    let claimed = claim(store, &w, 2);
    settle_one(
        store,
        &w,
        report(store, &claimed[1], AttemptOutcome::failed("boom")),
    );
    store.release(&w, &[id("pending")]).unwrap();

    for name in ["pending", "failed"] {
        let cancelled = store.cancel(&id(name)).unwrap();
        assert_eq!(cancelled.state, JobState::Dead, "{name}");
        assert_eq!(cancelled, job(store, &id(name)));
    }

    h.advance(secs(3600));
    assert!(claim(store, &w, 10).is_empty());
}

/// A job that started or finished cannot be cancelled, and is left alone.
pub(crate) fn cancel_of_started_or_finished_jobs_is_refused(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("running", "true"), shell("done", "true")]);
    let w = worker("w");
    let claimed = claim(store, &w, 2);
    settle_one(
        store,
        &w,
        report(store, &claimed[1], AttemptOutcome::Succeeded),
    );

    for (name, state) in [
        ("running", JobState::Processing),
        ("done", JobState::Completed),
    ] {
        let before = snapshot(store, &id(name));
        let err = store.cancel(&id(name)).unwrap_err();
        let refused = TransitionError {
            from: state,
            transition: Transition::Cancel,
        };
        assert!(
            matches!(&err, StoreError::WrongState { source, .. } if *source == refused),
            "{name}: {err:?}"
        );
        assert_eq!(snapshot(store, &id(name)), before, "{name}");
    }
}
