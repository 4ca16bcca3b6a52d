//! Every route of the dashboard over HTTP: what it answers, what it
//! refuses, and that nothing stored changes when it refuses.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::support::{Queue, Request, csrf_in, queuectl, scratch, wait_until};

/// The overview answers with the counts per state, the newest jobs and
/// headers that keep the page from loading anything from elsewhere.
#[test]
fn overview_shows_counts_and_newest_jobs() {
    let queue = Queue::new();
    queue.enqueue("first-job", &["echo one"]);
    queue.enqueue("second-job", &["echo two"]);
    let dashboard = queue.dashboard(&[]);

    let page = dashboard.get("/");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
    assert!(page.body.contains("first-job") && page.body.contains("second-job"));
    assert!(page.body.contains(r#"data-fragment="/fragments/overview""#));
    assert!(page.body.contains("Throughput") && page.body.contains("<svg"));

    let fragment = dashboard.get("/fragments/overview");
    assert_eq!(fragment.status, 200);
    assert!(
        !fragment.body.contains("<html"),
        "a fragment is not a whole page"
    );
    assert!(fragment.body.contains("second-job"));
}

/// Pages and assets refer only to the dashboard itself: nothing is loaded
/// from the network, and the stylesheet and script are served from the binary.
#[test]
fn assets_are_served_from_the_binary() {
    let queue = Queue::new();
    let dashboard = queue.dashboard(&[]);
    for (path, kind) in [
        ("/assets/dashboard.css", "text/css"),
        ("/assets/dashboard.js", "text/javascript"),
    ] {
        let asset = dashboard.get(path);
        assert_eq!(asset.status, 200, "{path}");
        assert!(
            asset
                .header("content-type")
                .unwrap_or_default()
                .starts_with(kind)
        );
        assert!(!asset.body.contains("http://") && !asset.body.contains("https://"));
    }
    assert_eq!(dashboard.get("/assets/other.js").status, 404);
    for path in ["/", "/jobs", "/jobs?state=dead"] {
        let page = dashboard.get(path);
        for attribute in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(!page.body.contains(attribute), "{path} links elsewhere");
        }
    }
}

/// A job whose fields hold markup shows the markup as text on every page
/// and fragment; the API returns it unchanged, as JSON.
#[test]
fn job_fields_are_escaped_everywhere() {
    let queue = Queue::new();
    let command = "<script>alert(1)</script> && echo \"<b>'&'</b>\"";
    queue.enqueue("xss", &[command]);
    let dashboard = queue.dashboard(&[]);

    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    for path in [
        "/",
        "/fragments/overview",
        "/jobs",
        "/jobs?q=script",
        "/jobs/xss",
    ] {
        let page = dashboard.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body.contains(escaped),
            "{path} does not show the command as text"
        );
        assert!(
            !page.body.contains("<script>alert"),
            "{path} has the markup unescaped"
        );
        assert!(
            !page.body.contains("<b>"),
            "{path} has the markup unescaped"
        );
    }
    let job = dashboard.get("/api/jobs/xss").json();
    assert_eq!(job["command"], command);
}

/// The job list pages through jobs, filters by id and command text, and
/// links each job to its page.
#[test]
fn job_list_pages_and_filters() {
    let queue = Queue::new();
    let specs: String = (0..30)
        .map(|n| {
            let command = if n % 10 == 0 { "make special" } else { "true" };
            format!("{{\"id\":\"job-{n:02}\",\"command\":\"{command}\"}}\n")
        })
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), specs).unwrap();
    queue.ok(&["enqueue", "--file", &file.path().display().to_string()]);
    let dashboard = queue.dashboard(&[]);

    let first = dashboard.get("/jobs?state=pending");
    assert_eq!(first.status, 200);
    assert_eq!(first.body.matches("href=\"/jobs/job-").count(), 25);
    assert!(
        first
            .body
            .contains("href=\"/jobs?state=pending&amp;page=2\"")
    );

    let second = dashboard.get("/jobs?state=pending&page=2");
    assert_eq!(second.body.matches("href=\"/jobs/job-").count(), 5);
    assert!(second.body.contains("page=1") || second.body.contains("Newer"));

    let filtered = dashboard.get("/jobs?q=special");
    let shown: Vec<&str> = ["job-00", "job-10", "job-20", "job-01"]
        .into_iter()
        .filter(|id| filtered.body.contains(&format!("href=\"/jobs/{id}\"")))
        .collect();
    assert_eq!(shown, ["job-00", "job-10", "job-20"]);
    let by_id = dashboard.get("/fragments/jobs?q=job-2");
    assert_eq!(by_id.body.matches("href=\"/jobs/job-2").count(), 10);

    let nothing = dashboard.get("/jobs?state=dead");
    assert!(nothing.body.contains("The dead-letter queue is empty."));
}

/// The job page shows every field, the attempt timeline and the output.
#[test]
fn job_page_shows_fields_timeline_and_output() {
    let queue = Queue::new();
    queue.dead_jobs(&["broken"]);
    let dashboard = queue.dashboard(&[]);

    let page = dashboard.get("/jobs/broken");
    assert_eq!(page.status, 200, "{page:?}");
    for text in [
        "echo 'giving up' &gt;&amp;2; exit 7",
        "Attempts",
        "1 of 1",
        "Exit code",
        "giving up",
        "stderr",
        "result-failed",
        "exit status 7",
    ] {
        assert!(
            page.body.contains(text),
            "the job page lacks {text:?}: {}",
            page.body
        );
    }
    assert!(
        page.body.contains("id=\"retry\""),
        "a dead job can be retried"
    );
    assert!(
        !page.body.contains("id=\"cancel\""),
        "a dead job cannot be cancelled"
    );
    let fragment = dashboard.get("/fragments/jobs/broken");
    assert_eq!(fragment.status, 200);
    assert!(fragment.body.contains("giving up") && !fragment.body.contains("<html"));
}

/// A running job's page fragment, which the page polls, shows the output it
/// has printed so far; once the job completes it shows all of it.
#[test]
fn running_job_fragment_shows_its_output_so_far() {
    let queue = Queue::new();
    let scratch = scratch();
    let marker = scratch.path().join("go-on");
    let command = format!(
        "echo first; while [ ! -e '{}' ]; do sleep 0.05; done; echo second",
        marker.display()
    );
    // Only what the job printed, not its command, which names both lines.
    const SO_FAR: &str = "<pre class=\"output-block\">first\n</pre>";
    queue.enqueue("live", &[&command]);
    let mut worker = queue
        .command(&["worker", "start", "--count", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start a worker");
    let dashboard = queue.dashboard(&[]);

    let running = wait_until(
        "the running job's first line",
        Duration::from_secs(20),
        || {
            let fragment = dashboard.get("/fragments/jobs/live");
            fragment.body.contains(SO_FAR).then_some(fragment)
        },
    );
    std::fs::write(&marker, "").expect("the marker file");
    let done = wait_until("the job to complete", Duration::from_secs(20), || {
        let fragment = dashboard.get("/fragments/jobs/live");
        fragment
            .body
            .contains("state-completed")
            .then_some(fragment)
    });
    queue.ok(&["worker", "stop"]);
    let _ = worker.wait();

    let running = running.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(running.status, 200);
    assert!(
        running.body.contains("state-processing"),
        "{}",
        running.body
    );
    assert!(
        running.body.contains("Its output so far is below"),
        "{}",
        running.body
    );
    let done = done.unwrap_or_else(|err| panic!("{err}"));
    let all = r#"<pre class="output-block">first
second
</pre>"#;
    assert!(done.body.contains(all), "{}", done.body);
}

/// An id no job has is a 404 on the job page, its fragment, its actions
/// and the API; an id that no job could have is a 400.
#[test]
fn unknown_and_invalid_job_ids() {
    let queue = Queue::new();
    let dashboard = queue.dashboard(&[]);
    let csrf = dashboard.csrf();

    for path in ["/jobs/missing", "/fragments/jobs/missing"] {
        let page = dashboard.get(path);
        assert_eq!(page.status, 404, "{path}");
        assert!(
            page.body.contains("no job with id missing"),
            "{}",
            page.body
        );
    }
    for action in ["retry", "cancel"] {
        let answer = dashboard.post_action(&format!("/jobs/missing/{action}"), &csrf);
        assert_eq!(answer.status, 404, "{action}");
    }
    let api = dashboard.get("/api/jobs/missing");
    assert_eq!(api.status, 404);
    assert!(
        api.json()["error"]
            .as_str()
            .unwrap()
            .contains("no job with id missing")
    );

    let invalid = dashboard.get("/jobs/two%20words");
    assert_eq!(invalid.status, 400, "{invalid:?}");
    assert_eq!(dashboard.get("/api/jobs/two%20words").status, 400);
}

/// Bad paging and filter parameters are refused with a message that names
/// the parameter, on the pages, the fragments and the API alike.
#[test]
fn bad_parameters_are_refused_with_a_clear_message() {
    let queue = Queue::new();
    let dashboard = queue.dashboard(&[]);
    let long = "x".repeat(201);
    let cases = [
        (
            "/jobs?page=0",
            "page must be a whole number from 1 to 1000000, not '0'",
        ),
        ("/jobs?page=two", "page must be a whole number"),
        ("/jobs?page=99999999", "page must be a whole number"),
        ("/jobs?state=done", "state 'done' is not one of pending"),
        ("/jobs?sort=id", "unknown parameter 'sort'"),
        (
            "/jobs?page=1&page=2",
            "parameter 'page' is given more than once",
        ),
        ("/fragments/jobs?page=-1", "page must be a whole number"),
    ];
    for (path, message) in cases {
        let page = dashboard.get(path);
        assert_eq!(page.status, 400, "{path}");
        assert!(page.body.contains(message), "{path}: {}", page.body);
    }
    let page = dashboard.get(&format!("/jobs?q={long}"));
    assert_eq!(page.status, 400);
    assert!(page.body.contains("longer than 200 characters"));

    let api_cases = [
        (
            "/api/jobs?limit=0",
            "limit must be a whole number from 1 to 1000",
        ),
        (
            "/api/jobs?limit=1001",
            "limit must be a whole number from 1 to 1000",
        ),
        ("/api/jobs?offset=-5", "offset must be a whole number"),
        ("/api/jobs?state=Dead!", "state 'Dead!' is not one of"),
        ("/api/jobs?page=2", "unknown parameter 'page'"),
    ];
    for (path, message) in api_cases {
        let answer = dashboard.get(path);
        assert_eq!(answer.status, 400, "{path}");
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let error = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(error.contains(message), "{path}: {error}");
    }
}

/// An address that is not a page is a 404 page; one under `/api/` is a
/// 404 in JSON.
#[test]
fn unknown_addresses_are_not_found() {
    let queue = Queue::new();
    let dashboard = queue.dashboard(&[]);
    let page = dashboard.get("/nowhere");
    assert_eq!(page.status, 404);
    assert!(page.body.contains("there is no page at this address"));
    let api = dashboard.get("/api/nowhere");
    assert_eq!(api.status, 404);
    assert_eq!(api.json()["error"], "there is no API at this address");
}

/// The API answers in the shapes `status --json`, `list --json` and
/// `inspect --json` print, with the same values.
#[test]
fn api_matches_the_cli_json() {
    let queue = Queue::new();
    queue.dead_jobs(&["dead-one"]);
    queue.enqueue("waiting", &["--priority", "3", "echo waiting"]);
    queue.enqueue("other", &["echo other"]);
    let dashboard = queue.dashboard(&[]);

    let status = dashboard.get("/api/status");
    assert_eq!(status.status, 200);
    let status = status.json();
    let cli_status = queue.json(&["status", "--json"]);
    assert_eq!(status["counts"], cli_status["counts"]);
    assert_eq!(status["workers"], cli_status["workers"]);
    let minutes = status["finished_per_minute"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let finished: u64 = minutes.iter().map(|m| m["dead"].as_u64().unwrap()).sum();
    assert_eq!(finished, 1, "the dead job finished within the hour");
    assert_eq!(status["oldest_pending"]["id"], "waiting");

    let jobs = dashboard.get("/api/jobs?limit=100");
    assert_eq!(jobs.json(), queue.json(&["list", "--json"]));
    let pending = dashboard.get("/api/jobs?state=pending").json();
    assert_eq!(
        pending,
        queue.json(&["list", "--state", "pending", "--json"])
    );
    let paged = dashboard.get("/api/jobs?limit=1&offset=1").json();
    assert_eq!(paged.as_array().map(Vec::len), Some(1));
    assert_eq!(paged[0]["id"], queue.json(&["list", "--json"])[1]["id"]);
    let filtered = dashboard.get("/api/jobs?q=waiting").json();
    let ids: Vec<&Value> = filtered
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["id"])
        .collect();
    assert_eq!(ids, ["waiting"]);

    let job = dashboard.get("/api/jobs/dead-one").json();
    assert_eq!(job, queue.job("dead-one"));
    assert_eq!(job["history"][0]["exit_code"], 7);
}

/// Retrying a dead job with the page's CSRF token revives it and goes back
/// to the job's page; cancelling a waiting job sends it to the dead-letter
/// queue. Actions on jobs in the wrong state are a 409 and change nothing.
#[test]
fn actions_retry_and_cancel() {
    let queue = Queue::new();
    queue.dead_jobs(&["dead-one"]);
    queue.enqueue("waiting", &["--delay", "600", "echo later"]);
    let dashboard = queue.dashboard(&[]);
    let csrf = dashboard.csrf();

    let retried = dashboard.post_action("/jobs/dead-one/retry", &csrf);
    assert_eq!(retried.status, 303, "{retried:?}");
    assert_eq!(retried.header("location"), Some("/jobs/dead-one"));
    let job = queue.job("dead-one");
    assert_eq!(
        (job["state"].as_str(), job["attempts"].as_u64()),
        (Some("pending"), Some(0))
    );

    let again = dashboard.post_action("/jobs/dead-one/retry", &csrf);
    assert_eq!(again.status, 409, "a pending job cannot be retried");
    assert!(again.body.contains("dead-one"), "{}", again.body);

    let cancelled = dashboard.post_action("/jobs/waiting/cancel", &csrf);
    assert_eq!(cancelled.status, 303);
    assert_eq!(cancelled.header("location"), Some("/jobs/waiting"));
    assert_eq!(queue.state("waiting"), "dead");
    let twice = dashboard.post_action("/jobs/waiting/cancel", &csrf);
    assert_eq!(twice.status, 409, "a dead job cannot be cancelled");
    assert_eq!(queue.state("waiting"), "dead");
}

/// "Retry all" revives every dead job and leaves the others alone.
#[test]
fn retry_all_revives_every_dead_job() {
    let queue = Queue::new();
    queue.dead_jobs(&["dead-a", "dead-b", "dead-c"]);
    queue.enqueue("waiting", &["--delay", "600", "echo later"]);
    let dashboard = queue.dashboard(&[]);
    let page = dashboard.get("/jobs?state=dead");
    assert!(page.body.contains("Retry all 3 dead jobs"), "{}", page.body);
    let csrf = csrf_in(&page.body).unwrap();

    let answer = dashboard.post_action("/dead/retry", &csrf);
    assert_eq!(answer.status, 303);
    assert_eq!(answer.header("location"), Some("/jobs?state=pending"));
    for id in ["dead-a", "dead-b", "dead-c", "waiting"] {
        assert_eq!(queue.state(id), "pending", "{id}");
    }
    assert_eq!(queue.job("waiting")["attempts"], 0);
}

/// Actions are POST only: a GET of an action's address is refused and
/// changes nothing.
#[test]
fn actions_are_post_only() {
    let queue = Queue::new();
    queue.dead_jobs(&["dead-one"]);
    queue.enqueue("waiting", &["--delay", "600", "echo later"]);
    let dashboard = queue.dashboard(&[]);
    for path in [
        "/jobs/dead-one/retry",
        "/jobs/waiting/cancel",
        "/dead/retry",
    ] {
        let answer = dashboard.get(path);
        assert_eq!(answer.status, 405, "{path}");
    }
    assert_eq!(queue.state("dead-one"), "dead");
    assert_eq!(queue.state("waiting"), "pending");
}

/// An action without the CSRF token, with a wrong one, or sent from
/// another site is refused with 403 and changes nothing.
#[test]
fn actions_without_csrf_or_from_another_site_are_refused() {
    let queue = Queue::new();
    queue.dead_jobs(&["dead-one"]);
    let dashboard = queue.dashboard(&[]);
    let csrf = dashboard.csrf();
    let path = "/jobs/dead-one/retry";

    let refusals = [
        Request::post_form(path, ""),
        Request::post_form(path, "csrf=0123456789abcdef0123456789abcdef"),
        Request::post_form(path, &format!("csrf={csrf}")).header("Origin", "http://evil.example"),
        Request::post_form(path, &format!("csrf={csrf}")).header("Sec-Fetch-Site", "cross-site"),
        Request::post_form("/dead/retry", "csrf=wrong"),
    ];
    for request in refusals {
        let answer = dashboard.send(&request);
        assert_eq!(answer.status, 403, "{request:?}");
        assert!(
            answer.body.contains("CSRF token") || answer.body.contains("another site"),
            "{}",
            answer.body
        );
    }
    assert_eq!(queue.state("dead-one"), "dead");

    let same_origin = Request::post_form(path, &format!("csrf={csrf}"))
        .header("Origin", &dashboard.url(""))
        .header("Sec-Fetch-Site", "same-origin");
    assert_eq!(dashboard.send(&same_origin).status, 303);
    assert_eq!(queue.state("dead-one"), "pending");
}

/// Without a token the dashboard answers only to loopback host names, so
/// that another site cannot reach it through a name of its own.
#[test]
fn without_a_token_only_loopback_hosts_are_answered() {
    let queue = Queue::new();
    let dashboard = queue.dashboard(&[]);
    let port = dashboard.address.rsplit(':').next().unwrap().to_owned();
    for host in [format!("localhost:{port}"), format!("[::1]:{port}")] {
        let answer = dashboard.send(&Request::get("/").header("Host", &host));
        assert_eq!(answer.status, 200, "{host}");
    }
    let refused = dashboard.send(&Request::get("/api/status").header("Host", "evil.example"));
    assert_eq!(refused.status, 403);
    let error = refused.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("answers only to localhost"), "{error}");
    let refused = dashboard.send(&Request::get("/").header("Host", "evil.example"));
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("answers only to localhost"));
}

/// Binding to an address that is not loopback needs a token: without one,
/// or with one too short, the command is a usage error (exit 2) and
/// nothing listens.
#[test]
fn a_non_loopback_address_needs_a_token() {
    let queue = Queue::new();
    let cases = [
        (vec!["--bind", "0.0.0.0:0"], "is not a loopback address"),
        (vec!["--bind", "[::]:0"], "is not a loopback address"),
        (
            vec!["--bind", "0.0.0.0:0", "--token", ""],
            "is not a loopback address",
        ),
        (
            vec!["--bind", "0.0.0.0:0", "--token", "short"],
            "at least 16 characters",
        ),
        (
            vec!["--bind", "localhost"],
            "invalid value 'localhost' for '--bind",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["dashboard"];
        all.extend_from_slice(&args);
        let output = queue.command(&all).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("queuectl: ") && stderr.contains(message),
            "{stderr}"
        );
        assert!(output.stdout.is_empty(), "nothing listened");
    }
}

/// With a token every request must carry it: as a bearer header, or in the
/// cookie a visit with `?token=` sets; anything else is a 401.
#[test]
fn a_token_is_checked_on_every_request() {
    let queue = Queue::new();
    queue.dead_jobs(&["dead-one"]);
    let token = "s3cret-token-for-the-dashboard";
    let mut command = queue.command(&["dashboard", "--bind", "0.0.0.0:0"]);
    command.env("QUEUECTL_DASHBOARD_TOKEN", token);
    let mut dashboard = super::support::Dashboard::start(command);
    // It listens on every address; the tests talk to it over loopback.
    let port = dashboard.address.rsplit(':').next().unwrap().to_owned();
    dashboard.address = format!("127.0.0.1:{port}");

    for path in [
        "/",
        "/jobs",
        "/api/status",
        "/assets/dashboard.css",
        "/nowhere",
    ] {
        let answer = dashboard.get(path);
        assert_eq!(answer.status, 401, "{path}");
    }
    let api = dashboard.get("/api/jobs");
    assert!(
        api.json()["error"]
            .as_str()
            .unwrap()
            .contains("needs its token")
    );
    let wrong = dashboard.send(&Request::get("/").header("Authorization", "Bearer wrong"));
    assert_eq!(wrong.status, 401);
    let wrong_query = dashboard.get("/?token=wrong");
    assert_eq!(wrong_query.status, 401);
    assert!(wrong_query.header("set-cookie").is_none());
    let post = dashboard.send(&Request::post_form("/jobs/dead-one/retry", "csrf=x"));
    assert_eq!(post.status, 401);

    let bearer = format!("Bearer {token}");
    let answer = dashboard.send(&Request::get("/api/status").header("Authorization", &bearer));
    assert_eq!(answer.status, 200);
    let answer = dashboard.send(
        &Request::get("/")
            .header("Authorization", &bearer)
            .header("Host", "dashboard.example"),
    );
    assert_eq!(
        answer.status, 200,
        "with a token, any host name is answered"
    );

    let visit = dashboard.get(&format!("/jobs?state=dead&token={token}"));
    assert_eq!(visit.status, 303);
    assert_eq!(visit.header("location"), Some("/jobs?state=dead"));
    let cookie = visit.header("set-cookie").unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap().to_owned();
    let page = dashboard.send(&Request::get("/jobs?state=dead").header("Cookie", &pair));
    assert_eq!(page.status, 200);
    let csrf = csrf_in(&page.body).unwrap();
    assert_eq!(
        queue.state("dead-one"),
        "dead",
        "refused requests changed nothing"
    );
    let retried = dashboard.send(
        &Request::post_form("/jobs/dead-one/retry", &format!("csrf={csrf}"))
            .header("Cookie", &pair),
    );
    assert_eq!(retried.status, 303);
    assert_eq!(queue.state("dead-one"), "pending");
}

/// `--help` describes the command with an example, like the others.
#[test]
fn help_has_an_example() {
    let output = queuectl().args(["dashboard", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(help.contains("Examples:") && help.contains("queuectl dashboard --bind"));
    assert!(help.contains("QUEUECTL_DASHBOARD_TOKEN"));
}
