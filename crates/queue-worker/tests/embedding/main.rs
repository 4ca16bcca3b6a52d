//! The embedding API as an application uses it: typed handlers, outcomes,
//! panics, cancellation, the client, transactional enqueue and events.
//!
//! Every test works through the public API of the queue crates only.

mod cancellation;
mod client;
mod events;
mod live_output;
mod outcomes;
mod panics;
mod prefetch;
mod store_faults;
mod support;
mod transactional;
mod typed;
