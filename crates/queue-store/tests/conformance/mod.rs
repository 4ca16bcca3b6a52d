//! The store conformance suite: the behaviour every [`Store`] backend must show.
//!
//! Each test is a plain function over a [`Harness`], written once against the
//! trait; a backend's test file turns them all into `#[test]`s with
//! [`conformance_tests!`], giving it a constructor for a fresh, empty queue,
//! or `None` when the backend's server is not configured:
//!
//! ```text
//! mod conformance;
//! conformance::conformance_tests!(|| Some(SqliteHarness::new()));
//! ```
//!
//! Time never passes by itself: the harness gives the store a clock that
//! moves only when a test calls [`Harness::advance`], so every due time and
//! lease can be checked to the millisecond.

pub(crate) mod claim;
pub(crate) mod enqueue;
pub(crate) mod leases;
pub(crate) mod operator;
pub(crate) mod output;
pub(crate) mod reads;
pub(crate) mod settings;
pub(crate) mod settle;
pub(crate) mod transfer;

use std::time::Duration;

use queue_core::{
    AttemptOutcome, AttemptRecord, AttemptReport, Job, JobId, JobSpec, JobState, Timestamp,
    WorkerId,
};
use queue_store::{ClaimRequest, JobQuery, Store};

/// A fresh, empty queue on one backend, with a clock the test moves.
pub(crate) trait Harness {
    /// The store under test. Its clock starts on a whole millisecond, the
    /// resolution at which stores keep times.
    fn store(&self) -> &dyn Store;

    /// Moves the store's clock forward by `by`.
    fn advance(&self, by: Duration);

    /// A second store on the same queue, opened afresh as another process
    /// would open it, sharing the clock.
    fn reopen(&self) -> Box<dyn Store>;
}

/// Expands every suite function into a `#[test]` that runs it against a fresh
/// harness from `$new_harness`, a function or closure taking no arguments and
/// returning `Option<impl Harness>`; with `None` the test returns at once.
macro_rules! conformance_tests {
    ($new_harness:expr) => {
        $crate::conformance::conformance_tests!(@each $new_harness;
            enqueue::enqueue_returns_ids_in_order,
            enqueue::enqueue_keeps_every_field_of_the_spec,
            enqueue::batch_with_an_id_already_stored_stores_nothing,
            enqueue::batch_repeating_an_id_stores_nothing,
            enqueue::batch_with_an_invalid_spec_is_refused_by_index,
            enqueue::unset_options_take_the_configured_defaults,
            claim::claim_takes_higher_priority_first,
            claim::claim_takes_earlier_run_at_then_enqueue_order,
            claim::claim_returns_a_batch_in_claim_order,
            claim::delayed_jobs_are_claimed_only_once_due,
            claim::claim_returns_at_most_the_limit,
            claim::claim_counts_an_attempt_and_stamps_owner_and_lease,
            claim::claim_filters_by_kind,
            claim::concurrent_claimers_claim_each_job_exactly_once,
            settle::success_completes_and_keeps_the_output,
            settle::failure_backs_off_exponentially_then_dies,
            settle::never_retry_goes_dead_at_once,
            settle::retry_after_uses_the_given_delay,
            settle::report_from_another_worker_is_stale,
            settle::report_for_an_old_attempt_is_stale,
            settle::report_after_rescue_is_stale,
            settle::report_from_before_a_revive_is_stale,
            settle::repeated_report_after_a_revive_in_the_same_instant_is_stale,
            settle::results_follow_the_order_of_the_reports,
            settle::a_mixed_batch_settles_each_held_job_by_its_own_report,
            settle::a_job_reported_twice_in_one_batch_is_settled_once,
            settle::settle_and_claim_settles_then_claims_in_claim_order,
            leases::renew_returns_exactly_the_held_jobs_and_extends_them,
            leases::rescued_job_drops_out_of_renewal,
            leases::rescue_takes_only_lapsed_leases,
            leases::rescue_kills_a_job_out_of_retries,
            leases::renewal_before_expiry_prevents_rescue,
            leases::release_makes_the_job_due_now_without_charging,
            leases::release_by_another_worker_changes_nothing,
            output::output_update_lands_for_the_holder_while_processing,
            output::output_update_from_another_worker_changes_nothing,
            output::output_update_after_the_attempt_ended_changes_nothing,
            output::output_update_after_release_or_rescue_changes_nothing,
            output::output_of_a_new_attempt_starts_empty_and_old_claims_are_refused,
            output::recorded_output_stays_unless_the_end_of_the_attempt_replaces_it,
            operator::revive_brings_a_dead_job_back_with_attempts_reset,
            operator::revive_of_a_live_job_is_refused_and_changes_nothing,
            operator::revive_and_cancel_of_a_missing_job_are_not_found,
            operator::cancel_sends_waiting_jobs_to_dead,
            operator::cancel_of_started_or_finished_jobs_is_refused,
            reads::attempts_record_the_timeline_of_each_attempt,
            reads::list_filters_by_state_in_claim_order,
            reads::list_of_finished_states_is_most_recently_updated_first,
            reads::list_without_state_is_newest_first,
            reads::list_pages_with_limit_and_offset,
            reads::list_text_matches_id_or_command,
            reads::counts_stay_exact_through_every_transition,
            reads::counts_stay_exact_under_concurrent_writers,
            reads::finished_per_minute_counts_completed_and_dead_jobs,
            reads::oldest_pending_is_the_one_waiting_longest,
            settings::config_starts_at_the_defaults,
            settings::config_changes_persist_for_new_handles,
            settings::invalid_config_is_refused_and_changes_nothing,
            settings::worker_registry_tracks_heartbeats_and_stop_requests,
            transfer::export_hands_over_every_job_with_its_timeline,
            transfer::export_stops_when_the_receiver_fails,
            transfer::import_keeps_records_and_releases_running_jobs,
            transfer::import_with_a_taken_or_repeated_id_stores_nothing,
        );
    };
    (@each $new_harness:expr; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let Some(harness) = $new_harness() else {
                    return;
                };
                $crate::conformance::$module::$name(&harness);
            }
        )*
    };
}

pub(crate) use conformance_tests;

/// The lease the suite's claims take unless a test needs another.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `time` plus `n` whole seconds.
pub(crate) fn plus(time: Timestamp, n: i64) -> Timestamp {
    time + chrono::Duration::seconds(n)
}

pub(crate) fn id(text: &str) -> JobId {
    JobId::new(text).unwrap()
}

pub(crate) fn worker(name: &str) -> WorkerId {
    WorkerId::from_stored(name)
}

/// A shell job with a chosen id.
pub(crate) fn shell(job_id: &str, command: &str) -> JobSpec {
    JobSpec::shell(command).with_id(id(job_id))
}

pub(crate) fn enqueue(store: &dyn Store, specs: Vec<JobSpec>) -> Vec<JobId> {
    store.enqueue(specs).unwrap()
}

/// The stored job, which must exist.
pub(crate) fn job(store: &dyn Store, id: &JobId) -> Job {
    store
        .job(id)
        .unwrap()
        .unwrap_or_else(|| panic!("job {id} is missing"))
}

pub(crate) fn claim(store: &dyn Store, worker: &WorkerId, limit: usize) -> Vec<Job> {
    claim_for(store, worker, limit, LEASE)
}

pub(crate) fn claim_for(
    store: &dyn Store,
    worker: &WorkerId,
    limit: usize,
    lease: Duration,
) -> Vec<Job> {
    let request = ClaimRequest {
        worker,
        limit,
        lease,
        kinds: &[],
    };
    store.claim(&request).unwrap()
}

/// Claims with a limit of one and expects exactly `expected`.
pub(crate) fn claim_one(store: &dyn Store, worker: &WorkerId, expected: &JobId) -> Job {
    let claimed = claim(store, worker, 1);
    assert_eq!(
        ids(&claimed),
        std::slice::from_ref(expected),
        "the claim took another job"
    );
    claimed.into_iter().next().unwrap()
}

pub(crate) fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|job| job.id.clone()).collect()
}

/// A report on a claimed `job` with `outcome`, ending now.
pub(crate) fn report(store: &dyn Store, job: &Job, outcome: AttemptOutcome) -> AttemptReport {
    AttemptReport {
        job_id: job.id.clone(),
        attempt: job.attempts,
        outcome,
        exit_code: None,
        stdout: None,
        stderr: None,
        started_at: job.started_at.expect("a claimed job has started"),
        finished_at: store.now(),
    }
}

/// Settles one report as `worker` and returns the result.
pub(crate) fn settle_one(
    store: &dyn Store,
    worker: &WorkerId,
    report: AttemptReport,
) -> queue_store::Settled {
    let results = store.settle(worker, &[report]).unwrap();
    assert_eq!(results.len(), 1);
    results[0]
}

/// Everything the store knows about one job, to show that nothing changed.
pub(crate) fn snapshot(store: &dyn Store, id: &JobId) -> (Option<Job>, Vec<AttemptRecord>) {
    (store.job(id).unwrap(), store.attempts(id).unwrap())
}

/// Every job in `state`, in the store's order for it.
pub(crate) fn list_state(store: &dyn Store, state: JobState) -> Vec<JobId> {
    let query = JobQuery {
        state: Some(state),
        limit: 10_000,
        ..JobQuery::default()
    };
    ids(&store.list(&query).unwrap())
}
