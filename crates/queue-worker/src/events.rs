//! Lifecycle events: what a pool tells an application about each attempt,
//! and the thread that delivers them to the application's hooks.
//!
//! The coordinator knows how every attempt was settled, so it is the source
//! of events, except `Started`: a claimed job may wait in the pool's
//! prefetch, so the executor that takes it says when it really starts, before
//! it reports the end. The coordinator also renews leases, and a slow hook must never make a
//! pool lose its jobs. So the coordinator only offers each event to a
//! bounded channel, and a thread of its own calls the hooks. When the hooks
//! fall more than [`EVENT_BUFFER`] events behind, further events are dropped
//! and counted in [`PoolSummary::dropped_events`](crate::PoolSummary).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use queue_core::{JobId, Timestamp};

/// How many events may wait for the hooks before new ones are dropped.
pub const EVENT_BUFFER: usize = 1024;

/// A hook registered with [`PoolBuilder::on_event`](crate::PoolBuilder::on_event).
pub(crate) type EventHook = Arc<dyn Fn(&JobEvent) + Send + Sync>;

/// Which attempt of which job an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRef {
    /// The job's id.
    pub job_id: JobId,
    /// The job's kind.
    pub kind: String,
    /// The attempt's number, from 1.
    pub number: u32,
}

/// Something that happened to an attempt in a pool.
///
/// A pool delivers the events about its attempts in the order they happened,
/// on one thread of its own, to the hooks given to
/// [`PoolBuilder::on_event`](crate::PoolBuilder::on_event). Every attempt
/// starts with [`Started`](JobEvent::Started) and ends with one of the other
/// events, except when the pool could not record its end at all (the store
/// failed while the pool was stopping); the lease then brings the job back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobEvent {
    /// An executor took the job and is handing it to a handler. A job that
    /// waited in the prefetch and was given back at shutdown never starts.
    Started(AttemptRef),
    /// The attempt succeeded; the job is `completed`.
    Completed {
        /// The attempt.
        attempt: AttemptRef,
        /// How long the handler ran.
        duration: Duration,
    },
    /// The attempt failed and the job will run again: it is `failed`.
    Failed {
        /// The attempt.
        attempt: AttemptRef,
        /// Why it failed.
        error: String,
        /// When the job is due again.
        retry_at: Timestamp,
        /// How long the handler ran.
        duration: Duration,
    },
    /// The attempt failed and the job will not run again: it is `dead`, in
    /// the dead-letter queue.
    Dead {
        /// The attempt.
        attempt: AttemptRef,
        /// Why it failed.
        error: String,
        /// How long the handler ran.
        duration: Duration,
    },
    /// The pool shut down before the attempt finished and gave the job back:
    /// it is `pending` again, and the attempt does not count.
    Released(AttemptRef),
    /// The pool lost the job's lease while the attempt ran (the store was
    /// unreachable for too long); another worker may run the job, and this
    /// attempt's result will be dropped.
    Lost(AttemptRef),
}

impl JobEvent {
    /// The attempt the event is about.
    pub fn attempt(&self) -> &AttemptRef {
        match self {
            JobEvent::Started(attempt)
            | JobEvent::Released(attempt)
            | JobEvent::Lost(attempt)
            | JobEvent::Completed { attempt, .. }
            | JobEvent::Failed { attempt, .. }
            | JobEvent::Dead { attempt, .. } => attempt,
        }
    }
}

/// A producer's end: offers events without ever blocking. The coordinator
/// holds one, and each executor a clone for the `Started` of the jobs it
/// takes; the clones share the count of dropped events.
pub(crate) struct EventSink {
    events: Option<Sender<JobEvent>>,
    dropped: Arc<AtomicU64>,
    /// Whether the last offer was dropped, so a backlog is logged once.
    lagging: bool,
}

impl EventSink {
    /// A sink that delivers nothing, for a pool without hooks.
    pub(crate) fn disabled() -> Self {
        Self {
            events: None,
            dropped: Arc::new(AtomicU64::new(0)),
            lagging: false,
        }
    }

    /// Whether anybody listens; events are not even built otherwise.
    pub(crate) fn is_enabled(&self) -> bool {
        self.events.is_some()
    }

    pub(crate) fn emit(&mut self, event: impl FnOnce() -> JobEvent) {
        let Some(events) = &self.events else { return };
        match events.try_send(event()) {
            Ok(()) => self.lagging = false,
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if !self.lagging {
                    tracing::warn!(
                        buffer = EVENT_BUFFER,
                        "event hooks are falling behind; dropping job events"
                    );
                    self.lagging = true;
                }
            }
            // The listener catches hook panics and ends only after the sink
            // is dropped, so this means it died of something else.
            Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many events were dropped so far, by this sink and its clones.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Clone for EventSink {
    fn clone(&self) -> Self {
        Self {
            events: self.events.clone(),
            dropped: Arc::clone(&self.dropped),
            lagging: false,
        }
    }
}

/// Starts the thread that calls `hooks` for every event, and returns the
/// sink that feeds it. The thread ends once the sink is dropped and every
/// buffered event has been delivered.
pub(crate) fn spawn_listener(
    hooks: Vec<EventHook>,
) -> std::io::Result<(EventSink, JoinHandle<()>)> {
    let (events, received) = crossbeam_channel::bounded(EVENT_BUFFER);
    let thread = std::thread::Builder::new()
        .name("queue-events".into())
        .spawn(move || deliver(&hooks, &received))?;
    Ok((
        EventSink {
            events: Some(events),
            dropped: Arc::new(AtomicU64::new(0)),
            lagging: false,
        },
        thread,
    ))
}

fn deliver(hooks: &[EventHook], received: &Receiver<JobEvent>) {
    for event in received.iter() {
        for hook in hooks {
            // A hook is application code; its panic must not end delivery
            // to the others or of later events.
            if catch_unwind(AssertUnwindSafe(|| hook(&event))).is_err() {
                tracing::error!(
                    job_id = %event.attempt().job_id,
                    attempt = event.attempt().number,
                    "an event hook panicked"
                );
            }
        }
    }
}
