//! Claiming: the order jobs are taken in, due times, limits and exclusivity.

use std::collections::HashSet;

use queue_core::{JobId, JobSpec, JobState, WorkerId};
use queue_store::{ClaimRequest, Store};
use serde_json::json;

use super::{Harness, LEASE, claim, enqueue, id, ids, job, plus, secs, shell, worker};

/// A higher priority is claimed first, whenever it was enqueued.
pub(crate) fn claim_takes_higher_priority_first(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![
            shell("low", "true").with_priority(-1),
            shell("mid", "true"),
            shell("high", "true").with_priority(10),
        ],
    );

    let one_by_one = claim_one_at_a_time(h, 3);

    assert_eq!(one_by_one, [id("high"), id("mid"), id("low")]);
}

/// Within a priority, the earlier `run_at` goes first, then the earlier enqueue;
/// the id plays no part.
pub(crate) fn claim_takes_earlier_run_at_then_enqueue_order(h: &dyn Harness) {
    let store = h.store();
    let now = store.now();
    enqueue(
        store,
        vec![shell("z-first", "true"), shell("a-second", "true")],
    );
    enqueue(
        store,
        vec![shell("m-overdue", "true").with_run_at(plus(now, -60))],
    );
    enqueue(store, vec![shell("b-third", "true")]);

    let one_by_one = claim_one_at_a_time(h, 4);

    let expected = [
        id("m-overdue"),
        id("z-first"),
        id("a-second"),
        id("b-third"),
    ];
    assert_eq!(one_by_one, expected);
}

/// A batch claim hands its jobs out in claim order too.
pub(crate) fn claim_returns_a_batch_in_claim_order(h: &dyn Harness) {
    let store = h.store();
    let now = store.now();
    enqueue(
        store,
        vec![
            shell("z-low", "true").with_priority(-1),
            shell("y-late", "true"),
            shell("x-early", "true").with_run_at(plus(now, -5)),
            shell("w-high", "true").with_priority(3),
            shell("v-next", "true"),
        ],
    );

    let claimed = claim(store, &worker("w"), 10);

    let expected = [
        id("w-high"),
        id("x-early"),
        id("y-late"),
        id("v-next"),
        id("z-low"),
    ];
    assert_eq!(ids(&claimed), expected);
}

/// A job with a delay or a future `run_at` waits until the clock reaches it.
pub(crate) fn delayed_jobs_are_claimed_only_once_due(h: &dyn Harness) {
    let store = h.store();
    let now = store.now();
    enqueue(
        store,
        vec![
            shell("later", "true")
                .with_run_at(plus(now, 3600))
                .with_priority(5),
            shell("soon", "true").with_delay(secs(10)),
        ],
    );
    let w = worker("w");

    assert!(claim(store, &w, 10).is_empty());
    h.advance(secs(9));
    assert!(claim(store, &w, 10).is_empty());
    h.advance(secs(1));
    assert_eq!(ids(&claim(store, &w, 10)), [id("soon")]);
    h.advance(secs(3589));
    assert!(claim(store, &w, 10).is_empty());
    h.advance(secs(1));
    assert_eq!(ids(&claim(store, &w, 10)), [id("later")]);
}

/// A claim never takes more than its limit, and a limit of zero takes nothing.
pub(crate) fn claim_returns_at_most_the_limit(h: &dyn Harness) {
    let store = h.store();
    let specs = (0..5).map(|n| shell(&format!("job-{n}"), "true")).collect();
    enqueue(store, specs);
    let w = worker("w");

    assert!(claim(store, &w, 0).is_empty());
    let sizes: Vec<usize> = (0..4).map(|_| claim(store, &w, 2).len()).collect();

    assert_eq!(sizes, [2, 2, 1, 0]);
    assert_eq!(store.counts().unwrap().processing, 5);
}

/// A claimed job is `processing`, one attempt further, owned and leased.
pub(crate) fn claim_counts_an_attempt_and_stamps_owner_and_lease(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true")]);
    h.advance(secs(5));
    let now = store.now();

    let claimed = claim(store, &worker("w"), 1);

    assert_eq!(claimed.len(), 1);
    let stored = job(store, &id("j"));
    assert_eq!(claimed[0], stored, "the claim returns the job as stored");
    assert_eq!(stored.state, JobState::Processing);
    assert_eq!(stored.attempts, 1);
    assert_eq!(stored.worker_id, Some(worker("w")));
    assert_eq!(stored.started_at, Some(now));
    assert_eq!(stored.lease_expires_at, Some(now + LEASE));
    assert_eq!(stored.updated_at, now);
}

/// A claim with kinds takes only jobs of those kinds; without, every kind.
pub(crate) fn claim_filters_by_kind(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![
            shell("cmd", "true").with_priority(9),
            JobSpec::new("email", json!({})).with_id(id("mail")),
            JobSpec::new("sms", json!({})).with_id(id("text")),
        ],
    );
    let w = worker("w");
    let kinds = ["sms".to_owned(), "email".to_owned()];
    let request = ClaimRequest {
        worker: &w,
        limit: 10,
        lease: LEASE,
        kinds: &kinds,
    };

    let claimed = store.claim(&request).unwrap();

    assert_eq!(ids(&claimed), [id("mail"), id("text")]);
    assert_eq!(ids(&claim(store, &w, 10)), [id("cmd")]);
}

/// Claimers racing on one queue take every job, none twice.
pub(crate) fn concurrent_claimers_claim_each_job_exactly_once(h: &dyn Harness) {
    const JOBS: usize = 500;
    const CLAIMERS: usize = 8;
    let store = h.store();
    enqueue(
        store,
        (0..JOBS)
            .map(|n| JobSpec::shell(format!("echo {n}")))
            .collect(),
    );

    let per_claimer: Vec<(WorkerId, Vec<JobId>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLAIMERS)
            .map(|n| scope.spawn(move || claim_until_empty(store, worker(&format!("w{n}")))))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });

    let mut seen = HashSet::new();
    for (owner, claimed) in &per_claimer {
        for job_id in claimed {
            assert!(
                seen.insert(job_id.clone()),
                "job {job_id} was claimed twice"
            );
            assert_eq!(job(store, job_id).worker_id.as_ref(), Some(owner));
            assert_eq!(job(store, job_id).attempts, 1);
        }
    }
    assert_eq!(seen.len(), JOBS);
    assert_eq!(store.counts().unwrap().processing, JOBS as u64);
}

/// Claims `n` jobs with a limit of one each, so that the store's choice of
/// the next job is what is seen, and returns them in the order taken.
fn claim_one_at_a_time(h: &dyn Harness, n: usize) -> Vec<JobId> {
    let w = worker("w");
    let taken: Vec<JobId> = (0..n).flat_map(|_| ids(&claim(h.store(), &w, 1))).collect();
    assert!(
        claim(h.store(), &w, 1).is_empty(),
        "more jobs were due than expected"
    );
    taken
}

fn claim_until_empty(store: &dyn Store, w: WorkerId) -> (WorkerId, Vec<JobId>) {
    let mut claimed = Vec::new();
    loop {
        let batch = claim(store, &w, 7);
        if batch.is_empty() {
            return (w, claimed);
        }
        claimed.extend(ids(&batch));
    }
}
