//! Typed payloads: encoded by the client, decoded before the handler runs.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crossbeam_channel::Sender;
use queue_core::{JobSpec, JobState};
use queue_store::Store;
use queue_worker::{Client, JobContext, JobError, TypedHandler, WorkerPool};
use serde::{Deserialize, Serialize};

use crate::support::{DEADLINE, queue};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Size {
    Small,
    Custom { width: u32, height: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Thumbnail {
    image: String,
    sizes: Vec<Size>,
    caption: Option<String>,
    tags: BTreeMap<String, i64>,
}

fn sample() -> Thumbnail {
    Thumbnail {
        image: "cat \u{1f408}.png".into(),
        sizes: vec![
            Size::Small,
            Size::Custom {
                width: 640,
                height: 480,
            },
        ],
        caption: None,
        tags: BTreeMap::from([("likes".into(), -3), ("views".into(), i64::MAX)]),
    }
}

/// A value enqueued by the client reaches the handler equal to itself.
#[test]
fn a_typed_payload_round_trips_through_the_queue() {
    let queue = queue();
    let (sent, received) = crossbeam_channel::unbounded();
    let pool = WorkerPool::builder(queue.shared())
        .typed("thumbnail", move |_ctx: &JobContext, job: Thumbnail| {
            sent.send(job)
                .map_err(|_| JobError::permanent("test is gone"))
        })
        .start()
        .unwrap();

    let id = pool.client().enqueue("thumbnail", &sample()).unwrap();
    let decoded = received.recv_timeout(DEADLINE).expect("the handler ran");
    assert_eq!(decoded, sample());

    pool.handle().shutdown_when_idle();
    pool.join().unwrap();
    assert_eq!(queue.job(&id).state, JobState::Completed);
}

/// A payload of the wrong shape never reaches the handler: the attempt fails
/// for good, and the error names the expected type and what did not match.
#[test]
fn a_payload_that_does_not_decode_fails_permanently_with_a_clear_error() {
    let queue = queue();
    let wrong = serde_json::json!({"image": 7});
    let spec = JobSpec::new("thumbnail", wrong).with_max_retries(5);
    let id = queue.store.enqueue(vec![spec]).unwrap().remove(0);

    let called = std::sync::Arc::new(Mutex::new(false));
    let flag = called.clone();
    let pool = WorkerPool::builder(queue.shared())
        .typed("thumbnail", move |_ctx: &JobContext, _job: Thumbnail| {
            *flag.lock().unwrap() = true;
            Ok(())
        })
        .start()
        .unwrap();
    pool.handle().shutdown_when_idle();
    pool.join().unwrap();

    let job = queue.job(&id);
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(job.attempts, 1);
    let error = job.last_error.unwrap();
    assert!(
        error.contains("payload of \"thumbnail\" job does not match"),
        "{error}"
    );
    assert!(error.contains("Thumbnail"), "{error}");
    assert!(
        error.contains("invalid type: integer `7`, expected a string"),
        "{error}"
    );
    assert!(!*called.lock().unwrap());
}

struct Forward {
    to: Sender<(u32, Vec<u8>)>,
}

impl TypedHandler for Forward {
    type Payload = Vec<u8>;

    fn run(&self, ctx: &JobContext, bytes: Vec<u8>) -> Result<(), JobError> {
        self.to
            .send((ctx.attempt(), bytes))
            .map_err(|_| JobError::permanent("test is gone"))
    }
}

/// A type implementing `TypedHandler` gets its payload decoded, and a job
/// stored without a payload decodes as `null` for a `()` payload.
#[test]
fn typed_handler_types_and_empty_payloads_decode() {
    let queue = queue();
    let (sent, received) = crossbeam_channel::unbounded();
    let (ticks, ticked) = crossbeam_channel::unbounded();
    let client = Client::new(queue.shared());
    client.enqueue("forward", &[1_u8, 2, 3]).unwrap();
    let spec = JobSpec::from_json(r#"{"kind":"tick"}"#).unwrap();
    client.enqueue_spec(spec).unwrap();

    let pool = WorkerPool::builder(queue.shared())
        .typed_handler("forward", Forward { to: sent })
        .typed("tick", move |_ctx: &JobContext, (): ()| {
            ticks
                .send(())
                .map_err(|_| JobError::permanent("test is gone"))
        })
        .poll_interval(Duration::from_millis(20))
        .start()
        .unwrap();

    assert_eq!(received.recv_timeout(DEADLINE).unwrap(), (1, vec![1, 2, 3]));
    ticked.recv_timeout(DEADLINE).expect("the tick ran");
    pool.handle().shutdown_when_idle();
    assert_eq!(pool.join().unwrap().completed, 2);
}
