//! What the dashboard tests share: a queue in a temporary directory, the
//! `queuectl dashboard` process on a free port, a small HTTP client over a
//! raw TCP stream (so a test controls every header it sends), and polling.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// How long the dashboard or a worker may take to start.
const STARTUP: Duration = Duration::from_secs(20);

/// `queuectl` with a clean environment.
pub(crate) fn queuectl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_queuectl"));
    command
        .env_remove("QUEUECTL_DB")
        .env_remove("QUEUECTL_DASHBOARD_TOKEN")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// A queue database of its own, deleted on drop.
pub(crate) struct Queue {
    db: String,
    _dir: Option<TempDir>,
}

impl Queue {
    /// A fresh SQLite queue in a temporary directory.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let db = dir.path().join("queue.db").display().to_string();
        let queue = Queue {
            db,
            _dir: Some(dir),
        };
        queue.ok(&["config", "set", "poll-interval", "50ms"]);
        queue
    }

    /// A queue at `db`, such as a PostgreSQL URL, that the caller cleans up.
    pub(crate) fn at(db: String) -> Self {
        Queue { db, _dir: None }
    }

    /// `queuectl --db <this queue> args...`, not yet run.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = queuectl();
        command.arg("--db").arg(&self.db).args(args);
        command
    }

    /// Runs a command that must succeed and returns its stdout.
    #[track_caller]
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("cannot run queuectl");
        assert!(
            output.status.success(),
            "queuectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs a command that must succeed and print JSON, and parses it.
    #[track_caller]
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("bad JSON ({err}): {stdout}"))
    }

    /// Enqueues a job with `--id id` and the other `args`.
    #[track_caller]
    pub(crate) fn enqueue(&self, id: &str, args: &[&str]) {
        let mut all = vec!["enqueue", "--id", id];
        all.extend_from_slice(args);
        self.ok(&all);
    }

    /// `inspect --json` of job `id`.
    #[track_caller]
    pub(crate) fn job(&self, id: &str) -> Value {
        self.json(&["inspect", id, "--json"])
    }

    #[track_caller]
    pub(crate) fn state(&self, id: &str) -> String {
        self.job(id)["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Makes dead jobs: each of `ids` is enqueued to fail once with no
    /// retries, and a worker runs them until they are dead, then stops.
    #[track_caller]
    pub(crate) fn dead_jobs(&self, ids: &[&str]) {
        for id in ids {
            self.enqueue(id, &["--max-retries", "0", "echo 'giving up' >&2; exit 7"]);
        }
        let mut worker = self
            .command(&["worker", "start", "--count", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start a worker");
        let all_dead = wait_until("the jobs to die", STARTUP, || {
            ids.iter().all(|id| self.state(id) == "dead").then_some(())
        });
        self.ok(&["worker", "stop"]);
        let _ = worker.wait();
        all_dead.unwrap_or_else(|err| panic!("{err}"));
    }

    /// Starts `queuectl dashboard --bind 127.0.0.1:0` and the `extra` flags.
    #[track_caller]
    pub(crate) fn dashboard(&self, extra: &[&str]) -> Dashboard {
        let mut args = vec!["dashboard", "--bind", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Dashboard::start(self.command(&args))
    }
}

/// A running `queuectl dashboard`, killed on drop.
pub(crate) struct Dashboard {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    /// `host:port` it listens on.
    pub(crate) address: String,
}

impl Dashboard {
    /// Starts `command` and reads the URL it prints once it listens.
    #[track_caller]
    pub(crate) fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start queuectl dashboard");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        // The first line comes once the port is bound, or stdout closes
        // because the process ended.
        let read = stdout.read_line(&mut line).unwrap_or(0);
        let address = line
            .trim()
            .strip_prefix("http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .map(str::to_owned);
        match (read, address) {
            (1.., Some(address)) => Dashboard {
                child,
                _stdout: stdout,
                address,
            },
            _ => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("cannot read the dashboard");
                panic!(
                    "the dashboard printed {line:?} instead of its URL: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }

    /// `http://host:port` with `path` appended.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub(crate) fn get(&self, path: &str) -> Response {
        self.send(&Request::get(path))
    }

    pub(crate) fn send(&self, request: &Request) -> Response {
        request.send(&self.address)
    }

    /// The CSRF token the dashboard's forms carry, read from a page.
    #[track_caller]
    pub(crate) fn csrf(&self) -> String {
        let page = self.get("/");
        assert_eq!(page.status, 200, "{page:?}");
        let marker = r#"<meta name="csrf-token" content=""#;
        page.body
            .find(marker)
            .and_then(|at| page.body[at + marker.len()..].split('"').next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no CSRF token in {}", page.body))
    }

    /// POSTs a form with the page's CSRF token to `path`.
    pub(crate) fn post_action(&self, path: &str, csrf: &str) -> Response {
        self.send(&Request::post_form(path, &format!("csrf={csrf}")))
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the first `name="csrf"` input in `html`.
pub(crate) fn csrf_in(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf" value=""#)?;
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest.split('"').next().map(str::to_owned)
}

/// One HTTP/1.1 request; the `Host` header is the server's unless set.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    pub(crate) fn new(method: &str, path: &str) -> Self {
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn get(path: &str) -> Self {
        Request::new("GET", path)
    }

    /// A POST of an `application/x-www-form-urlencoded` body.
    pub(crate) fn post_form(path: &str, body: &str) -> Self {
        let mut request = Request::new("POST", path);
        request.body = body.as_bytes().to_vec();
        request.header("Content-Type", "application/x-www-form-urlencoded")
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the body.
    pub(crate) fn body(mut self, body: &str) -> Self {
        self.body = body.as_bytes().to_vec();
        self
    }

    /// Sends the request to `address` (`host:port`) and reads the whole answer.
    #[track_caller]
    pub(crate) fn send(&self, address: &str) -> Response {
        self.try_send(address)
            .unwrap_or_else(|err| panic!("{} {} to {address}: {err}", self.method, self.path))
    }

    /// As [`send`](Self::send), with a failure to connect or read returned.
    pub(crate) fn try_send(&self, address: &str) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        if !self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            head.push_str(&format!("Host: {address}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        stream.write_all(head.as_bytes())?;
        stream.write_all(&self.body)?;
        Ok(Response::parse(&read_answer(&mut stream)?))
    }
}

/// Reads one answer: its head, then as many bytes as `Content-Length`
/// says, or the chunks up to the last, or else all until the server
/// closes. (Some servers keep the connection open despite `close`.)
fn read_answer(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        if let Some(end) = raw.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .filter_map(|line| line.strip_prefix("content-length:"))
                .find_map(|value| value.trim().parse::<usize>().ok());
            let body = &raw[end + 4..];
            let complete = match length {
                Some(length) => body.len() >= length,
                None if head.contains("transfer-encoding: chunked") => body.ends_with(b"0\r\n\r\n"),
                None => false,
            };
            if complete {
                return Ok(raw);
            }
        }
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buffer[..read]);
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Self {
        let split = raw
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut body = raw[split + 4..].to_vec();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
        if chunked {
            body = unchunk(&body);
        }
        Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// The first value of header `name` (lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(have, _)| have == name)
            .map(|(_, value)| value.as_str())
    }

    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("bad JSON ({err}) in {}", self.body))
    }
}

fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|window| window == b"\r\n") {
        let size = String::from_utf8_lossy(&body[..end]);
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

/// Calls `check` until it returns something or `limit` has passed; an
/// error says what was being waited for.
pub(crate) fn wait_until<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(format!("gave up after {limit:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A directory of its own for a browser profile or other scratch files.
pub(crate) fn scratch() -> TempDir {
    tempfile::tempdir().expect("cannot create a temporary directory")
}

/// Whether `path` is an executable file.
pub(crate) fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `name` as found on `PATH`, if it is there.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| executable(candidate))
}

/// Whether tests that need an outside service must fail without it.
pub(crate) fn services_required() -> bool {
    std::env::var("QUEUECTL_REQUIRE_SERVICES").is_ok_and(|value| value == "1")
}
