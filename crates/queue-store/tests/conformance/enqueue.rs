//! Enqueueing: whole batches or nothing, ids in order, defaults from config.

use queue_core::{ConfigKey, JobSpec, JobState, SHELL_KIND, SpecError, StateCounts};
use queue_store::StoreError;
use serde_json::json;

use super::{Harness, enqueue, id, job, plus, secs, shell};

/// The ids come back in the order of the specs, chosen or generated.
pub(crate) fn enqueue_returns_ids_in_order(h: &dyn Harness) {
    let store = h.store();
    let specs = vec![
        JobSpec::shell("echo one"),
        shell("chosen", "echo two"),
        JobSpec::shell("echo three"),
    ];

    let ids = enqueue(store, specs);

    assert_eq!(ids.len(), 3);
    assert_eq!(ids[1], id("chosen"));
    assert_ne!(ids[0], ids[2]);
    let commands: Vec<_> = ids
        .iter()
        .map(|id| job(store, id).command.unwrap())
        .collect();
    assert_eq!(commands, ["echo one", "echo two", "echo three"]);
}

/// A stored job reads back with every option the spec set.
pub(crate) fn enqueue_keeps_every_field_of_the_spec(h: &dyn Harness) {
    let store = h.store();
    let now = store.now();
    let email = JobSpec::new("email", json!({"to": "a@example.com", "n": [1, 2]}))
        .with_id(id("mail"))
        .with_priority(-4)
        .with_max_retries(9)
        .with_timeout_secs(12)
        .with_delay(secs(60));

    enqueue(store, vec![email]);

    let stored = job(store, &id("mail"));
    assert_eq!(stored.kind, "email");
    assert_eq!(stored.command, None);
    assert_eq!(
        stored.payload,
        Some(json!({"to": "a@example.com", "n": [1, 2]}))
    );
    assert_eq!(stored.state, JobState::Pending);
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.max_retries, 9);
    assert_eq!(stored.priority, -4);
    assert_eq!(stored.timeout_secs, 12);
    assert_eq!(stored.run_at, plus(now, 60));
    assert_eq!(stored.created_at, now);
    assert_eq!(stored.updated_at, now);
    assert_eq!(stored.started_at, None);
    assert_eq!(stored.worker_id, None);
    assert_eq!(stored.lease_expires_at, None);
    assert_eq!(
        job(store, &enqueue(store, vec![JobSpec::shell("true")])[0]).kind,
        SHELL_KIND
    );
}

/// One id already taken refuses the whole batch.
pub(crate) fn batch_with_an_id_already_stored_stores_nothing(h: &dyn Harness) {
    let store = h.store();
    enqueue(store, vec![shell("taken", "true")]);

    let err = store
        .enqueue(vec![shell("fresh", "true"), shell("taken", "false")])
        .unwrap_err();

    assert!(
        matches!(&err, StoreError::Duplicate(dup) if *dup == id("taken")),
        "{err:?}"
    );
    assert_eq!(store.job(&id("fresh")).unwrap(), None);
    assert_eq!(job(store, &id("taken")).command.as_deref(), Some("true"));
    assert_eq!(
        store.counts().unwrap(),
        StateCounts {
            pending: 1,
            ..StateCounts::default()
        }
    );
}

/// An id given twice in one batch refuses the whole batch.
pub(crate) fn batch_repeating_an_id_stores_nothing(h: &dyn Harness) {
    let store = h.store();

    let specs = vec![
        shell("first", "true"),
        shell("twice", "true"),
        shell("twice", "false"),
    ];
    let err = store.enqueue(specs).unwrap_err();

    assert!(
        matches!(&err, StoreError::Duplicate(dup) if *dup == id("twice")),
        "{err:?}"
    );
    assert_eq!(store.job(&id("first")).unwrap(), None);
    assert_eq!(store.job(&id("twice")).unwrap(), None);
    assert_eq!(store.counts().unwrap().total(), 0);
}

/// An invalid spec is named by its index and nothing of the batch is stored.
pub(crate) fn batch_with_an_invalid_spec_is_refused_by_index(h: &dyn Harness) {
    let store = h.store();
    let specs = vec![
        shell("a", "true"),
        shell("b", "true"),
        JobSpec::shell("  "),
        shell("d", "true"),
        JobSpec::shell("true").with_max_retries(5000),
    ];

    let err = store.enqueue(specs).unwrap_err();

    assert!(
        matches!(
            err,
            StoreError::InvalidSpec {
                index: 2,
                source: SpecError::EmptyCommand
            }
        ),
        "{err:?}"
    );
    for name in ["a", "b", "d"] {
        assert_eq!(store.job(&id(name)).unwrap(), None);
    }
    assert_eq!(store.counts().unwrap().total(), 0);
}

/// Options a spec leaves unset come from the stored config at enqueue time.
pub(crate) fn unset_options_take_the_configured_defaults(h: &dyn Harness) {
    let store = h.store();
    store.set_config(ConfigKey::MaxRetries, "7").unwrap();
    store.set_config(ConfigKey::JobTimeout, "90").unwrap();

    enqueue(
        store,
        vec![
            shell("defaults", "true"),
            shell("own", "true").with_max_retries(2),
        ],
    );

    let defaults = job(store, &id("defaults"));
    assert_eq!(defaults.max_retries, 7);
    assert_eq!(defaults.timeout_secs, 90);
    assert_eq!(job(store, &id("own")).max_retries, 2);
}
