//! The HTML of every page, as maud templates checked at compile time.
//!
//! Each page is a frame around a live part: the element marked
//! `data-fragment` is fetched again from that address every few seconds by
//! the embedded script, so what it shows stays current without a reload.
//! maud escapes every value it inserts, so job fields (commands, output,
//! errors) show as text and never as markup.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};
use queue_core::{Job, JobState, Timestamp};
use queue_store::FinishedMinute;

use super::params::{Filter, PageParams};
use super::routes::Frame;
use super::security::encode;
use super::snapshot::{Detail, JobPage, Overview, THROUGHPUT_MINUTES};
use crate::render::{duration_text, time, timeout_text};

/// Which part of the navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Overview,
    Jobs,
    Dead,
    None,
}

fn layout(frame: &Frame<'_>, section: Section, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(frame.csrf);
                title { (title) " · queuectl" }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { span.logo { "▚" } "queuectl" }
                    nav {
                        a.active[section == Section::Overview] href="/" { "Overview" }
                        a.active[section == Section::Jobs] href="/jobs" { "Jobs" }
                        a.active[section == Section::Dead] href="/jobs?state=dead" {
                            "Dead letters"
                        }
                    }
                    span.queue title="the queue database" { (frame.queue_name) }
                    span #live-status .live-status title="updates every two seconds" {
                        span.dot {} "live"
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page for a refusal or failure, with its one-line message.
pub(super) fn error_page(status: StatusCode, message: &str) -> Markup {
    let reason = status.canonical_reason().unwrap_or("Error");
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (status.as_u16()) " " (reason) " · queuectl" }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body {
                header.top { a.brand href="/" { span.logo { "▚" } "queuectl" } }
                main {
                    section.card.error-card {
                        h1 { (status.as_u16()) " " (reason) }
                        p.error-message { (message) }
                        p { a href="/" { "Back to the overview" } }
                    }
                }
            }
        }
    }
}

// ---- overview ----

pub(super) fn overview_page(frame: &Frame<'_>, overview: &Overview) -> Markup {
    let body = html! {
        div.live #live data-fragment="/fragments/overview" { (overview_live(frame, overview)) }
    };
    layout(frame, Section::Overview, "Overview", body)
}

pub(super) fn overview_live(_frame: &Frame<'_>, overview: &Overview) -> Markup {
    let finished: u64 = overview.minutes.iter().map(FinishedMinute::total).sum();
    let dead: u64 = overview.minutes.iter().map(|m| m.dead).sum();
    html! {
        section.counts {
            @for state in JobState::ALL {
                a.count.{ "state-" (state.as_str()) }
                    href={ "/jobs?state=" (state.as_str()) } {
                    span.count-label { (state_label(state)) }
                    span.count-value { (overview.counts.of(state)) }
                }
            }
            div.count.count-total {
                span.count-label { "total" }
                span.count-value { (overview.counts.total()) }
            }
        }
        div.grid {
            section.card.throughput {
                div.card-head {
                    h2 { "Throughput" }
                    span.muted { "jobs finished per minute, last hour" }
                }
                (chart(&overview.minutes))
                p.chart-summary {
                    strong { (finished) } " finished in the last hour"
                    @if dead > 0 { ", " span.text-dead { (dead) " dead" } }
                    " · peak " strong { (peak(&overview.minutes)) } "/min"
                }
            }
            section.card.health {
                h2 { "Waiting" }
                @if let Some(job) = &overview.oldest_pending {
                    p.big { (age(overview.now, job.updated_at)) }
                    p.muted {
                        "the oldest pending job, "
                        a.mono href=(job_href(job)) { (job.id.as_str()) }
                        ", has waited this long"
                        @if job.run_at > overview.now {
                            "; it is due " (when(overview.now, job.run_at))
                        }
                    }
                } @else {
                    p.big { "—" }
                    p.muted { "no job is waiting" }
                }
                h2 { "Workers" }
                p.big { (overview.workers.len()) }
                p.muted {
                    @let slots: u32 = overview.workers.iter().map(|w| w.record.slots).sum();
                    @let running: u32 = overview.workers.iter().map(|w| w.record.running).sum();
                    (running) " of " (slots) " slots busy"
                }
            }
        }
        section.card {
            div.card-head { h2 { "Active workers" } }
            @if overview.workers.is_empty() {
                p.empty { "No worker is running. Start one with "
                    code { "queuectl worker start" } "." }
            } @else {
                table {
                    thead { tr {
                        th { "Worker" } th { "Host" } th.num { "PID" } th { "Busy" }
                        th { "Last heartbeat" } th { "Running jobs" }
                    } }
                    tbody {
                        @for worker in &overview.workers {
                            tr {
                                td.mono { (worker.record.id.to_string()) }
                                td { (worker.record.host) }
                                td.num { (worker.record.pid) }
                                td { (worker.record.running) "/" (worker.record.slots) }
                                td { (when(overview.now, worker.record.heartbeat_at)) }
                                td {
                                    @for job in &worker.jobs {
                                        a.chip.mono href=(job_href(job)) title=(job.summary()) {
                                            (job.id.as_str())
                                        }
                                    }
                                    @if worker.jobs.is_empty() { span.muted { "idle" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            div.card-head {
                h2 { "Newest jobs" }
                a href="/jobs" { "All jobs →" }
            }
            (job_table(overview.now, &overview.recent, "No jobs yet."))
        }
    }
}

/// The throughput bar chart: one bar per minute, dead jobs stacked on top
/// of completed ones, as inline SVG.
fn chart(minutes: &[FinishedMinute]) -> Markup {
    const WIDTH: f64 = 600.0;
    const TOP: f64 = 8.0;
    const HEIGHT: f64 = 112.0;
    let peak = peak(minutes).max(1) as f64;
    let slot = WIDTH / THROUGHPUT_MINUTES as f64;
    let scale = |n: u64| (n as f64 / peak * HEIGHT).max(if n > 0 { 2.0 } else { 0.0 });
    html! {
        svg.chart viewBox="0 0 600 140" role="img"
            aria-label="jobs finished per minute over the last hour" {
            line.gridline x1="0" x2="600" y1=(TOP) y2=(TOP) {}
            line.gridline x1="0" x2="600" y1=(TOP + HEIGHT / 2.0) y2=(TOP + HEIGHT / 2.0) {}
            line.baseline x1="0" x2="600" y1=(TOP + HEIGHT) y2=(TOP + HEIGHT) {}
            @for (n, minute) in minutes.iter().enumerate() {
                @let x = n as f64 * slot + 1.0;
                @let done = scale(minute.completed);
                @let dead = if minute.dead > 0 { scale(minute.dead) } else { 0.0 };
                @let label = format!("{} · {} completed, {} dead",
                    minute.minute.format("%H:%M UTC"), minute.completed, minute.dead);
                g.minute {
                    title { (label) }
                    rect.hit x=(x - 1.0) y=(TOP) width=(slot) height=(HEIGHT) {}
                    @if done > 0.0 {
                        rect.bar-done x=(x) y=(TOP + HEIGHT - done) width=(slot - 2.0)
                            height=(done) rx="1" {}
                    }
                    @if dead > 0.0 {
                        rect.bar-dead x=(x) y=(TOP + HEIGHT - done - dead)
                            width=(slot - 2.0) height=(dead) rx="1" {}
                    }
                }
            }
            text.axis x="0" y="136" { (THROUGHPUT_MINUTES) " min ago" }
            text.axis x="300" y="136" text-anchor="middle" { (THROUGHPUT_MINUTES / 2) " min" }
            text.axis x="600" y="136" text-anchor="end" { "now" }
            text.axis x="598" y=(TOP + 11.0) text-anchor="end" { (peak as u64) "/min" }
        }
    }
}

fn peak(minutes: &[FinishedMinute]) -> u64 {
    minutes.iter().map(FinishedMinute::total).max().unwrap_or(0)
}

// ---- job lists ----

pub(super) fn jobs_page(frame: &Frame<'_>, params: &PageParams, page: &JobPage) -> Markup {
    let filter = &params.filter;
    let section = if filter.state == Some(JobState::Dead) {
        Section::Dead
    } else {
        Section::Jobs
    };
    let title = match filter.state {
        Some(JobState::Dead) => "Dead letters".to_owned(),
        Some(state) => format!("{} jobs", capitalised(state_label(state))),
        None => "Jobs".to_owned(),
    };
    let body = html! {
        div.page-head {
            h1 { (title) }
            @if filter.state == Some(JobState::Dead) && page.counts.dead > 0 {
                form.inline method="post" action="/dead/retry"
                    data-confirm="Put every dead job back in the queue?" {
                    input type="hidden" name="csrf" value=(frame.csrf);
                    button.button.primary type="submit" {
                        "Retry all " (page.counts.dead) " dead jobs"
                    }
                }
            }
        }
        nav.tabs {
            a.tab.active[filter.state.is_none()]
                href=(list_href(None, filter.text.as_deref(), 1)) {
                "All " span.tab-count { (page.counts.total()) }
            }
            @for state in JobState::ALL {
                a.tab.active[filter.state == Some(state)]
                    href=(list_href(Some(state), filter.text.as_deref(), 1)) {
                    (state_label(state)) " " span.tab-count { (page.counts.of(state)) }
                }
            }
        }
        form.filter method="get" action="/jobs" role="search" {
            @if let Some(state) = filter.state {
                input type="hidden" name="state" value=(state.as_str());
            }
            input type="search" name="q" value=(filter.text.as_deref().unwrap_or_default())
                placeholder="Filter by id or command" aria-label="filter by id or command"
                maxlength="200";
            button.button type="submit" { "Filter" }
            @if filter.text.is_some() {
                a.clear href=(list_href(filter.state, None, 1)) { "Clear" }
            }
        }
        div.live #live data-fragment=(fragment_href(params)) { (jobs_live(frame, params, page)) }
    };
    layout(frame, section, &title, body)
}

pub(super) fn jobs_live(_frame: &Frame<'_>, params: &PageParams, page: &JobPage) -> Markup {
    let filter = &params.filter;
    let text = filter.text.as_deref();
    let empty = match (&filter.text, filter.state) {
        (Some(_), _) => "No job matches this filter.",
        (None, Some(JobState::Dead)) => "The dead-letter queue is empty.",
        (None, Some(_)) => "No job is in this state.",
        (None, None) => "No jobs yet.",
    };
    html! {
        section.card.flush {
            (job_table(page.now, &page.jobs, empty))
        }
        @if params.page > 1 || page.more {
            nav.pager {
                @if params.page > 1 {
                    a.button href=(list_href(filter.state, text, params.page - 1)) {
                        "← Newer"
                    }
                }
                span.muted { "page " (params.page) }
                @if page.more {
                    a.button href=(list_href(filter.state, text, params.page + 1)) {
                        "Older →"
                    }
                }
            }
        }
    }
}

fn job_table(now: Timestamp, jobs: &[Job], empty: &str) -> Markup {
    html! {
        @if jobs.is_empty() {
            p.empty { (empty) }
        } @else {
            table.jobs {
                thead { tr {
                    th { "ID" } th { "Command" } th { "State" } th.num { "Attempts" }
                    th.num { "Priority" } th { "When" }
                } }
                tbody {
                    @for job in jobs {
                        tr {
                            td.mono { a href=(job_href(job)) { (job.id.as_str()) } }
                            td.command { code title=(job.summary()) { (job.summary()) } }
                            td { (badge(job.state)) }
                            td.num { (job.attempts) "/" (job.max_retries.saturating_add(1)) }
                            td.num { (job.priority) }
                            td.when {
                                @match job.state {
                                    JobState::Pending | JobState::Failed if job.run_at > now => {
                                        "runs " (when(now, job.run_at))
                                    }
                                    JobState::Pending | JobState::Failed => {
                                        "due " (when(now, job.run_at))
                                    }
                                    JobState::Processing => {
                                        @let started = job.started_at.unwrap_or(job.updated_at);
                                        "started " (when(now, started))
                                    }
                                    _ => { (when(now, job.updated_at)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---- one job ----

pub(super) fn job_page(frame: &Frame<'_>, detail: &Detail) -> Markup {
    let id = detail.job.id.as_str();
    let body = html! {
        p.crumbs {
            a href="/jobs" { "Jobs" } " / "
            a href=(list_href(Some(detail.job.state), None, 1)) { (state_label(detail.job.state)) }
        }
        div.live #live data-fragment={ "/fragments/jobs/" (encode(id)) } {
            (job_live(frame, detail))
        }
    };
    layout(frame, Section::None, &format!("Job {id}"), body)
}

pub(super) fn job_live(frame: &Frame<'_>, detail: &Detail) -> Markup {
    let job = &detail.job;
    let now = detail.now;
    let href = format!("/jobs/{}", encode(job.id.as_str()));
    html! {
        div.page-head {
            h1.job-title { span.mono { (job.id.as_str()) } (badge(job.state)) }
            div.actions {
                @if job.state == JobState::Dead {
                    form.inline method="post" action={ (href) "/retry" } {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        button.button.primary #retry type="submit" { "Retry" }
                    }
                }
                @if matches!(job.state, JobState::Pending | JobState::Failed) {
                    form.inline method="post" action={ (href) "/cancel" } {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        button.button.danger #cancel type="submit"
                            title="send it to the dead-letter queue without running it" {
                            "Cancel"
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Command" }
            pre.command-block { (job.summary()) }
            dl.fields {
                (field("State", html! { (badge(job.state)) }))
                (field("Kind", html! { (job.kind) }))
                (field("Attempts", html! {
                    (job.attempts) " of " (job.max_retries.saturating_add(1))
                }))
                (field("Priority", html! { (job.priority) }))
                (field("Timeout", html! { (timeout_text(job.timeout_secs)) }))
                (field("Created", when(now, job.created_at)))
                (field("Updated", when(now, job.updated_at)))
                (field("Run at", when(now, job.run_at)))
                (field("Started", optional_when(now, job.started_at)))
                (field("Finished", optional_when(now, job.finished_at)))
                (field("Duration", html! {
                    (job.duration().map_or_else(|| "—".to_owned(), duration_text))
                }))
                (field("Exit code", html! {
                    (job.exit_code.map_or_else(|| "—".to_owned(), |code| code.to_string()))
                }))
                @if let Some(worker) = &job.worker_id {
                    (field("Worker", html! { span.mono { (worker.to_string()) } }))
                }
                @if let Some(lease) = job.lease_expires_at {
                    (field("Lease until", when(now, lease)))
                }
            }
            @if let Some(error) = &job.last_error {
                h2 { "Last error" }
                pre.error-block { (error) }
            }
        }
        section.card {
            h2 { "Attempts" }
            @if detail.history.is_empty() {
                p.empty {
                    @if job.state == JobState::Processing { "The first attempt is running." }
                    @else { "No attempt has ended yet." }
                }
            } @else {
                table {
                    thead { tr {
                        th.num { "#" } th { "Result" } th { "Started" } th { "Ended" }
                        th { "Took" } th.num { "Exit" } th { "Error" } th { "Worker" }
                    } }
                    tbody {
                        @for attempt in &detail.history {
                            tr {
                                td.num { (attempt.attempt) }
                                td {
                                    span.{ "result result-" (attempt.result) } { (attempt.result) }
                                }
                                td { (when(now, attempt.started_at)) }
                                td { (when(now, attempt.finished_at)) }
                                td { (duration_text(attempt.finished_at - attempt.started_at)) }
                                td.num {
                                    @let exit = attempt.exit_code.map(|n| n.to_string());
                                    (exit.as_deref().unwrap_or("—"))
                                }
                                td.error-cell { (attempt.error.as_deref().unwrap_or("")) }
                                td.mono.small { (attempt.worker_id.to_string()) }
                            }
                        }
                    }
                }
            }
            @if job.state == JobState::Processing {
                p.muted.running-note {
                    "Attempt " (job.attempts) " is running"
                    @if let Some(started) = job.started_at { " since " (when(now, started)) }
                    ". Its output so far is below; its worker stores it about once a second."
                }
            }
        }
        div.grid.outputs {
            (output("stdout", job.stdout.as_deref()))
            (output("stderr", job.stderr.as_deref()))
        }
    }
}

fn field(name: &str, value: Markup) -> Markup {
    html! { div.field { dt { (name) } dd { (value) } } }
}

fn output(name: &str, text: Option<&str>) -> Markup {
    html! {
        section.card.output {
            h2 { (name) }
            @match text {
                Some(text) if !text.is_empty() => { pre.output-block { (text) } }
                _ => { p.empty { "(empty)" } }
            }
        }
    }
}

// ---- small parts ----

fn badge(state: JobState) -> Markup {
    html! { span.{ "badge state-" (state.as_str()) } { (state_label(state)) } }
}

fn state_label(state: JobState) -> &'static str {
    state.as_str()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn job_href(job: &Job) -> String {
    format!("/jobs/{}", encode(job.id.as_str()))
}

/// The address of a page of the job list.
fn list_href(state: Option<JobState>, text: Option<&str>, page: usize) -> String {
    list_address("/jobs", state, text, page)
}

fn fragment_href(params: &PageParams) -> String {
    let Filter { state, text } = &params.filter;
    list_address("/fragments/jobs", *state, text.as_deref(), params.page)
}

fn list_address(path: &str, state: Option<JobState>, text: Option<&str>, page: usize) -> String {
    let mut query = Vec::new();
    if let Some(state) = state {
        query.push(format!("state={}", state.as_str()));
    }
    if let Some(text) = text {
        query.push(format!("q={}", encode(text)));
    }
    if page > 1 {
        query.push(format!("page={page}"));
    }
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// A time as people read it ("3m ago", "in 20s"), the exact time on hover.
fn when(now: Timestamp, at: Timestamp) -> Markup {
    let exact = time(at);
    let relative = if at > now {
        format!("in {}", span_text(at - now))
    } else {
        format!("{} ago", span_text(now - at))
    };
    html! { time datetime=(exact) title=(exact) { (relative) } }
}

fn optional_when(now: Timestamp, at: Option<Timestamp>) -> Markup {
    match at {
        Some(at) => when(now, at),
        None => html! { "—" },
    }
}

/// How long ago `at` was, alone: "4m 10s".
fn age(now: Timestamp, at: Timestamp) -> String {
    span_text(now - at)
}

fn span_text(span: chrono::Duration) -> String {
    let secs = span.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}
