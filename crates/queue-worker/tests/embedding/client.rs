//! The client: the options of the command line, batches, and waking a pool.

use std::time::{Duration, Instant};

use queue_core::{JobId, JobSpec, JobState};
use queue_store::{Store, StoreError};
use queue_worker::{Client, JobContext, WorkerPool};

use crate::support::{DEADLINE, pinned_now, pinned_queue, queue};

/// Every option the command line's `enqueue` has is stored as given.
#[test]
fn enqueue_spec_stores_every_option() {
    let queue = pinned_queue();
    let client = Client::new(queue.shared());
    let spec = JobSpec::typed("report", &"weekly")
        .unwrap()
        .with_id(JobId::new("report-week-23").unwrap())
        .with_priority(7)
        .with_delay(Duration::from_secs(30))
        .with_timeout_secs(12)
        .with_max_retries(9);
    let id = client.enqueue_spec(spec).unwrap();
    assert_eq!(id.as_str(), "report-week-23");

    let job = queue.job(&id);
    assert_eq!(job.kind, "report");
    assert_eq!(job.payload, Some(serde_json::json!("weekly")));
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.priority, 7);
    assert_eq!(job.run_at, pinned_now() + chrono::Duration::seconds(30));
    assert_eq!(job.timeout_secs, 12);
    assert_eq!(job.max_retries, 9);

    let at = pinned_now() + chrono::Duration::days(1);
    let id = client.enqueue_spec(JobSpec::typed("report", &"daily").unwrap().with_run_at(at));
    assert_eq!(queue.job(&id.unwrap()).run_at, at);
}

/// A batch is stored whole or not at all.
#[test]
fn a_batch_with_a_taken_id_stores_nothing() {
    let queue = queue();
    let client = Client::new(queue.shared());
    let taken = JobId::new("taken").unwrap();
    client
        .enqueue_spec(JobSpec::typed("mail", &1).unwrap().with_id(taken.clone()))
        .unwrap();

    let batch = vec![
        JobSpec::typed("mail", &2).unwrap(),
        JobSpec::typed("mail", &3).unwrap().with_id(taken.clone()),
    ];
    let err = client.enqueue_batch(batch).unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref id) if *id == taken),
        "{err}"
    );
    assert_eq!(queue.store.counts().unwrap().total(), 1);

    let ids = client
        .enqueue_batch((0..50).map(|n| JobSpec::typed("mail", &n).unwrap()))
        .unwrap();
    assert_eq!(ids.len(), 50);
    assert_eq!(queue.store.counts().unwrap().pending, 51);
}

/// A payload that JSON cannot hold is refused before anything is stored.
#[test]
fn a_payload_json_cannot_hold_is_refused() {
    let queue = queue();
    let tuple_keys = std::collections::HashMap::from([((1, 2), 3)]);
    let err = Client::new(queue.shared())
        .enqueue("mail", &tuple_keys)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidSpec { index: 0, .. }),
        "{err}"
    );
    assert_eq!(queue.store.counts().unwrap().total(), 0);
}

/// A client from the pool wakes it: a job enqueued while the pool sleeps
/// out a long poll interval starts at once.
#[test]
fn the_pools_client_wakes_an_idle_pool() {
    let queue = queue();
    let client = Client::new(queue.shared());
    let first = client.enqueue("ping", &()).unwrap();
    let poll = Duration::from_secs(600);
    let (ran, done) = crossbeam_channel::unbounded();
    let pool = WorkerPool::builder(queue.shared())
        .typed("ping", move |_ctx: &JobContext, (): ()| {
            let _ = ran.send(Instant::now());
            Ok(())
        })
        .poll_interval(poll)
        .start()
        .unwrap();
    // Once the first job is settled, the pool's next claim finds nothing and
    // it sleeps for the poll interval; only a wake-up starts the second job.
    done.recv_timeout(DEADLINE).expect("the first job ran");
    queue.wait_for_state(&first, JobState::Completed);

    let enqueued = Instant::now();
    let second = pool.client().enqueue("ping", &()).unwrap();
    let started = done
        .recv_timeout(DEADLINE)
        .expect("the woken pool ran the job");
    assert!(started - enqueued < poll);

    pool.handle().shutdown();
    pool.join().unwrap();
    assert_eq!(queue.job(&second).state, JobState::Completed);
}
