//! Bounded capture of a child's output stream: a reader thread that drains
//! the pipe to its end and keeps only the last bytes.
//!
//! A job may print far more than is worth storing, so memory must stay
//! bounded whatever it prints (design invariant 6). [`TailBuffer`] keeps the
//! last `limit` bytes and counts the rest; [`Capture`] owns the thread that
//! feeds it. The thread keeps reading until end of file even once the buffer
//! is full, because a child blocked on a full pipe would never finish.
//! After each chunk it marks the attempt's [`LiveOutput`] changed, so the
//! pool can store the tail while the job still runs.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::live::{LiveOutput, SharedTail};

/// How much one `read` asks for: the default capacity of a Linux pipe.
const READ_CHUNK_BYTES: usize = 64 * 1024;

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

/// A thread draining one output stream into a [`TailBuffer`].
///
/// The buffer is shared rather than returned by the thread so that
/// [`Capture::finish`] can still report what was read when the stream never
/// ends (see there).
#[derive(Debug)]
pub(crate) struct Capture {
    tail: Arc<Mutex<TailBuffer>>,
    // Never sent on: the sender is dropped when the thread ends, which is the
    // one event `finish` waits for with a timeout.
    ended: mpsc::Receiver<()>,
    thread: JoinHandle<()>,
}

impl Capture {
    /// Starts a thread named `name` that reads `stream` to its end, keeping
    /// the last `limit` bytes and marking `live` changed after every chunk.
    pub(crate) fn spawn<R>(
        name: &str,
        mut stream: R,
        limit: usize,
        live: LiveOutput,
    ) -> io::Result<Self>
    where
        R: Read + Send + 'static,
    {
        let tail = Arc::new(Mutex::new(TailBuffer::new(limit)));
        let (ended_tx, ended) = mpsc::channel::<()>();

        let shared = Arc::clone(&tail);
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let _ended = ended_tx;
                let mut chunk = vec![0_u8; READ_CHUNK_BYTES];
                loop {
                    match stream.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            shared
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(&chunk[..n]);
                            live.mark_changed();
                        }
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        // Any other error means the pipe is unusable; what was read
                        // so far is still worth keeping, so stop quietly.
                        Err(_) => break,
                    }
                }
            })?;

        Ok(Self {
            tail,
            ended,
            thread,
        })
    }

    /// The tail this capture fills, to show while the stream is still open.
    pub(crate) fn tail(&self) -> SharedTail {
        Arc::clone(&self.tail)
    }

    /// Waits up to `wait` for the stream to end, then returns the kept text
    /// (see [`TailBuffer::render`]).
    ///
    /// Known limitation: a process that left the job's process group (for
    /// example through `setsid`) can hold the pipe open after the job is
    /// over. Rather than block the worker on it, this gives up after `wait`,
    /// returns what was read so far and leaves the thread to end when that
    /// process closes the pipe.
    pub(crate) fn finish(self, wait: Duration) -> Option<String> {
        match self.ended.recv_timeout(wait) {
            Err(RecvTimeoutError::Disconnected) | Ok(()) => {
                // The thread has ended (or is about to return), so this join
                // is immediate. A panic in it cannot come from the loop above,
                // and the buffer behind the mutex stays usable either way.
                let _ = self.thread.join();
            }
            Err(RecvTimeoutError::Timeout) => {
                tracing::debug!(
                    thread = self.thread.thread().name().unwrap_or("capture"),
                    "output stream still open after the job ended; keeping what was read"
                );
            }
        }
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .render()
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
    fn capture_reads_a_stream_to_its_end() {
        let data: Vec<u8> = (0..200_000_u32).map(|i| (i % 251) as u8).collect();
        let expected = String::from_utf8_lossy(&data[data.len() - 100..]).into_owned();

        let capture = Capture::spawn(
            "test-capture",
            io::Cursor::new(data),
            100,
            LiveOutput::new(),
        );
        let capture = capture.unwrap();
        let text = capture.finish(Duration::from_secs(10)).unwrap();

        assert_eq!(text, format!("[... 199900 bytes omitted ...]\n{expected}"));
    }
}
