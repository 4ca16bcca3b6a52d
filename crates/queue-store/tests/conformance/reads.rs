//! Reads: attempt timelines, listing in the documented orders, and counts.

use queue_core::{AttemptOutcome, JobId, JobState, RetryDirective, StateCounts};
use queue_store::{JobQuery, Store};

use super::{
    Harness, LEASE, claim, claim_for, claim_one, enqueue, id, ids, list_state, plus, report, secs,
    settle_one, shell, worker,
};

/// Each ended attempt is recorded in order with its worker, times and result.
pub(crate) fn attempts_record_the_timeline_of_each_attempt(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "flaky")]);
    let j = id("j");
    let (w1, w2, w3) = (worker("w1"), worker("w2"), worker("w3"));
    let t0 = store.now();

    let first = claim_one(store, &w1, &j);
    h.advance(secs(1));
    let mut failed = report(store, &first, AttemptOutcome::failed("boom"));
    failed.exit_code = Some(1);
    settle_one(store, &w1, failed);
    h.advance(secs(2));
    claim_for(store, &w2, 1, secs(10));
    assert_eq!(
        store.attempts(&j).unwrap().len(),
        1,
        "a running attempt is not listed"
    );
    h.advance(secs(11));
    store.rescue_expired().unwrap();
    h.advance(secs(4));
    claim_one(store, &w3, &j);
    h.advance(secs(1));
    store.release(&w3, std::slice::from_ref(&j)).unwrap();
    let last = claim_one(store, &w3, &j);
    h.advance(secs(1));
    let mut succeeded = report(store, &last, AttemptOutcome::Succeeded);
    succeeded.exit_code = Some(0);
    settle_one(store, &w3, succeeded);

    let timeline = store.attempts(&j).unwrap();
    let summary: Vec<_> = timeline
        .iter()
        .map(|a| {
            (
                a.attempt,
                a.worker_id.as_str(),
                a.result.as_str(),
                a.exit_code,
            )
        })
        .collect();
    let expected = [
        (1, "w1", "failed", Some(1)),
        (2, "w2", "lost", None),
        (3, "w3", "released", None),
        (3, "w3", "succeeded", Some(0)),
    ];
    assert_eq!(summary, expected);
    let times: Vec<_> = timeline
        .iter()
        .map(|a| (a.started_at, a.finished_at))
        .collect();
    let expected_times = [
        (t0, plus(t0, 1)),
        (plus(t0, 3), plus(t0, 14)),
        (plus(t0, 18), plus(t0, 19)),
        (plus(t0, 19), plus(t0, 20)),
    ];
    assert_eq!(times, expected_times);
    assert_eq!(timeline[0].error.as_deref(), Some("boom"));
    assert!(
        timeline[1]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("worker lost")
    );
    assert_eq!(timeline[3].error, None);
    assert!(store.attempts(&id("ghost")).unwrap().is_empty());
}

/// Listing `pending` or `failed` gives the jobs in the order they will be claimed.
pub(crate) fn list_filters_by_state_in_claim_order(h: &dyn Harness) {
    let store = h.store();
    let now = store.now();
    enqueue(
        store,
        vec![
            shell("low", "true"),
            shell("later", "true").with_delay(secs(100)),
            shell("high", "true").with_priority(5),
            shell("overdue", "true").with_run_at(plus(now, -60)),
            shell("slow-retry", "true").with_priority(9),
            shell("fast-retry", "true").with_priority(9),
        ],
    );
    let w = worker("w");
    let claimed = claim(store, &w, 2);
    let retry_in = |n| AttemptOutcome::Failed {
        error: "boom".into(),
        retry: RetryDirective::After(secs(n)),
    };
    settle_one(store, &w, report(store, &claimed[0], retry_in(50)));
    settle_one(store, &w, report(store, &claimed[1], retry_in(10)));

    let pending = list_state(store, JobState::Pending);
    let failed = list_state(store, JobState::Failed);

    assert_eq!(pending, [id("high"), id("overdue"), id("low"), id("later")]);
    assert_eq!(failed, [id("fast-retry"), id("slow-retry")]);
    assert!(list_state(store, JobState::Processing).is_empty());
}

/// Listing `completed` or `dead` shows the most recently updated first.
pub(crate) fn list_of_finished_states_is_most_recently_updated_first(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        ["b", "a", "c", "x", "y"]
            .map(|name| shell(name, "true"))
            .to_vec(),
    );
    let w = worker("w");
    let claimed = claim(store, &w, 3);
    for job in [&claimed[1], &claimed[2], &claimed[0]] {
        h.advance(secs(1));
        settle_one(store, &w, report(store, job, AttemptOutcome::Succeeded));
    }
    for name in ["y", "x"] {
        h.advance(secs(1));
        store.cancel(&id(name)).unwrap();
    }

    assert_eq!(
        list_state(store, JobState::Completed),
        [id("b"), id("c"), id("a")]
    );
    assert_eq!(list_state(store, JobState::Dead), [id("x"), id("y")]);
}

/// Listing every state gives the newest jobs first, whatever happened since.
pub(crate) fn list_without_state_is_newest_first(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("z", "true"), shell("a", "true")]);
    h.advance(secs(1));
    enqueue(store, vec![shell("m", "true")]);
    claim_one(store, &worker("w"), &id("z"));

    assert_eq!(list(store, None, None, 10, 0), [id("m"), id("a"), id("z")]);
}

/// Pages of `limit` jobs from `offset` cover the list once, in order.
pub(crate) fn list_pages_with_limit_and_offset(h: &dyn Harness) {
    let store = h.store();
    let specs = (1..=5)
        .map(|n| shell(&format!("p{n}"), "true").with_priority(n))
        .collect();
    enqueue(store, specs);
    let page = |offset| list(store, Some(JobState::Pending), None, 2, offset);

    assert_eq!(page(0), [id("p5"), id("p4")]);
    assert_eq!(page(2), [id("p3"), id("p2")]);
    assert_eq!(page(4), [id("p1")]);
    assert!(page(5).is_empty());
    assert!(
        list(store, None, None, 0, 0).is_empty(),
        "a limit of 0 returns nothing"
    );
}

/// The text filter matches a part of the id or of the command.
pub(crate) fn list_text_matches_id_or_command(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![
            shell("alpha-1", "echo one"),
            shell("beta-2", "echo alpha"),
            shell("gamma-3", "true"),
        ],
    );
    claim_one(store, &worker("w"), &id("alpha-1"));

    assert_eq!(
        list(store, None, Some("alpha"), 10, 0),
        [id("beta-2"), id("alpha-1")]
    );
    assert_eq!(
        list(store, Some(JobState::Pending), Some("alpha"), 10, 0),
        [id("beta-2")]
    );
    assert_eq!(list(store, None, Some("ta-"), 10, 0), [id("beta-2")]);
    assert!(list(store, None, Some("delta"), 10, 0).is_empty());
    assert_eq!(
        list(store, None, Some(""), 10, 0).len(),
        3,
        "empty text matches all"
    );
}

/// The counts per state match the jobs after every kind of transition.
pub(crate) fn counts_stay_exact_through_every_transition(h: &dyn Harness) {
    let store = h.store();
    let w = worker("w");
    assert_counts(store, [0, 0, 0, 0, 0]);
    enqueue(
        store,
        ["a", "b", "c", "d", "e", "f"]
            .map(|name| shell(name, "true"))
            .to_vec(),
    );
    assert_counts(store, [6, 0, 0, 0, 0]);

    let claimed = claim(store, &w, 4);
    assert_counts(store, [2, 4, 0, 0, 0]);
    let never = AttemptOutcome::Failed {
        error: "bad".into(),
        retry: RetryDirective::Never,
    };
    let reports = [
        report(store, &claimed[0], AttemptOutcome::Succeeded),
        report(store, &claimed[1], AttemptOutcome::failed("boom")),
        report(store, &claimed[2], never),
    ];
    store.settle(&w, &reports).unwrap();
    assert_counts(store, [2, 1, 1, 1, 1]);
    store.settle(&w, &reports).unwrap();
    assert_counts(store, [2, 1, 1, 1, 1]);

    store.cancel(&id("e")).unwrap();
    assert_counts(store, [1, 1, 1, 1, 2]);
    h.advance(LEASE + secs(1));
    assert_eq!(store.rescue_expired().unwrap(), [id("d")]);
    assert_counts(store, [1, 0, 1, 2, 2]);
    store.revive(&id("c")).unwrap();
    assert_counts(store, [2, 0, 1, 2, 1]);

    assert_eq!(ids(&claim(store, &w, 10)), [id("f"), id("b"), id("c")]);
    assert_counts(store, [0, 3, 1, 1, 1]);
    store.release(&w, &[id("f")]).unwrap();
    assert_counts(store, [1, 2, 1, 1, 1]);
    assert!(store.cancel(&id("b")).is_err());
    assert!(store.revive(&id("a")).is_err());
    assert_counts(store, [1, 2, 1, 1, 1]);
}

/// Writers racing on one queue leave counts that agree with the jobs.
pub(crate) fn counts_stay_exact_under_concurrent_writers(h: &dyn Harness) {
    const WRITERS: usize = 4;
    const ROUNDS: usize = 10;
    let store = h.store();

    std::thread::scope(|scope| {
        for n in 0..WRITERS {
            scope.spawn(move || {
                let w = worker(&format!("w{n}"));
                for round in 0..ROUNDS {
                    let specs = (0..5)
                        .map(|k| shell(&format!("w{n}-r{round}-{k}"), "true"))
                        .collect();
                    enqueue(store, specs);
                    let claimed = claim(store, &w, 4);
                    let reports: Vec<_> = claimed
                        .iter()
                        .skip(1)
                        .enumerate()
                        .map(|(k, job)| {
                            let outcome = if k % 2 == 0 {
                                AttemptOutcome::Succeeded
                            } else {
                                AttemptOutcome::failed("boom")
                            };
                            report(store, job, outcome)
                        })
                        .collect();
                    store.settle(&w, &reports).unwrap();
                    if let Some(first) = claimed.first() {
                        store.release(&w, std::slice::from_ref(&first.id)).unwrap();
                    }
                }
            });
        }
    });

    let counts = store.counts().unwrap();
    assert_eq!(counts.total(), (WRITERS * ROUNDS * 5) as u64);
    for state in JobState::ALL {
        assert_eq!(
            list_state(store, state).len() as u64,
            counts.of(state),
            "{state}"
        );
    }
}

/// Asserts the counts of pending, processing, completed, failed and dead jobs,
/// and that they agree with listing each state.
fn assert_counts(store: &dyn Store, [pending, processing, completed, failed, dead]: [u64; 5]) {
    let expected = StateCounts {
        pending,
        processing,
        completed,
        failed,
        dead,
    };
    let counts = store.counts().unwrap();
    assert_eq!(counts, expected);
    for state in JobState::ALL {
        assert_eq!(
            list_state(store, state).len() as u64,
            counts.of(state),
            "{state}"
        );
    }
}

fn list(
    store: &dyn Store,
    state: Option<JobState>,
    text: Option<&str>,
    limit: usize,
    offset: usize,
) -> Vec<JobId> {
    let query = JobQuery {
        state,
        text: text.map(str::to_owned),
        limit,
        offset,
    };
    ids(&store.list(&query).unwrap())
}

/// Completed and dead jobs are counted in the minute they finished, oldest
/// minute first, from the time asked for on; a revived job drops out.
pub(crate) fn finished_per_minute_counts_completed_and_dead_jobs(h: &dyn Harness) {
    let store = h.store();
    let w = worker("w");
    // Start the test on a whole minute, so each step below lands in a known one.
    let into_minute = store.now().timestamp_millis().rem_euclid(60_000);
    h.advance(std::time::Duration::from_millis(
        u64::try_from(60_000 - into_minute).unwrap(),
    ));
    let start = store.now();
    let complete = |job_id: &str| {
        enqueue(store, vec![shell(job_id, "true").with_priority(1)]);
        let claimed = claim_one(store, &w, &id(job_id));
        settle_one(
            store,
            &w,
            report(store, &claimed, AttemptOutcome::Succeeded),
        );
    };

    complete("early");
    h.advance(secs(60));
    complete("a");
    complete("b");
    enqueue(
        store,
        vec![shell("cancelled", "true"), shell("revived", "true")],
    );
    store.cancel(&id("cancelled")).unwrap();
    store.cancel(&id("revived")).unwrap();
    h.advance(secs(120));
    store.revive(&id("revived")).unwrap();
    complete("c");

    let minutes = store.finished_per_minute(plus(start, 30)).unwrap();
    let summary: Vec<_> = minutes
        .iter()
        .map(|m| (m.minute, m.completed, m.dead, m.total()))
        .collect();
    assert_eq!(
        summary,
        [(plus(start, 60), 2, 1, 3), (plus(start, 180), 1, 0, 1)],
        "the first minute is before the time asked for, and the revived job is not finished"
    );
    assert!(
        store
            .finished_per_minute(plus(start, 181))
            .unwrap()
            .is_empty()
    );
}

/// The oldest pending job is the one whose record changed least recently:
/// a revive or a release makes a job young again; failed jobs do not count.
pub(crate) fn oldest_pending_is_the_one_waiting_longest(h: &dyn Harness) {
    let store = h.store();
    assert_eq!(store.oldest_pending().unwrap(), None, "an empty queue");
    let w = worker("w");
    enqueue(store, vec![shell("first", "true")]);
    h.advance(secs(1));
    enqueue(
        store,
        vec![
            shell("second", "true").with_priority(5),
            shell("third", "true"),
        ],
    );
    h.advance(secs(1));
    assert_eq!(oldest(store), Some(id("first")));

    claim_one(store, &w, &id("second"));
    claim_one(store, &w, &id("first"));
    h.advance(secs(1));
    store.release(&w, &[id("first")]).unwrap();
    assert_eq!(
        oldest(store),
        Some(id("third")),
        "a released job waits anew"
    );

    store.cancel(&id("third")).unwrap();
    h.advance(secs(1));
    store.revive(&id("third")).unwrap();
    assert_eq!(oldest(store), Some(id("first")), "a revived job waits anew");

    let first = claim_one(store, &w, &id("first"));
    settle_one(
        store,
        &w,
        report(store, &first, AttemptOutcome::failed("boom")),
    );
    assert_eq!(
        oldest(store),
        Some(id("third")),
        "a failed job is not pending"
    );
}

fn oldest(store: &dyn Store) -> Option<JobId> {
    store.oldest_pending().unwrap().map(|job| job.id)
}
