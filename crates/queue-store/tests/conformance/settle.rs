//! Settling attempts: where a report leaves its job, and stale reports refused.

use std::time::Duration;

use queue_core::{AttemptOutcome, JobState, RetryDirective, Settlement, Transition};
use queue_store::{ClaimRequest, Settled};

use super::{
    Harness, LEASE, claim, claim_for, claim_one, enqueue, id, ids, job, plus, report, secs,
    settle_one, shell, snapshot, worker,
};

/// A success completes the job and keeps its exit code and output.
pub(crate) fn success_completes_and_keeps_the_output(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "echo hi")]);
    let w = worker("w");
    let claimed = claim_one(store, &w, &id("j"));
    h.advance(secs(3));
    let mut done = report(store, &claimed, AttemptOutcome::Succeeded);
    done.exit_code = Some(0);
    done.stdout = Some("hi\n".into());
    done.stderr = Some("warning: none\n".into());

    assert_eq!(
        settle_one(store, &w, done).state(),
        Some(JobState::Completed)
    );

    let stored = job(store, &id("j"));
    assert_eq!(stored.state, JobState::Completed);
    assert_eq!(stored.exit_code, Some(0));
    assert_eq!(stored.stdout.as_deref(), Some("hi\n"));
    assert_eq!(stored.stderr.as_deref(), Some("warning: none\n"));
    assert_eq!(stored.started_at, claimed.started_at);
    assert_eq!(stored.finished_at, Some(store.now()));
    assert_eq!(stored.worker_id, None);
    assert_eq!(stored.lease_expires_at, None);
    assert_eq!(stored.attempts, 1);
}

/// Failures wait `2^attempt` seconds before the next try, and the failure
/// after the last retry sends the job to `dead`.
pub(crate) fn failure_backs_off_exponentially_then_dies(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "false").with_max_retries(2)]);
    let w = worker("w");

    for (attempt, wait) in [(1, 2), (2, 4)] {
        let claimed = claim_one(store, &w, &id("j"));
        assert_eq!(claimed.attempts, attempt);
        let mut failed = report(store, &claimed, AttemptOutcome::failed("exit status 1"));
        failed.exit_code = Some(1);
        assert_eq!(
            settle_one(store, &w, failed).state(),
            Some(JobState::Failed)
        );

        let stored = job(store, &id("j"));
        assert_eq!(stored.state, JobState::Failed);
        assert_eq!(
            stored.run_at,
            store.now() + secs(wait),
            "after attempt {attempt}"
        );
        assert_eq!(stored.exit_code, Some(1));
        assert_eq!(stored.last_error.as_deref(), Some("exit status 1"));
        h.advance(secs(wait - 1));
        assert!(
            claim(store, &w, 1).is_empty(),
            "claimed before its backoff ended"
        );
        h.advance(secs(1));
    }

    let last = claim_one(store, &w, &id("j"));
    assert_eq!(last.attempts, 3);
    let failed = report(store, &last, AttemptOutcome::failed("still broken"));
    assert_eq!(settle_one(store, &w, failed).state(), Some(JobState::Dead));
    let stored = job(store, &id("j"));
    assert_eq!(stored.state, JobState::Dead);
    assert_eq!(stored.last_error.as_deref(), Some("still broken"));
    h.advance(secs(3600));
    assert!(claim(store, &w, 1).is_empty(), "a dead job was claimed");
}

/// A failure that must not be retried goes to `dead` with retries left.
pub(crate) fn never_retry_goes_dead_at_once(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true").with_max_retries(5)]);
    let w = worker("w");
    let claimed = claim_one(store, &w, &id("j"));
    let outcome = AttemptOutcome::Failed {
        error: "bad input".into(),
        retry: RetryDirective::Never,
    };

    assert_eq!(
        settle_one(store, &w, report(store, &claimed, outcome)).state(),
        Some(JobState::Dead)
    );

    let stored = job(store, &id("j"));
    assert_eq!(stored.state, JobState::Dead);
    assert_eq!(stored.attempts, 1);
    assert_eq!(stored.last_error.as_deref(), Some("bad input"));
}

/// A failure that names its own delay runs again after exactly that delay.
pub(crate) fn retry_after_uses_the_given_delay(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true")]);
    let w = worker("w");
    let claimed = claim_one(store, &w, &id("j"));
    let outcome = AttemptOutcome::Failed {
        error: "rate limited".into(),
        retry: RetryDirective::After(secs(90)),
    };

    assert_eq!(
        settle_one(store, &w, report(store, &claimed, outcome)).state(),
        Some(JobState::Failed)
    );

    assert_eq!(job(store, &id("j")).run_at, plus(store.now(), 90));
}

/// Only the worker holding a job may settle it.
pub(crate) fn report_from_another_worker_is_stale(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true")]);
    let claimed = claim_one(store, &worker("owner"), &id("j"));
    let before = snapshot(store, &id("j"));
    h.advance(secs(1));

    let done = report(store, &claimed, AttemptOutcome::Succeeded);
    assert_eq!(settle_one(store, &worker("intruder"), done), Settled::Stale);

    assert_eq!(snapshot(store, &id("j")), before);
}

/// A report naming another attempt than the current one is refused.
pub(crate) fn report_for_an_old_attempt_is_stale(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true")]);
    let w = worker("w");
    let first = claim_one(store, &w, &id("j"));
    settle_one(
        store,
        &w,
        report(store, &first, AttemptOutcome::failed("boom")),
    );
    h.advance(secs(2));
    let second = claim_one(store, &w, &id("j"));
    let before = snapshot(store, &id("j"));

    let late = report(store, &first, AttemptOutcome::Succeeded);
    assert_eq!(settle_one(store, &w, late), Settled::Stale);
    let mut ahead = report(store, &second, AttemptOutcome::Succeeded);
    ahead.attempt += 1;
    assert_eq!(settle_one(store, &w, ahead), Settled::Stale);

    assert_eq!(snapshot(store, &id("j")), before);
}

/// Once a lapsed lease was rescued, the old holder's report changes nothing.
pub(crate) fn report_after_rescue_is_stale(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true")]);
    let w = worker("w");
    let claimed = claim_for(store, &w, 1, secs(10)).remove(0);
    h.advance(secs(11));
    assert_eq!(store.rescue_expired().unwrap(), [id("j")]);
    let before = snapshot(store, &id("j"));

    let late = report(store, &claimed, AttemptOutcome::Succeeded);
    assert_eq!(settle_one(store, &w, late), Settled::Stale);

    assert_eq!(snapshot(store, &id("j")), before);
}

/// A batch of reports gets one result per report, in the same order.
pub(crate) fn results_follow_the_order_of_the_reports(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![shell("a", "true"), shell("b", "true"), shell("c", "true")],
    );
    let w = worker("w");
    let claimed = claim(store, &w, 3);
    let mut stale = report(store, &claimed[1], AttemptOutcome::Succeeded);
    stale.attempt = 9;
    let reports = [
        report(store, &claimed[0], AttemptOutcome::failed("boom")),
        stale,
        report(store, &claimed[2], AttemptOutcome::Succeeded),
    ];

    let results = store.settle(&w, &reports).unwrap();

    let states: Vec<_> = results.iter().map(Settled::state).collect();
    assert_eq!(
        states,
        [Some(JobState::Failed), None, Some(JobState::Completed)]
    );
    assert_eq!(job(store, &id("b")).state, JobState::Processing);
}

/// A worker paused past its lease loses the job; once the job has died and
/// been revived, the same worker claims it again under the same attempt
/// number. The report from its first claim, arriving late, is still refused.
pub(crate) fn report_from_before_a_revive_is_stale(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "true").with_max_retries(0)]);
    let w = worker("w");
    let first = claim_for(store, &w, 1, secs(10)).remove(0);
    h.advance(secs(11));
    assert_eq!(store.rescue_expired().unwrap(), [id("j")]);
    assert_eq!(job(store, &id("j")).state, JobState::Dead);
    store.revive(&id("j")).unwrap();
    let second = claim_one(store, &w, &id("j"));
    assert_eq!(second.attempts, first.attempts);
    let before = snapshot(store, &id("j"));

    let late = report(store, &first, AttemptOutcome::Succeeded);
    assert_eq!(settle_one(store, &w, late), Settled::Stale);

    assert_eq!(snapshot(store, &id("j")), before);
    let current = report(store, &second, AttemptOutcome::Succeeded);
    assert_eq!(
        settle_one(store, &w, current).state(),
        Some(JobState::Completed)
    );
}

/// The same holds when no time passes at all: a report settled once, sent
/// again after the job died, was revived and was claimed again by the same
/// worker within the same instant, is refused.
pub(crate) fn repeated_report_after_a_revive_in_the_same_instant_is_stale(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("j", "false").with_max_retries(0)]);
    let w = worker("w");
    let first = claim_one(store, &w, &id("j"));
    let failed = report(store, &first, AttemptOutcome::failed("boom"));
    assert_eq!(
        settle_one(store, &w, failed.clone()).state(),
        Some(JobState::Dead)
    );
    store.revive(&id("j")).unwrap();
    let second = claim_one(store, &w, &id("j"));
    assert_eq!(second.attempts, first.attempts);
    let before = snapshot(store, &id("j"));

    assert_eq!(settle_one(store, &w, failed), Settled::Stale);

    assert_eq!(snapshot(store, &id("j")), before);
}

/// One batch can hold successes, failures and stale reports: each held job
/// moves as its own report says, with its own timeline line, and the stale
/// report's job is left exactly as it was.
pub(crate) fn a_mixed_batch_settles_each_held_job_by_its_own_report(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![
            shell("ok", "true"),
            shell("retry", "false"),
            shell("late", "true"),
            shell("fatal", "false"),
        ],
    );
    let w = worker("w");
    let claimed = claim(store, &w, 4);
    assert_eq!(claimed.len(), 4);
    let stale_before = snapshot(store, &id("late"));
    h.advance(secs(2));
    let mut ok = report(store, &claimed[0], AttemptOutcome::Succeeded);
    ok.exit_code = Some(0);
    ok.stdout = Some("fine\n".into());
    let mut retry = report(
        store,
        &claimed[1],
        AttemptOutcome::Failed {
            error: "busy".into(),
            retry: RetryDirective::After(secs(30)),
        },
    );
    retry.exit_code = Some(1);
    retry.stderr = Some("busy\n".into());
    let mut late = report(store, &claimed[2], AttemptOutcome::Succeeded);
    late.started_at = plus(late.started_at, -60);
    let fatal = report(
        store,
        &claimed[3],
        AttemptOutcome::Failed {
            error: "bad input".into(),
            retry: RetryDirective::Never,
        },
    );

    let results = store.settle(&w, &[ok, retry, late, fatal]).unwrap();

    let states: Vec<_> = results.iter().map(Settled::state).collect();
    assert_eq!(
        states,
        [
            Some(JobState::Completed),
            Some(JobState::Failed),
            None,
            Some(JobState::Dead)
        ]
    );
    let done = job(store, &id("ok"));
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.exit_code, Some(0));
    assert_eq!(done.stdout.as_deref(), Some("fine\n"));
    assert_eq!(done.worker_id, None);
    let retrying = job(store, &id("retry"));
    assert_eq!(retrying.state, JobState::Failed);
    assert_eq!(retrying.run_at, plus(store.now(), 30));
    assert_eq!(retrying.exit_code, Some(1));
    assert_eq!(retrying.stderr.as_deref(), Some("busy\n"));
    assert_eq!(retrying.last_error.as_deref(), Some("busy"));
    assert_eq!(retrying.lease_expires_at, None);
    let dead = job(store, &id("fatal"));
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.last_error.as_deref(), Some("bad input"));
    assert_eq!(snapshot(store, &id("late")), stale_before);

    let timeline = |name: &str| -> Vec<(String, Option<i32>, Option<String>)> {
        store
            .attempts(&id(name))
            .unwrap()
            .into_iter()
            .map(|a| (a.result, a.exit_code, a.error))
            .collect()
    };
    assert_eq!(timeline("ok"), [("succeeded".into(), Some(0), None)]);
    assert_eq!(
        timeline("retry"),
        [("failed".into(), Some(1), Some("busy".into()))]
    );
    assert_eq!(
        timeline("fatal"),
        [("failed".into(), None, Some("bad input".into()))]
    );
    let counts = store.counts().unwrap();
    assert_eq!(
        (
            counts.processing,
            counts.completed,
            counts.failed,
            counts.dead
        ),
        (1, 1, 1, 1)
    );
}

/// A job reported twice in one batch is settled by the first report that
/// matches its claim; the later one is stale, as if sent afterwards.
pub(crate) fn a_job_reported_twice_in_one_batch_is_settled_once(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("a", "true"), shell("b", "true")]);
    let w = worker("w");
    let claimed = claim(store, &w, 2);
    let a_failed = report(store, &claimed[0], AttemptOutcome::failed("boom"));
    let a_done = report(store, &claimed[0], AttemptOutcome::Succeeded);
    let mut b_wrong = report(store, &claimed[1], AttemptOutcome::failed("boom"));
    b_wrong.attempt += 1;
    let b_done = report(store, &claimed[1], AttemptOutcome::Succeeded);

    let results = store
        .settle(&w, &[a_failed, b_wrong, a_done, b_done.clone(), b_done])
        .unwrap();

    let states: Vec<_> = results.iter().map(Settled::state).collect();
    assert_eq!(
        states,
        [
            Some(JobState::Failed),
            None,
            None,
            Some(JobState::Completed),
            None
        ]
    );
    assert_eq!(job(store, &id("a")).state, JobState::Failed);
    assert_eq!(job(store, &id("b")).state, JobState::Completed);
    let results_of = |name: &str| -> Vec<String> {
        store
            .attempts(&id(name))
            .unwrap()
            .into_iter()
            .map(|a| a.result)
            .collect()
    };
    assert_eq!(results_of("a"), ["failed"]);
    assert_eq!(results_of("b"), ["succeeded"]);
    let counts = store.counts().unwrap();
    assert_eq!(
        (counts.processing, counts.failed, counts.completed),
        (0, 1, 1)
    );
}

/// Settling and claiming in one call settles first: the results follow the
/// reports, a stale one changes nothing, and the claim that follows sees
/// the jobs as the settle left them. A retry due at once is claimed again
/// in the same call, under a new attempt and claim; one that backs off is
/// not, nor is a job not yet due.
pub(crate) fn settle_and_claim_settles_then_claims_in_claim_order(h: &dyn Harness) {
    let store = h.store();
    enqueue(
        store,
        vec![
            shell("a", "true").with_priority(9),
            shell("b", "true").with_priority(9),
            shell("c", "true").with_priority(9),
        ],
    );
    let w = worker("w");
    let first = claim(store, &w, 3);
    assert_eq!(ids(&first), [id("a"), id("b"), id("c")]);
    enqueue(
        store,
        vec![
            shell("d", "true"),
            shell("e", "true").with_priority(5),
            shell("f", "true").with_priority(7).with_delay(secs(60)),
        ],
    );
    h.advance(secs(1));
    let again_now = AttemptOutcome::Failed {
        error: "try again".into(),
        retry: RetryDirective::After(Duration::ZERO),
    };
    let later = AttemptOutcome::Failed {
        error: "try later".into(),
        retry: RetryDirective::After(secs(90)),
    };
    let mut stale = report(store, &first[1], AttemptOutcome::Succeeded);
    stale.attempt = 9;
    let reports = [
        report(store, &first[0], again_now),
        stale,
        report(store, &first[2], later),
    ];
    let request = ClaimRequest {
        worker: &w,
        limit: 4,
        lease: LEASE,
        kinds: &[],
    };

    let (settled, claimed) = store.settle_and_claim(&w, &reports, &request).unwrap();

    let now = store.now();
    assert_eq!(
        settled,
        [
            Settled::Moved(Settlement {
                transition: Transition::Retry,
                state: JobState::Failed,
                run_at: Some(now),
            }),
            Settled::Stale,
            Settled::Moved(Settlement {
                transition: Transition::Retry,
                state: JobState::Failed,
                run_at: Some(plus(now, 90)),
            }),
        ]
    );
    assert_eq!(ids(&claimed), [id("a"), id("e"), id("d")]);
    let retried = &claimed[0];
    assert_eq!(retried.attempts, 2);
    assert_eq!(retried.state, JobState::Processing);
    assert!(retried.started_at > first[0].started_at);
    assert_eq!(job(store, &id("a")), *retried);
    let timeline = store.attempts(&id("a")).unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].result, "failed");
    assert_eq!(job(store, &id("b")).state, JobState::Processing);
    assert_eq!(job(store, &id("c")).state, JobState::Failed);
    assert_eq!(job(store, &id("f")).state, JobState::Pending);
    assert_eq!(
        store.counts().unwrap().processing,
        4,
        "held: b still, and the three claimed"
    );
}
