//! The command line: every command, flag and help text.

use std::path::PathBuf;

use clap::builder::RangedI64ValueParser;
use clap::{Args, Parser, Subcommand};
use queue_core::{
    DELAY_LIMIT_SECS, JobState, MAX_RETRIES_LIMIT, PRIORITY_LIMIT, TIMEOUT_LIMIT_SECS,
};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (the database could not be used, a worker failed)
  2  usage error (bad arguments, bad job spec, bad config value)
  3  no such job
  4  the job is not in a state that allows this (for example, retrying a job that is not dead),
     or its id is taken";

/// A persistent background job queue for shell commands.
#[derive(Debug, Parser)]
#[command(name = "queuectl", version, about, after_help = EXIT_CODES)]
#[command(propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    /// The queue database: an SQLite file path, or a PostgreSQL URL
    /// (postgres://user:password@host/dbname) shared by workers on many hosts.
    /// Default: queue.db in the user's data directory.
    #[arg(long, global = true, env = "QUEUECTL_DB", value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the database, or bring an old one up to date, and print its path.
    #[command(after_help = "Example:\n  queuectl init\n  queuectl --db ./jobs.db init")]
    Init,

    /// Add a job: a shell command, or a JSON job spec.
    #[command(after_help = "\
Examples:
  queuectl enqueue 'echo hello'
  queuectl enqueue --priority 5 --delay 60 --timeout 10 'make backup'
  queuectl enqueue '{\"id\":\"job1\",\"command\":\"sleep 2\",\"max_retries\":3,\"priority\":5,
    \"run_at\":\"2026-12-24T10:00:00Z\",\"timeout\":10}'
  queuectl enqueue --file jobs.jsonl        (one JSON spec per line, all or nothing)

A JSON spec needs only \"command\"; its other fields are id, max_retries, priority, run_at
(RFC 3339), delay (seconds) and timeout (seconds, 0 for none). Flags override spec fields.")]
    Enqueue(EnqueueArgs),

    /// Run workers, or stop the running ones.
    #[command(subcommand)]
    Worker(WorkerCommand),

    /// Run workers in the foreground (same as `worker start`).
    #[command(
        name = "start-workers",
        after_help = "Example:\n  queuectl start-workers --count 4"
    )]
    StartWorkers(WorkerStartArgs),

    /// Show how many jobs are in each state, and the active workers.
    #[command(after_help = "Example:\n  queuectl status\n  queuectl status --json")]
    Status(OutputArgs),

    /// List jobs, optionally in one state.
    #[command(after_help = "\
Examples:
  queuectl list
  queuectl list --state failed --limit 20
  queuectl list --json

Pending and failed jobs are listed in the order they will run; others most recent first.")]
    List(ListArgs),

    /// Show everything about one job: timestamps, attempts, exit code, output.
    #[command(after_help = "Example:\n  queuectl inspect job1")]
    Inspect(InspectArgs),

    /// The dead-letter queue: jobs that failed for good.
    #[command(subcommand)]
    Dlq(DlqCommand),

    /// Read or change the settings every worker shares.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Run a representative batch of jobs on a fresh database and show what happens.
    #[command(after_help = "Example:\n  queuectl demo")]
    Demo(DemoArgs),

    /// Serve a live web view of the queue: counts, workers, throughput, jobs and their output.
    #[command(after_help = "\
Examples:
  queuectl dashboard                       (http://127.0.0.1:5000/)
  queuectl dashboard --bind 127.0.0.1:0 --open
  QUEUECTL_DASHBOARD_TOKEN=$(openssl rand -hex 16) queuectl dashboard --bind 0.0.0.0:5000

The page updates itself every two seconds and can retry dead jobs and cancel waiting ones;
it cannot enqueue. It listens on loopback unless told otherwise; any other address needs a
token, sent as `Authorization: Bearer TOKEN` or opened once as http://HOST:PORT/?token=TOKEN,
which keeps it in a cookie. The URL is printed once the port is bound.")]
    Dashboard(DashboardArgs),

    /// Write every job, with its attempt history, as JSON Lines to stdout.
    #[command(after_help = "\
Examples:
  queuectl export > jobs.jsonl
  queuectl export --state dead > dead.jsonl
  queuectl --db queue.db export | queuectl --db postgres://host/jobs import -

The jobs are read from one consistent snapshot, oldest first. `import` reads this format.")]
    Export(ExportArgs),

    /// Add jobs written by `export`, keeping their ids, states, attempts, times and output.
    #[command(after_help = "\
Examples:
  queuectl --db postgres://queuectl@db.internal/jobs import jobs.jsonl
  queuectl import -        (from standard input)

The jobs are stored together or not at all: an id already in the queue refuses the import.
A job that was running when exported arrives pending, its running attempt not counted.")]
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DashboardArgs {
    /// The address and port to listen on; port 0 picks a free one.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:5000")]
    pub(crate) bind: std::net::SocketAddr,

    /// The token every request must carry, at least 16 characters; required
    /// when the address is not loopback.
    #[arg(long, env = "QUEUECTL_DASHBOARD_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,

    /// Open the dashboard in a web browser once it is listening.
    #[arg(long)]
    pub(crate) open: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Only jobs in this state.
    #[arg(long, short)]
    pub(crate) state: Option<JobState>,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The file written by `export`, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct EnqueueArgs {
    /// The shell command, or a JSON job spec (text starting with `{`).
    #[arg(value_name = "COMMAND|JSON", required_unless_present = "file")]
    pub(crate) job: Option<String>,

    /// Read JSON job specs, one per line, from a file (`-` for standard input);
    /// they are stored together or not at all.
    #[arg(long, short, value_name = "FILE", conflicts_with = "job")]
    pub(crate) file: Option<PathBuf>,

    /// The job's id. Default: a generated UUID.
    #[arg(long)]
    pub(crate) id: Option<String>,

    /// Higher runs first, from -1000000 to 1000000. Default 0.
    #[arg(long, short, allow_negative_numbers = true, value_parser = priority())]
    pub(crate) priority: Option<i64>,

    /// Seconds to wait before the job may run, up to ten years.
    #[arg(
        long,
        value_name = "SECS",
        conflicts_with = "run_at",
        allow_negative_numbers = true,
        value_parser = seconds(DELAY_LIMIT_SECS)
    )]
    pub(crate) delay: Option<u64>,

    /// When the job may run, in RFC 3339 (2026-12-24T10:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub(crate) run_at: Option<String>,

    /// Seconds an attempt may run before it is killed, up to 30 days; 0
    /// means no limit. Default: the `job-timeout` setting.
    #[arg(
        long,
        value_name = "SECS",
        allow_negative_numbers = true,
        value_parser = seconds(TIMEOUT_LIMIT_SECS)
    )]
    pub(crate) timeout: Option<u64>,

    /// Retries after the first attempt, up to 1000. Default: the
    /// `max-retries` setting.
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_RETRIES_LIMIT))
    )]
    pub(crate) max_retries: Option<u32>,

    /// Print the ids as a JSON array.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WorkerCommand {
    /// Run workers in the foreground until Ctrl-C, SIGTERM or `worker stop`.
    #[command(after_help = "\
Example:
  queuectl worker start --count 4

The first Ctrl-C (or SIGTERM) stops claiming and lets running jobs finish within the grace
period; a second one stops at once and gives running jobs back to the queue.")]
    Start(WorkerStartArgs),

    /// Ask every worker on this database to stop gracefully, and wait until they have.
    #[command(after_help = "Example:\n  queuectl worker stop\n  queuectl worker stop --no-wait")]
    Stop(WorkerStopArgs),
}

#[derive(Debug, Args)]
pub(crate) struct WorkerStartArgs {
    /// How many jobs run at once, from 1 to 1024.
    #[arg(
        long,
        short,
        default_value_t = 1,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    pub(crate) count: u16,

    /// Seconds running jobs get to finish after a stop is asked for, before they
    /// are killed and given back to the queue; up to a day.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        allow_negative_numbers = true,
        value_parser = seconds(86_400)
    )]
    pub(crate) grace: u64,

    /// How many claimed jobs may wait for a free slot, beyond the running
    /// ones, from 0 to 1024. Worth it for many jobs that take a millisecond or
    /// two: slots start the next job at once, and claims come in batches. The
    /// waiting jobs are held from the other workers, and if this worker is
    /// killed they come back only when their lease lapses, charged an attempt.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u16).range(0..=1024)
    )]
    pub(crate) prefetch: u16,

    /// The host name this worker shows in `status`. Default: this machine's name.
    #[arg(long, env = "QUEUECTL_HOST", value_name = "NAME")]
    pub(crate) host: Option<String>,
}

fn priority() -> RangedI64ValueParser<i64> {
    let limit = i64::from(PRIORITY_LIMIT);
    clap::value_parser!(i64).range(-limit..=limit)
}

/// Whole seconds from 0 to `max`. Parsed as a signed number, so that a
/// negative one is reported as out of range rather than as a bad digit.
fn seconds(max: u64) -> RangedI64ValueParser<u64> {
    RangedI64ValueParser::new().range(0..=i64::try_from(max).unwrap_or(i64::MAX))
}

/// `--limit` of the list commands: from one job to a billion.
fn limit() -> RangedI64ValueParser<u64> {
    RangedI64ValueParser::new().range(1..=1_000_000_000)
}

#[derive(Debug, Args)]
pub(crate) struct WorkerStopArgs {
    /// Return at once instead of waiting for the workers to exit.
    #[arg(long)]
    pub(crate) no_wait: bool,
}

#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only jobs in this state.
    #[arg(long, short)]
    pub(crate) state: Option<JobState>,

    /// The most jobs to show.
    #[arg(
        long,
        short = 'n',
        default_value_t = 50,
        allow_negative_numbers = true,
        value_parser = limit()
    )]
    pub(crate) limit: u64,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The job's id.
    pub(crate) id: String,

    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// List dead jobs, most recent first.
    #[command(after_help = "Example:\n  queuectl dlq list")]
    List(DlqListArgs),

    /// Put a dead job back in the queue with its attempts reset.
    #[command(after_help = "Example:\n  queuectl dlq retry job1")]
    Retry(DlqRetryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DlqListArgs {
    /// The most jobs to show.
    #[arg(
        long,
        short = 'n',
        default_value_t = 50,
        allow_negative_numbers = true,
        value_parser = limit()
    )]
    pub(crate) limit: u64,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DlqRetryArgs {
    /// The dead job's id.
    pub(crate) id: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Show every setting with its value.
    #[command(after_help = "Example:\n  queuectl config list")]
    List(OutputArgs),

    /// Print one setting's value.
    #[command(after_help = "Example:\n  queuectl config get max-retries")]
    Get(ConfigGetArgs),

    /// Change one setting for every worker on this database.
    #[command(after_help = "\
Examples:
  queuectl config set max-retries 5
  queuectl config set backoff-base 3
  queuectl config set poll-interval 250ms

Durations take a plain number of seconds or a unit: 500ms, 30s, 5m, 1h.")]
    Set(ConfigSetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConfigGetArgs {
    /// The setting, such as max-retries.
    pub(crate) key: String,

    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigSetArgs {
    /// The setting, such as max-retries.
    pub(crate) key: String,
    /// Its new value.
    #[arg(allow_hyphen_values = true)]
    pub(crate) value: String,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many jobs run at once, from 1 to 64.
    #[arg(
        long,
        short,
        default_value_t = 4,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u16).range(1..=64)
    )]
    pub(crate) count: u16,
}
