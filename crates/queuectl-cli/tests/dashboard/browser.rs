//! The dashboard in a real browser: headless Chromium driven through
//! chromedriver, spoken to in the W3C WebDriver protocol (JSON over HTTP).
//!
//! Without `chromium` and `chromedriver` on `PATH` the test says so and
//! passes, unless `QUEUECTL_REQUIRE_SERVICES=1` (as in CI) makes their
//! absence a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use super::support::{Queue, Request, on_path, scratch, services_required, wait_until};

/// How long the page may take to show a change.
const SHOWS_WITHIN: Duration = Duration::from_secs(20);

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The browser and its driver, or `None` when the test is to skip.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path("chromium").or_else(|| on_path("chromium-browser"));
    let driver = on_path("chromedriver");
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        _ => {
            assert!(
                !services_required(),
                "QUEUECTL_REQUIRE_SERVICES=1 but chromium or chromedriver is not on PATH: \
                 install Debian's chromium and chromium-driver packages"
            );
            say_skipped();
            None
        }
    }
}

#[expect(clippy::print_stderr, reason = "a skipped test says why")]
fn say_skipped() {
    eprintln!(
        "skipping the browser test: chromium and chromedriver are not on PATH \
         (Debian packages chromium and chromium-driver)"
    );
}

/// A chromedriver process with one headless Chromium session, both ended
/// on drop.
struct Browser {
    driver: Child,
    address: String,
    session: String,
    _profile: TempDir,
}

impl Browser {
    fn start(chromium: &Path, driver: &Path) -> Self {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start chromedriver");
        let mut browser = Browser {
            driver,
            address,
            session: String::new(),
            _profile: scratch(),
        };
        wait_until("chromedriver to be ready", SHOWS_WITHIN, || {
            let status = Request::get("/status").try_send(&browser.address).ok()?;
            (status.json()["value"]["ready"] == true).then_some(())
        })
        .unwrap_or_else(|err| panic!("{err}"));

        let profile = browser._profile.path().display().to_string();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900", format!("--user-data-dir={profile}"),
                ],
            },
        } } });
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    /// One WebDriver command; the answer's JSON.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let request = match body {
            Some(body) => Request::new(method, path)
                .header("Content-Type", "application/json")
                .body(&body.to_string()),
            None => Request::new(method, path),
        };
        request.send(&self.address).json()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = self.call(method, &format!("/session/{}{path}", self.session), body);
        assert!(
            answer["value"].get("error").is_none(),
            "webdriver {method} {path}: {answer}"
        );
        answer["value"].clone()
    }

    fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` in the page and returns what it returns.
    fn run(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    fn text_of(&self, selector: &str) -> String {
        let script = format!(
            "var e = document.querySelector({}); return e ? e.innerText : null;",
            json!(selector)
        );
        self.run(&script).as_str().unwrap_or_default().to_owned()
    }

    fn click(&self, selector: &str) {
        let found = self.session_call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": selector })),
        );
        let element = found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {selector}: {found}"))
            .to_owned();
        self.session_call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    /// Waits until `check` holds for the page's `selector` text.
    #[track_caller]
    fn wait_for_text(&self, what: &str, selector: &str, check: impl Fn(&str) -> bool) {
        let mut last = String::new();
        let shown = wait_until(what, SHOWS_WITHIN, || {
            last = self.text_of(selector);
            check(&last).then_some(())
        });
        if let Err(err) = shown {
            panic!("{err}; {selector} shows: {last}");
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = Request::new("DELETE", &path).try_send(&self.address);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A port that was free a moment ago, for chromedriver, which must be told one.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot find a free port");
    listener.local_addr().expect("a bound address").port()
}

/// The overview shows a job enqueued after it loaded without a reload, job
/// fields that hold markup run nothing, and a dead job retried from its
/// page becomes pending.
#[test]
fn overview_updates_live_and_retry_revives_a_dead_job() {
    let Some((chromium, driver)) = browser() else {
        return;
    };
    let queue = Queue::new();
    queue.dead_jobs(&["doomed"]);
    queue.enqueue(
        "markup",
        &["<script>window.injected = 1</script><b>bold</b>"],
    );
    let dashboard = queue.dashboard(&[]);
    let browser = Browser::start(&chromium, &driver);

    browser.open(&dashboard.url("/"));
    browser.wait_for_text("the overview", "main", |text| text.contains("doomed"));
    assert!(
        browser
            .text_of("main")
            .contains("<script>window.injected = 1</script><b>bold</b>"),
        "the command shows as text"
    );
    assert_eq!(browser.run("return window.injected === undefined;"), true);
    assert_eq!(
        browser.run("return document.querySelectorAll('main b').length;"),
        0
    );

    // A mark on the window survives only if the page is not reloaded.
    browser.run("window.loadedOnce = true; return null;");
    assert!(!browser.text_of("#live").contains("fresh-job"));
    queue.enqueue("fresh-job", &["--delay", "600", "echo fresh"]);
    browser.wait_for_text("the new job to appear", "#live", |text| {
        text.contains("fresh-job")
    });
    assert_eq!(
        browser.run("return window.loadedOnce === true;"),
        true,
        "no reload"
    );

    browser.open(&dashboard.url("/jobs/doomed"));
    browser.wait_for_text("the dead job's page", ".job-title", |text| {
        text.contains("dead")
    });
    browser.click("#retry");
    browser.wait_for_text("the job to be pending", ".job-title", |text| {
        text.contains("pending")
    });
    assert_eq!(queue.state("doomed"), "pending");
    assert_eq!(browser.run("return location.pathname;"), "/jobs/doomed");
}
