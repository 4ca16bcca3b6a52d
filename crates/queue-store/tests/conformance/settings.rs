//! The shared settings and the registry of workers.

use std::time::Duration;

use queue_core::{ConfigError, ConfigKey, QueueConfig, WorkerId};
use queue_store::{StoreError, WorkerRecord, WorkerSignal};

use super::{Harness, enqueue, job, secs, shell, worker};

/// A new queue has the documented defaults.
pub(crate) fn config_starts_at_the_defaults(h: &dyn Harness) {
    assert_eq!(h.store().config().unwrap(), QueueConfig::default());
}

/// A change is returned, read back, and seen by a store opened afterwards.
pub(crate) fn config_changes_persist_for_new_handles(h: &dyn Harness) {
    let store = h.store();

    let returned = store.set_config(ConfigKey::MaxRetries, "7").unwrap();
    store.set_config(ConfigKey::Lease, "45s").unwrap();
    store.set_config(ConfigKey::BackoffBase, "3").unwrap();
    let last = store.set_config(ConfigKey::PollInterval, "250ms").unwrap();

    assert_eq!(returned.max_retries, 7);
    let expected = QueueConfig {
        max_retries: 7,
        lease: secs(45),
        backoff_base: 3.0,
        poll_interval: Duration::from_millis(250),
        ..QueueConfig::default()
    };
    assert_eq!(last, expected);
    assert_eq!(store.config().unwrap(), expected);
    let reopened = h.reopen();
    assert_eq!(reopened.config().unwrap(), expected);
    let ids = enqueue(reopened.as_ref(), vec![shell("j", "true")]);
    assert_eq!(job(store, &ids[0]).max_retries, 7);
}

/// A bad value is refused with its key, and the stored settings stay as they were.
pub(crate) fn invalid_config_is_refused_and_changes_nothing(h: &dyn Harness) {
    let store = h.store();
    let before = store.set_config(ConfigKey::MaxRetries, "5").unwrap();

    for (key, value) in [
        (ConfigKey::MaxRetries, "-1"),
        (ConfigKey::MaxRetries, "many"),
        (ConfigKey::Lease, "0"),
        (ConfigKey::BackoffBase, "NaN"),
    ] {
        let err = store.set_config(key, value).unwrap_err();
        let StoreError::Config(ConfigError::BadValue { key: named, .. }) = &err else {
            panic!("{key}={value}: {err:?}");
        };
        assert_eq!(*named, key.as_str());
    }
    // Keys are typed, so an unknown name is refused when parsed, before any write.
    assert!(matches!(
        "retries".parse::<ConfigKey>(),
        Err(ConfigError::UnknownKey { .. })
    ));

    assert_eq!(store.config().unwrap(), before);
    assert_eq!(h.reopen().config().unwrap(), before);
}

/// Registering, heartbeats, stop requests and unregistering, as workers see them.
pub(crate) fn worker_registry_tracks_heartbeats_and_stop_requests(h: &dyn Harness) {
    let store = h.store();
    let started = store.now();
    let first = record(worker("host:1:aaaa"), 1, started);
    h.advance(secs(1));
    let second = record(worker("host:2:bbbb"), 2, store.now());
    store.register_worker(&first).unwrap();
    store.register_worker(&second).unwrap();
    assert_eq!(
        store.workers().unwrap(),
        [second.clone(), first.clone()],
        "newest first"
    );

    h.advance(secs(5));
    let signal = store.heartbeat(&first.id, 3).unwrap();

    assert_eq!(
        signal,
        WorkerSignal {
            stop_requested: false
        }
    );
    let expected = WorkerRecord {
        running: 3,
        heartbeat_at: store.now(),
        ..first.clone()
    };
    assert_eq!(store.workers().unwrap(), [second.clone(), expected]);

    assert_eq!(store.request_stop().unwrap(), 2);
    assert!(store.heartbeat(&first.id, 0).unwrap().stop_requested);
    assert!(store.workers().unwrap().iter().all(|w| w.stop_requested));

    store.unregister_worker(&first.id).unwrap();
    let left: Vec<WorkerId> = store.workers().unwrap().into_iter().map(|w| w.id).collect();
    assert_eq!(left, std::slice::from_ref(&second.id));
    store.unregister_worker(&second.id).unwrap();
    assert!(store.workers().unwrap().is_empty());
}

fn record(id: WorkerId, pid: u32, at: queue_core::Timestamp) -> WorkerRecord {
    WorkerRecord {
        id,
        host: "host".into(),
        pid,
        slots: 4,
        running: 0,
        started_at: at,
        heartbeat_at: at,
        stop_requested: false,
    }
}
