//! queue-store
