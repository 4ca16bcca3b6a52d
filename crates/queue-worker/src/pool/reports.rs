//! The way finished attempts travel from executors to the coordinator: a
//! channel of reports, and a doorbell beside it.
//!
//! The coordinator usually blocks on the channel itself, so every report
//! wakes it. A prefetching pool running short jobs has nothing to do with
//! most reports but wait for enough of them to make a claim worth it, and a
//! thread wake-up per report was a large share of its time with jobs of a
//! millisecond. It can block on the doorbell instead, armed to ring once a
//! given number of reports wait in the channel; the executor whose report
//! makes that number rings it.
//!
//! A ring is never needed for correctness: the coordinator sleeps on the
//! doorbell only until a deadline of its own (the longest a report may wait
//! to be settled), so a ring missed in a race costs at most that wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering, fence};

use crossbeam_channel::{Receiver, Sender};

use super::executor::Report;

/// The channel of reports and its doorbell: the executors' end, and the
/// coordinator's two.
pub(super) fn channel() -> (ReportSender, Receiver<Report>, Doorbell) {
    let (reports, receiver) = crossbeam_channel::unbounded();
    // One ring is as good as many: the coordinator reads the channel after
    // any of them.
    let (ring, rings) = crossbeam_channel::bounded(1);
    let shared = Arc::new(Shared {
        ring_at: AtomicUsize::new(DISARMED),
        ring,
    });
    let sender = ReportSender {
        reports,
        shared: Arc::clone(&shared),
    };
    (sender, receiver, Doorbell { shared, rings })
}

/// The number of waiting reports that no channel reaches.
const DISARMED: usize = usize::MAX;

struct Shared {
    /// How many reports waiting in the channel ring the doorbell.
    ring_at: AtomicUsize,
    ring: Sender<()>,
}

/// An executor's end: sends a report and rings the doorbell if the report
/// makes the number it is armed for.
#[derive(Clone)]
pub(super) struct ReportSender {
    reports: Sender<Report>,
    shared: Arc<Shared>,
}

impl ReportSender {
    /// Sends `report`, and says whether the coordinator is still there to
    /// receive it.
    pub(super) fn send(&self, report: Report) -> bool {
        if self.reports.send(report).is_err() {
            return false;
        }
        // Paired with the fence in `Doorbell::arm`: either this sees the
        // new arming, or the coordinator sees this report in the channel.
        fence(Ordering::SeqCst);
        if self.reports.len() >= self.shared.ring_at.load(Ordering::SeqCst) {
            // Full means rung already; disconnected, that nobody listens.
            let _ = self.shared.ring.try_send(());
        }
        true
    }
}

/// The coordinator's end of the doorbell.
pub(super) struct Doorbell {
    shared: Arc<Shared>,
    rings: Receiver<()>,
}

impl Doorbell {
    /// Arms the doorbell to ring once `count` reports wait in `reports`, and
    /// says whether it is worth waiting for: false if they already do.
    /// Disarm it once the wait is over.
    pub(super) fn arm(&self, count: usize, reports: &Receiver<Report>) -> bool {
        // A ring left from an earlier arming would end this wait at once.
        while self.rings.try_recv().is_ok() {}
        self.shared.ring_at.store(count, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        reports.len() < count
    }

    /// Stops the executors from ringing: the coordinator reads the channel
    /// itself again.
    pub(super) fn disarm(&self) {
        self.shared.ring_at.store(DISARMED, Ordering::SeqCst);
    }

    /// Receives a message for every ring, for a `select!`.
    pub(super) fn rings(&self) -> &Receiver<()> {
        &self.rings
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use queue_core::{AttemptOutcome, AttemptReport, JobId};

    use super::*;

    fn report(dispatch: u64) -> Report {
        let now = Utc::now();
        Report {
            dispatch,
            report: AttemptReport {
                job_id: JobId::new(format!("job-{dispatch}")).expect("a valid id"),
                attempt: 1,
                outcome: AttemptOutcome::Succeeded,
                exit_code: None,
                stdout: None,
                stderr: None,
                started_at: now,
                finished_at: now,
            },
        }
    }

    #[test]
    fn disarmed_doorbell_never_rings() {
        let (sender, reports, doorbell) = channel();
        for dispatch in 0..5 {
            assert!(sender.send(report(dispatch)));
        }
        assert_eq!(reports.len(), 5);
        assert!(doorbell.rings().try_recv().is_err());
    }

    #[test]
    fn rings_once_the_armed_number_of_reports_wait() {
        let (sender, reports, doorbell) = channel();
        assert!(sender.send(report(0)));
        assert!(doorbell.arm(3, &reports), "one of three is in");
        assert!(sender.send(report(1)));
        assert!(doorbell.rings().try_recv().is_err(), "two of three are in");
        assert!(sender.send(report(2)));
        assert!(doorbell.rings().try_recv().is_ok(), "the third rang");
        doorbell.disarm();
        assert!(sender.send(report(3)));
        assert!(doorbell.rings().try_recv().is_err(), "disarmed again");
    }

    #[test]
    fn arming_for_reports_already_waiting_says_not_to_wait() {
        let (sender, reports, doorbell) = channel();
        assert!(sender.send(report(0)));
        assert!(sender.send(report(1)));
        assert!(!doorbell.arm(2, &reports));
        assert!(doorbell.arm(3, &reports));
    }

    #[test]
    fn arming_clears_a_ring_left_from_before() {
        let (sender, reports, doorbell) = channel();
        assert!(doorbell.arm(1, &reports));
        assert!(sender.send(report(0)));
        doorbell.disarm();
        // The ring above was never taken; a new arming must not see it.
        assert!(doorbell.arm(2, &reports));
        assert!(doorbell.rings().try_recv().is_err());
    }

    #[test]
    fn a_send_after_the_coordinator_left_fails() {
        let (sender, reports, doorbell) = channel();
        drop(reports);
        drop(doorbell);
        assert!(!sender.send(report(0)));
    }
}
