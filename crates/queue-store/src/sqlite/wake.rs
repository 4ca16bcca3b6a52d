//! Wake-ups across processes on one machine: a worker listens on a Unix
//! datagram socket named after its registry id, and every write that makes
//! jobs due sends one datagram to each registered worker.
//!
//! The sockets live in Linux's abstract namespace, so they need no file, leave
//! nothing behind when a worker dies and have no path-length limit; a worker
//! on another host, or one that died, simply does not receive. A wake-up is
//! only a hint: workers still poll, so a lost datagram costs one poll
//! interval, never a job.

use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use queue_core::WorkerId;
use rusqlite::Connection;

use crate::{Result, StoreError, WakeSource};

/// The abstract socket name of a worker's wake-up listener.
fn address(worker: &WorkerId) -> std::io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(format!("queuectl-wake:{worker}").as_bytes())
}

/// Listens for wake-ups addressed to one worker.
pub(super) struct SocketWake {
    socket: UnixDatagram,
}

impl SocketWake {
    pub(super) fn bind(worker: &WorkerId) -> Result<Self> {
        let socket = address(worker)
            .and_then(|address| UnixDatagram::bind_addr(&address))
            .map_err(|err| StoreError::Backend(Box::new(err)))?;
        Ok(Self { socket })
    }
}

impl WakeSource for SocketWake {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        // A zero timeout would mean "block forever" to the socket.
        let timeout = timeout.max(Duration::from_millis(1));
        self.socket
            .set_read_timeout(Some(timeout))
            .map_err(|err| StoreError::Backend(Box::new(err)))?;
        let mut buffer = [0u8; 1];
        match self.socket.recv(&mut buffer) {
            Ok(_) => {
                // Many enqueues in a burst are one reason to claim.
                self.socket.set_nonblocking(true).ok();
                while self.socket.recv(&mut buffer).is_ok() {}
                self.socket.set_nonblocking(false).ok();
                Ok(true)
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Ok(false)
            }
            Err(err) => Err(StoreError::Backend(Box::new(err))),
        }
    }
}

/// Tells every registered worker that jobs may be due. Failures are ignored:
/// the workers' polling covers a wake-up that did not arrive.
pub(super) fn poke(conn: &Connection) {
    let workers: Vec<String> = match conn
        .prepare_cached("SELECT id FROM workers")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
    {
        Ok(workers) => workers,
        Err(err) => {
            tracing::debug!(error = %err, "cannot list workers to wake");
            return;
        }
    };
    if workers.is_empty() {
        return;
    }
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    // A worker that is busy and has a full socket buffer needs no wake-up.
    socket.set_nonblocking(true).ok();
    for worker in workers {
        if let Ok(address) = address(&WorkerId::from_stored(worker)) {
            let _ = socket.send_to_addr(&[1], &address);
        }
    }
}
