//! The dashboard on a PostgreSQL queue: the same pages, API and actions,
//! through the same store trait.
//!
//! The server is named by `QUEUECTL_TEST_POSTGRES_URL`; the test works in
//! a schema of its own, dropped afterwards. Without a server it says so
//! and passes, unless `QUEUECTL_REQUIRE_SERVICES=1` makes that a failure.

use super::support::{Queue, services_required};

/// A schema of a PostgreSQL server, dropped when the test ends.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new() -> Option<Self> {
        let url = match std::env::var("QUEUECTL_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    !services_required(),
                    "QUEUECTL_REQUIRE_SERVICES=1 but QUEUECTL_TEST_POSTGRES_URL is not set"
                );
                say_skipped();
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("dashboard_{}_{nanos}", std::process::id());
        Some(Schema { url, name })
    }

    fn db(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}schema={}", self.url, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

#[expect(clippy::print_stderr, reason = "a skipped test says why")]
fn say_skipped() {
    eprintln!(
        "skipping the dashboard's PostgreSQL test: set QUEUECTL_TEST_POSTGRES_URL to a \
         server's URL to run it"
    );
}

/// Overview, job list, job page, API and a retry work on PostgreSQL as
/// they do on SQLite.
#[test]
fn the_dashboard_serves_a_postgres_queue() {
    let Some(schema) = Schema::new() else {
        return;
    };
    let queue = Queue::at(schema.db());
    queue.ok(&["config", "set", "poll-interval", "50ms"]);
    queue.dead_jobs(&["pg-dead"]);
    queue.enqueue("pg-waiting", &["--delay", "600", "echo <waiting>"]);
    let dashboard = queue.dashboard(&[]);

    let overview = dashboard.get("/");
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("pg-waiting") && overview.body.contains("echo &lt;waiting&gt;"));
    let list = dashboard.get("/jobs?state=dead&q=pg");
    assert!(list.body.contains("href=\"/jobs/pg-dead\""));
    let status = dashboard.get("/api/status").json();
    assert_eq!(
        status["counts"],
        queue.json(&["status", "--json"])["counts"]
    );
    assert_eq!(status["oldest_pending"]["id"], "pg-waiting");
    assert_eq!(
        dashboard.get("/api/jobs/pg-dead").json(),
        queue.job("pg-dead")
    );
    assert_eq!(dashboard.get("/jobs/nope").status, 404);

    let csrf = dashboard.csrf();
    assert_eq!(
        dashboard.post_action("/jobs/pg-dead/retry", &csrf).status,
        303
    );
    assert_eq!(queue.state("pg-dead"), "pending");
    assert_eq!(
        dashboard
            .post_action("/jobs/pg-waiting/cancel", &csrf)
            .status,
        303
    );
    assert_eq!(queue.state("pg-waiting"), "dead");
}
