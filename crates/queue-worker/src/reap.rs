//! Reaping what shell jobs leave behind, so that no zombie outlives its job.
//!
//! When a job's shell dies before its children (as it does when the whole
//! process group is signalled), the children are orphans, and the kernel
//! gives them to the nearest ancestor that is a child subreaper, or else to
//! PID 1. A process given to PID 1 stays a zombie, and a member of its
//! group, until PID 1 gets round to reaping it, and some init processes are
//! slow at that: the group looks alive, and a stopping job waits for it.
//! [`become_subreaper`] makes the worker that ancestor, so it reaps the
//! orphans itself as soon as they die.
//!
//! Reaping must never take the exit status of a shell that a
//! `std::process::Child` is still waiting for: that wait would then fail.
//! Group members are reaped by group only once their shell has been reaped
//! (a group's orphans are the only other children in it), and the sweep for
//! orphans that left their group skips every shell still tracked here.
//! Shells are spawned under a shared gate that the sweep takes exclusively,
//! so the sweep cannot see one before it is tracked, while executors still
//! spawn their shells side by side.

use std::collections::BTreeMap;
use std::io;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use nix::errno::Errno;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

/// Whether this process has become a child subreaper.
static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// The shells whose `Child` has yet to reap them, by pid, with a count in
/// case a pid is reused before its first holder is untracked.
static SHELLS: Mutex<BTreeMap<i32, u32>> = Mutex::new(BTreeMap::new());

/// Held shared from a shell's spawn until it is tracked, and exclusively by
/// the sweep. A spawn takes as long as the shell's `exec`; one lock for both
/// would let only one executor of the process spawn at a time.
static SPAWNING: RwLock<()> = RwLock::new(());

fn shells() -> MutexGuard<'static, BTreeMap<i32, u32>> {
    SHELLS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes this process a child subreaper (Linux's `PR_SET_CHILD_SUBREAPER`):
/// orphaned descendants, such as the children of a job's shell that dies
/// first, become its children instead of PID 1's, and every
/// [`ShellHandler`](crate::ShellHandler) of the process reaps them when
/// their job ends. Without it, a job being stopped can wait for PID 1 to
/// reap its orphans, up to the kill grace.
///
/// Call it once, early, in a process that runs shell jobs and starts no
/// other child processes that outlive their parents: the orphans of those
/// would become this process's children too, and the handlers would reap
/// them. The `queuectl` worker calls it. Calling it again does nothing.
///
/// Fails with [`io::ErrorKind::Unsupported`] outside Linux.
pub fn become_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)?;
        SUBREAPER.store(true, Ordering::SeqCst);
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "child subreapers exist only on Linux",
        ))
    }
}

/// A shell spawned and tracked until its `Child` has reaped it; dropping
/// this ends the tracking, so drop it only after that.
pub(crate) struct TrackedShell {
    pid: i32,
}

impl Drop for TrackedShell {
    fn drop(&mut self) {
        let mut shells = shells();
        if let Some(count) = shells.get_mut(&self.pid) {
            *count -= 1;
            if *count == 0 {
                shells.remove(&self.pid);
            }
        }
    }
}

/// Spawns `command` and tracks the child, so that no sweep reaps it.
pub(crate) fn spawn_tracked(command: &mut Command) -> io::Result<(Child, TrackedShell)> {
    let _spawning = SPAWNING.read().unwrap_or_else(PoisonError::into_inner);
    let child = command.spawn()?;
    // Linux pids are at most 2^22 (`pid_max`), so the cast cannot wrap.
    let pid = child.id() as i32;
    *shells().entry(pid).or_insert(0) += 1;
    Ok((child, TrackedShell { pid }))
}

/// Reaps every child of this process in process group `pgid` that has
/// exited. Call it only once the group's shell has been reaped.
///
/// Known limitation: as with `ProcessGroup::signal` in `shell`, an empty
/// group's id may be reused. A reused id names children of this process
/// only if one of its own shells leads the new group, which needs a full
/// wrap of the pid space within the moments this runs.
pub(crate) fn reap_group(pgid: Pid) {
    let group = Pid::from_raw(-pgid.as_raw());
    loop {
        match waitpid(group, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => {
                tracing::debug!(pgid = pgid.as_raw(), %err, "cannot reap the job's group");
                return;
            }
        }
    }
}

/// Reaps the orphans that left their job's group (`setsid`) and have since
/// exited, when this process is a subreaper; otherwise they are PID 1's.
pub(crate) fn sweep_orphans() {
    if !SUBREAPER.load(Ordering::SeqCst) || !any_child_exited() {
        return;
    }
    // Listed before the gate is taken: a shell spawned since is not listed,
    // and one spawned before is tracked once the gate is ours.
    let children = children();
    let _no_spawns = SPAWNING.write().unwrap_or_else(PoisonError::into_inner);
    let shells = shells();
    for pid in children {
        if !shells.contains_key(&pid) {
            // A child still running is left alone; one that exited is reaped.
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// Whether some child of this process that no `Child` tracks may have
/// exited. One look that reaps nothing (`WNOWAIT`) spares the common case,
/// where nothing is left over, a walk through `/proc` after every job.
///
/// The look names one exited child. When that is a shell another executor
/// has yet to reap, as it often is while short jobs run side by side, an
/// exited orphan behind it waits for a later sweep, after some later job.
fn any_child_exited() -> bool {
    let peek = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::All, peek) {
        Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => false,
        Ok(status) => status
            .pid()
            .is_none_or(|pid| !shells().contains_key(&pid.as_raw())),
        // An error other than "no children" is not proof that none exited.
        Err(_) => true,
    }
}

/// This process's children, from `/proc/self/task/*/children`.
fn children() -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}
