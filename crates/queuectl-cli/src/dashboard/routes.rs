//! The dashboard's addresses, and the handlers of its pages and actions.
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | GET | `/` | overview |
//! | GET | `/jobs?state=&q=&page=` | a page of jobs |
//! | GET | `/jobs/{id}` | one job, its attempts and output |
//! | GET | `/fragments/...` | the live part of each page above, polled by the page |
//! | POST | `/jobs/{id}/retry` | revive a dead job |
//! | POST | `/jobs/{id}/cancel` | send a waiting job to the dead-letter queue |
//! | POST | `/dead/retry` | revive every dead job |
//! | GET | `/api/...` | JSON; see [`super::api`] |
//! | GET | `/assets/...` | the embedded stylesheet and script |

use axum::Router;
use axum::extract::{Form, Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use queue_core::{Job, JobId};
use queue_store::Store;

use super::error::WebError;
use super::params::{PAGE_SIZE, PageParams};
use super::security::{check_csrf, encode, form_pairs};
use super::snapshot::{self, blocking};
use super::{AppState, api, assets, pages};

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(overview_page))
        .route("/jobs", get(jobs_page))
        .route("/jobs/{id}", get(job_page))
        .route("/fragments/overview", get(overview_fragment))
        .route("/fragments/jobs", get(jobs_fragment))
        .route("/fragments/jobs/{id}", get(job_fragment))
        .route("/jobs/{id}/retry", post(retry))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/dead/retry", post(retry_all))
        .route("/assets/{name}", get(assets::serve))
        .nest("/api", api::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::security::guard,
        ))
        .with_state(state)
}

async fn not_found() -> WebError {
    WebError::not_found("there is no page at this address")
}

/// The context every page's frame shows.
pub(super) struct Frame<'a> {
    pub(super) queue_name: &'a str,
    pub(super) csrf: &'a str,
}

fn frame(state: &AppState) -> Frame<'_> {
    Frame {
        queue_name: &state.queue_name,
        csrf: state.security.csrf(),
    }
}

async fn overview_page(State(state): State<AppState>) -> Result<Markup, WebError> {
    let overview = blocking(&state.store, snapshot::overview).await?;
    Ok(pages::overview_page(&frame(&state), &overview))
}

async fn overview_fragment(State(state): State<AppState>) -> Result<Markup, WebError> {
    let overview = blocking(&state.store, snapshot::overview).await?;
    Ok(pages::overview_live(&frame(&state), &overview))
}

async fn jobs_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Markup, WebError> {
    let params = page_params(query.as_deref())?;
    let page = read_page(&state, &params).await?;
    Ok(pages::jobs_page(&frame(&state), &params, &page))
}

async fn jobs_fragment(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Markup, WebError> {
    let params = page_params(query.as_deref())?;
    let page = read_page(&state, &params).await?;
    Ok(pages::jobs_live(&frame(&state), &params, &page))
}

fn page_params(query: Option<&str>) -> Result<PageParams, WebError> {
    PageParams::parse(&form_pairs(query.unwrap_or_default()))
}

async fn read_page(state: &AppState, params: &PageParams) -> Result<snapshot::JobPage, WebError> {
    let filter = params.filter.clone();
    let offset = params.offset();
    blocking(&state.store, move |store| {
        snapshot::jobs(store, &filter, PAGE_SIZE, offset)
    })
    .await
}

async fn job_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Markup, WebError> {
    let detail = read_detail(&state, &id).await?;
    Ok(pages::job_page(&frame(&state), &detail))
}

async fn job_fragment(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Markup, WebError> {
    let detail = read_detail(&state, &id).await?;
    Ok(pages::job_live(&frame(&state), &detail))
}

async fn read_detail(state: &AppState, id: &str) -> Result<snapshot::Detail, WebError> {
    let id = job_id(id)?;
    blocking(&state.store, move |store| snapshot::detail(store, &id)).await
}

pub(super) fn job_id(text: &str) -> Result<JobId, WebError> {
    JobId::new(text).map_err(|err| WebError::bad_request(err.to_string()))
}

/// The fields of an action's form.
type ActionForm = Form<Vec<(String, String)>>;

fn csrf_field(form: &[(String, String)]) -> Option<&str> {
    form.iter()
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.as_str())
}

async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): ActionForm,
) -> Result<Response, WebError> {
    act_on_job(state, &id, &form, "retried", |store, id| store.revive(id)).await
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): ActionForm,
) -> Result<Response, WebError> {
    act_on_job(state, &id, &form, "cancelled", |store, id| store.cancel(id)).await
}

/// Checks the form, applies `action` to the job named in the path and shows
/// the job's page again.
async fn act_on_job(
    state: AppState,
    id: &str,
    form: &[(String, String)],
    done: &'static str,
    action: fn(&dyn Store, &JobId) -> queue_store::Result<Job>,
) -> Result<Response, WebError> {
    check_csrf(&state.security, csrf_field(form))?;
    let id = job_id(id)?;
    let job = blocking(&state.store, move |store| Ok(action(store, &id)?)).await?;
    tracing::info!(job_id = %job.id, "job {done} from the dashboard");
    Ok(Redirect::to(&format!("/jobs/{}", encode(job.id.as_str()))).into_response())
}

async fn retry_all(
    State(state): State<AppState>,
    Form(form): ActionForm,
) -> Result<Response, WebError> {
    check_csrf(&state.security, csrf_field(&form))?;
    let revived = blocking(&state.store, snapshot::revive_all).await?;
    tracing::info!(revived, "dead jobs retried from the dashboard");
    Ok(Redirect::to("/jobs?state=pending").into_response())
}
