//! The JSON API under `/api/`, in the shapes the CLI's `--json` prints.
//!
//! | path | answer |
//! | --- | --- |
//! | `/api/status` | `status --json`, plus `finished_per_minute` and `oldest_pending` |
//! | `/api/jobs?state=&q=&limit=&offset=` | `list --json`: an array of jobs |
//! | `/api/jobs/{id}` | `inspect --json`: the job, `duration_ms` and `history` |
//!
//! `finished_per_minute` has one entry per minute of the last hour, oldest
//! first; `oldest_pending` is the pending job that has waited longest.
//!
//! Errors come back as `{"error": "..."}` with a status that says what
//! kind: 400 for bad parameters, 401 or 403 for refusals, 404 for no job.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, WebError};
use super::params::ApiParams;
use super::security::form_pairs;
use super::snapshot::{self, blocking};
use crate::render::Inspection;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/status", get(status))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError(WebError::not_found("there is no API at this address"))
}

async fn status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let overview = blocking(&state.store, snapshot::overview).await?;
    let value = serde_json::json!({
        "counts": overview.counts,
        "workers": overview.workers.iter().map(|w| &w.record).collect::<Vec<_>>(),
        "finished_per_minute": overview.minutes,
        "oldest_pending": overview.oldest_pending,
    });
    Ok(Json(value))
}

async fn jobs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = ApiParams::parse(&form_pairs(query.as_deref().unwrap_or_default()))?;
    let query = snapshot::query(&params.filter, params.limit, params.offset);
    let jobs = blocking(&state.store, move |store| Ok(store.list(&query)?)).await?;
    Ok(Json(
        serde_json::to_value(jobs).map_err(anyhow::Error::from)?,
    ))
}

async fn job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = super::routes::job_id(&id)?;
    let detail = blocking(&state.store, move |store| snapshot::detail(store, &id)).await?;
    let inspection = Inspection::new(&detail.job, &detail.history);
    Ok(Json(
        serde_json::to_value(inspection).map_err(anyhow::Error::from)?,
    ))
}
