//! A running job's output reaches the store while the job still runs.

use queue_core::{JobSpec, JobState};
use queue_worker::{Client, JobContext, ShellHandler, WorkerPool};

use crate::support::{DEADLINE, queue, wait_until};

/// What a handler publishes is stored while its job is `processing`, and
/// stays as the job's output when the handler reports none of its own.
#[test]
fn published_output_is_stored_while_the_job_runs() {
    let queue = queue();
    let (proceed, go) = crossbeam_channel::bounded::<()>(1);
    let pool = WorkerPool::builder(queue.shared())
        .typed("steps", move |ctx: &JobContext, (): ()| {
            ctx.publish_output(Some("step 1 done\n"), Some("a warning\n"));
            go.recv_timeout(DEADLINE)
                .expect("the test lets the job go on");
            ctx.publish_output(Some("step 1 done\nstep 2 done\n"), Some("a warning\n"));
            Ok(())
        })
        .start()
        .unwrap();
    let id = pool.client().enqueue("steps", &()).unwrap();

    wait_until(|| queue.job(&id).stdout.is_some());
    let running = queue.job(&id);
    assert_eq!(running.state, JobState::Processing);
    assert_eq!(running.stdout.as_deref(), Some("step 1 done\n"));
    assert_eq!(running.stderr.as_deref(), Some("a warning\n"));

    proceed.send(()).unwrap();
    let done = queue.wait_for_state(&id, JobState::Completed);
    assert_eq!(done.stdout.as_deref(), Some("step 1 done\nstep 2 done\n"));
    assert_eq!(done.stderr.as_deref(), Some("a warning\n"));
    pool.handle().shutdown();
    pool.join().unwrap();
}

/// A shell job's output so far is stored while it waits, within the output
/// limit, and its final output replaces it when it ends.
#[test]
fn a_shell_jobs_output_is_stored_while_it_runs() {
    let queue = queue();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("go-on");
    let command = format!(
        "echo first; echo oops >&2; while [ ! -e '{}' ]; do sleep 0.02; done; echo second",
        marker.display()
    );
    let pool = WorkerPool::builder(queue.shared())
        .handler("shell", ShellHandler::new())
        .start()
        .unwrap();
    let id = Client::new(queue.shared())
        .enqueue_spec(JobSpec::shell(command))
        .unwrap();

    wait_until(|| queue.job(&id).stdout.is_some());
    let running = queue.job(&id);
    assert_eq!(running.state, JobState::Processing);
    assert_eq!(running.stdout.as_deref(), Some("first\n"));
    wait_until(|| queue.job(&id).stderr.is_some());
    assert_eq!(queue.job(&id).stderr.as_deref(), Some("oops\n"));

    std::fs::write(&marker, "").unwrap();
    let done = queue.wait_for_state(&id, JobState::Completed);
    assert_eq!(done.stdout.as_deref(), Some("first\nsecond\n"));
    assert_eq!(done.stderr.as_deref(), Some("oops\n"));
    pool.handle().shutdown();
    pool.join().unwrap();
}
