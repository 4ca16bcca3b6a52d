//! The output of an attempt while it runs: a slot the pool gives each
//! attempt, which the handler fills and the coordinator stores.
//!
//! Writing must cost a handler next to nothing, because a shell job may
//! print in many small chunks. So the slot holds no text of its own: it
//! points at the bounded tails the handler keeps anyway (see the `capture`
//! module) and carries one flag that says they changed. The coordinator
//! renders the tails only when that flag is set, at most once per flush
//! period, and the flag is cleared before rendering, so a chunk that
//! arrives during a render is picked up by the next flush, never lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::capture::TailBuffer;

/// One stream's kept tail, shared with whoever writes it.
pub(crate) type SharedTail = Arc<Mutex<TailBuffer>>;

/// The output an attempt has produced so far. Clones share the slot.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveOutput {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    changed: AtomicBool,
    streams: Mutex<Streams>,
}

#[derive(Debug, Default)]
struct Streams {
    stdout: Option<SharedTail>,
    stderr: Option<SharedTail>,
}

/// What a flush stores for one attempt: each stream's tail, `None` for a
/// stream that carried nothing yet.
pub(crate) type Rendered = (Option<String>, Option<String>);

impl LiveOutput {
    /// A slot that no pool reads, for contexts made outside a pool.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Points the slot at the tails a handler keeps and marks it changed.
    pub(crate) fn attach(&self, stdout: Option<SharedTail>, stderr: Option<SharedTail>) {
        *self
            .inner
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Streams { stdout, stderr };
        self.mark_changed();
    }

    /// Says that an attached tail has grown; one atomic store.
    pub(crate) fn mark_changed(&self) {
        self.inner.changed.store(true, Ordering::Release);
    }

    /// The output so far, changed or not.
    pub(crate) fn current(&self) -> Rendered {
        let streams = self
            .inner
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (
            render(streams.stdout.as_ref()),
            render(streams.stderr.as_ref()),
        )
    }

    /// The output so far if it changed since the last call, else `None`.
    pub(crate) fn take_changed(&self) -> Option<Rendered> {
        if !self.inner.changed.swap(false, Ordering::AcqRel) {
            return None;
        }
        Some(self.current())
    }
}

fn render(tail: Option<&SharedTail>) -> Option<String> {
    tail?
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(text: &str) -> SharedTail {
        let mut buffer = TailBuffer::new(64);
        buffer.push(text.as_bytes());
        Arc::new(Mutex::new(buffer))
    }

    #[test]
    fn renders_only_after_a_change() {
        let live = LiveOutput::new();
        assert_eq!(live.take_changed(), None);

        let out = tail("first\n");
        live.attach(Some(Arc::clone(&out)), None);
        assert_eq!(live.take_changed(), Some((Some("first\n".into()), None)));
        assert_eq!(live.take_changed(), None, "nothing changed since");

        out.lock().unwrap().push(b"second\n");
        live.mark_changed();
        assert_eq!(
            live.take_changed(),
            Some((Some("first\nsecond\n".into()), None))
        );
    }

    #[test]
    fn clones_share_the_slot() {
        let live = LiveOutput::new();
        let handler_side = live.clone();
        handler_side.attach(None, Some(tail("oops\n")));
        assert_eq!(live.take_changed(), Some((None, Some("oops\n".into()))));
    }
}
