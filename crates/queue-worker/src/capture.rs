//! Bounded capture of a child's output: the job's pipes are drained on the
//! thread that supervises it, and only the last bytes of each are kept.
//!
//! A job may print far more than is worth storing, so memory must stay
//! bounded whatever it prints (design invariant 6). [`TailBuffer`] keeps the
//! last `limit` bytes and counts the rest; [`OutputPump`] reads both pipes
//! with one `poll(2)`, which can also watch one more descriptor (the shell's
//! pidfd), so the supervising thread waits for output and for the exit at
//! once, and no thread is started per job. It keeps reading until end of file
//! even once a buffer is full, because a child blocked on a full pipe would
//! never finish. After each chunk it marks the attempt's [`LiveOutput`]
//! changed, so the pool can store the tail while the job still runs.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;

use crate::live::{LiveOutput, SharedTail};

/// How much one `read` asks for: the default capacity of a Linux pipe.
const READ_CHUNK_BYTES: usize = 64 * 1024;

thread_local! {
    /// The buffer `read` fills, one per thread and kept from job to job:
    /// zeroing a fresh one for every job cost more than the whole output of
    /// a job that prints nothing.
    static READ_CHUNK: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The last `limit` bytes of a stream, and how many bytes came before them.
#[derive(Debug)]
pub(crate) struct TailBuffer {
    limit: usize,
    kept: VecDeque<u8>,
    omitted: u64,
}

impl TailBuffer {
    /// An empty buffer that keeps at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            kept: VecDeque::new(),
            omitted: 0,
        }
    }

    /// Appends `bytes`, dropping the oldest bytes beyond the limit.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.limit {
            // The new bytes alone fill the buffer: everything kept so far goes,
            // and so does the head of `bytes`.
            let skipped = bytes.len() - self.limit;
            self.omitted += byte_count(self.kept.len()) + byte_count(skipped);
            self.kept.clear();
            self.kept.extend(&bytes[skipped..]);
            return;
        }

        let overflow = (self.kept.len() + bytes.len()).saturating_sub(self.limit);
        self.kept.drain(..overflow);
        self.omitted += byte_count(overflow);
        self.kept.extend(bytes);
    }

    /// The kept tail as lossy UTF-8, after a marker line when bytes were
    /// dropped; `None` when the stream carried no bytes at all.
    ///
    /// A cut may land inside a multi-byte character; lossy decoding turns the
    /// broken piece into U+FFFD instead of failing, as it does for binary
    /// output.
    pub(crate) fn render(&self) -> Option<String> {
        if self.omitted == 0 && self.kept.is_empty() {
            return None;
        }

        let (front, back) = self.kept.as_slices();
        let mut bytes = Vec::with_capacity(front.len() + back.len());
        bytes.extend_from_slice(front);
        bytes.extend_from_slice(back);
        let tail = String::from_utf8_lossy(&bytes);

        if self.omitted == 0 {
            Some(tail.into_owned())
        } else {
            Some(format!("[... {} bytes omitted ...]\n{tail}", self.omitted))
        }
    }
}

/// Widens a length for the omitted-bytes counter; `usize` fits in `u64` on
/// every target Rust supports, and saturating keeps this free of panics.
fn byte_count(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// One of the job's pipes and the tail it fills.
#[derive(Debug)]
struct Stream {
    /// `None` once the pipe reached its end (or failed) and was closed.
    pipe: Option<File>,
    tail: SharedTail,
}

/// Drains a job's stdout and stderr into their [`TailBuffer`]s on the
/// calling thread, a `poll(2)` at a time.
#[derive(Debug)]
pub(crate) struct OutputPump {
    /// Stdout, then stderr; `None` for a stream that was not piped.
    streams: [Option<Stream>; 2],
    live: LiveOutput,
}

impl OutputPump {
    /// Takes the pipes, keeping the last `limit` bytes of each, and attaches
    /// the tails to `live`, so the pool can store them while the job runs.
    pub(crate) fn new(
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
        limit: usize,
        live: LiveOutput,
    ) -> Self {
        let stream = |pipe: Option<OwnedFd>| {
            pipe.map(|pipe| Stream {
                pipe: Some(File::from(pipe)),
                tail: Arc::new(Mutex::new(TailBuffer::new(limit))),
            })
        };
        let (stdout, stderr) = (stream(stdout), stream(stderr));
        live.attach(
            stdout.as_ref().map(|s| Arc::clone(&s.tail)),
            stderr.as_ref().map(|s| Arc::clone(&s.tail)),
        );
        Self {
            streams: [stdout, stderr],
            live,
        }
    }

    /// Whether a pipe is still open, that is, may still carry output.
    pub(crate) fn is_open(&self) -> bool {
        self.streams
            .iter()
            .flatten()
            .any(|stream| stream.pipe.is_some())
    }

    /// Waits up to `timeout` for output, for the end of a pipe or for
    /// `watch` to become readable, reads what is ready, and says whether
    /// `watch` is readable. With nothing to watch and no pipe open, it just
    /// sleeps for `timeout`.
    pub(crate) fn pump(&mut self, watch: Option<BorrowedFd<'_>>, timeout: Duration) -> bool {
        let open: Vec<usize> = (0..self.streams.len())
            .filter(|&i| self.pipe(i).is_some())
            .collect();
        let mut fds: Vec<PollFd<'_>> = open
            .iter()
            .filter_map(|&i| self.pipe(i))
            .map(|pipe| PollFd::new(pipe, PollFlags::IN))
            .chain(watch.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)))
            .collect();
        // A timeout beyond what `Timespec` holds is as good as none.
        let timeout = Timespec::try_from(timeout).ok();
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {}
            // A signal (SIGCHLD, say) cut the wait short: nothing is ready.
            Err(Errno::INTR) => return false,
            Err(err) => {
                // A poll that cannot be made must not turn into a busy loop.
                tracing::debug!(%err, "cannot poll the job's pipes");
                thread::sleep(timeout.map_or(Duration::ZERO, |_| Duration::from_millis(5)));
                return false;
            }
        }
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        for (&i, _) in open.iter().zip(&ready).filter(|(_, ready)| **ready) {
            self.read_once(i);
        }
        watch.is_some() && ready.last().copied().unwrap_or(false)
    }

    /// Reads one chunk from stream `i`, which `poll` found ready, so the
    /// read does not block; closes the pipe at its end.
    fn read_once(&mut self, i: usize) {
        let Some(Stream { pipe, tail }) = self.streams[i].as_mut() else {
            return;
        };
        let Some(file) = pipe.as_mut() else {
            return;
        };
        let read = READ_CHUNK.with_borrow_mut(|chunk| {
            if chunk.is_empty() {
                chunk.resize(READ_CHUNK_BYTES, 0);
            }
            let read = file.read(chunk);
            if let Ok(n @ 1..) = read {
                tail.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(&chunk[..n]);
            }
            read
        });
        match read {
            Ok(0) => *pipe = None,
            Ok(_) => self.live.mark_changed(),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            // Any other error means the pipe is unusable; what was read so
            // far is still worth keeping, so stop quietly.
            Err(_) => *pipe = None,
        }
    }

    /// Reads the pipes to their end, for up to `wait`, then returns the kept
    /// text of stdout and stderr (see [`TailBuffer::render`]).
    ///
    /// Known limitation: a process that left the job's process group (for
    /// example through `setsid`) can hold a pipe open after the job is over.
    /// Rather than block the worker on it, this gives up after `wait`,
    /// returns what was read so far and hands the pipe to a thread that
    /// discards what comes until that process closes it, so the process is
    /// not killed by `SIGPIPE` for writing to it.
    pub(crate) fn finish(mut self, wait: Duration) -> (Option<String>, Option<String>) {
        let deadline = Instant::now() + wait;
        while self.is_open() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.pump(None, left);
        }
        let left_open = self.streams.iter_mut().flatten();
        for mut pipe in left_open.filter_map(|stream| stream.pipe.take()) {
            tracing::debug!("output stream still open after the job ended; keeping what was read");
            let discard = thread::Builder::new()
                .name("shell-output-discard".to_owned())
                .spawn(move || io::copy(&mut pipe, &mut io::sink()));
            if let Err(err) = discard {
                tracing::debug!(%err, "cannot start a thread to discard late output");
            }
        }
        let render = |stream: &Option<Stream>| {
            stream
                .as_ref()?
                .tail
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .render()
        };
        (render(&self.streams[0]), render(&self.streams[1]))
    }

    /// Stream `i`'s pipe, while it is open.
    fn pipe(&self, i: usize) -> Option<&File> {
        self.streams[i].as_ref()?.pipe.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole_without_a_marker() {
        let mut tail = TailBuffer::new(16);
        tail.push(b"hello ");
        tail.push(b"world");
        assert_eq!(tail.render().as_deref(), Some("hello world"));
        assert_eq!(tail.omitted, 0);
    }

    #[test]
    fn empty_stream_renders_as_none() {
        assert_eq!(TailBuffer::new(16).render(), None);
    }

    #[test]
    fn overflow_keeps_the_last_bytes_and_counts_the_rest() {
        let mut tail = TailBuffer::new(4);
        tail.push(b"abc");
        tail.push(b"def");
        assert_eq!(tail.omitted, 2);
        assert_eq!(
            tail.render().as_deref(),
            Some("[... 2 bytes omitted ...]\ncdef")
        );

        // A chunk at least as long as the limit replaces everything.
        tail.push(b"0123456789");
        assert_eq!(tail.omitted, 12);
        assert_eq!(
            tail.render().as_deref(),
            Some("[... 12 bytes omitted ...]\n6789")
        );
    }

    #[test]
    fn zero_limit_keeps_nothing_but_counts_everything() {
        let mut tail = TailBuffer::new(0);
        tail.push(b"abc");
        assert_eq!(
            tail.render().as_deref(),
            Some("[... 3 bytes omitted ...]\n")
        );
    }

    #[test]
    fn memory_stays_bounded_however_much_is_pushed() {
        let mut tail = TailBuffer::new(1000);
        let chunk = [b'x'; 777];
        for _ in 0..10_000 {
            tail.push(&chunk);
        }
        assert_eq!(tail.kept.len(), 1000);
        assert!(
            tail.kept.capacity() <= 2 * 1000,
            "capacity {}",
            tail.kept.capacity()
        );
        assert_eq!(tail.omitted, 777 * 10_000 - 1000);
    }

    #[test]
    fn a_cut_inside_a_character_decodes_lossily() {
        // "é" is two bytes; keeping three bytes of "éé" starts mid-character.
        let mut tail = TailBuffer::new(3);
        tail.push("éé".as_bytes());
        assert_eq!(
            tail.render().as_deref(),
            Some("[... 1 bytes omitted ...]\n\u{FFFD}é")
        );
    }

    #[test]
    fn pump_reads_a_pipe_to_its_end() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "yes abcdefghi | head -c 200000 >&2"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().map(OwnedFd::from);

        let pump = OutputPump::new(None, stderr, 100, LiveOutput::new());
        let (stdout, stderr) = pump.finish(Duration::from_secs(10));

        assert!(child.wait().unwrap().success());
        assert_eq!(stdout, None);
        assert_eq!(
            stderr.unwrap(),
            format!(
                "[... 199900 bytes omitted ...]\n{}",
                "abcdefghi\n".repeat(10)
            )
        );
    }
}
