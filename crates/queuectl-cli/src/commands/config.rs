//! `queuectl config`: the settings every worker on the database shares.

use std::path::Path;

use queue_core::ConfigKey;

use crate::cli::ConfigCommand;
use crate::render;

pub(super) fn run(db: Option<&Path>, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::List(args) => {
            let config = crate::database::open(db)?.config()?;
            if args.json {
                let map: serde_json::Map<String, serde_json::Value> = ConfigKey::ALL
                    .into_iter()
                    .map(|key| (key.as_str().to_owned(), config.get(key).into()))
                    .collect();
                render::print_json(&map)
            } else {
                render::print(&render::config(&config))
            }
        }
        ConfigCommand::Get(args) => {
            let key: ConfigKey = args.key.parse()?;
            let value = crate::database::open(db)?.config()?.get(key);
            if args.json {
                render::print_json(&serde_json::json!({ key.as_str(): value }))
            } else {
                render::print(&value)
            }
        }
        ConfigCommand::Set(args) => {
            let key: ConfigKey = args.key.parse()?;
            // Check the value before touching the database.
            queue_core::QueueConfig::default().set(key, &args.value)?;
            let config = crate::database::open(db)?.set_config(key, &args.value)?;
            render::print(&format!("{key} = {}", config.get(key)))
        }
    }
}
