//! Refusals and failures as responses: an HTML page for people, JSON for
//! the API, each with a one-line message that says what to do.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::failure::Failure;

/// A request that could not be answered as asked.
#[derive(Debug)]
pub(super) struct WebError {
    pub(super) status: StatusCode,
    pub(super) message: String,
}

impl WebError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        WebError {
            status,
            message: message.into(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        WebError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn forbidden(message: impl Into<String>) -> Self {
        WebError::new(StatusCode::FORBIDDEN, message)
    }

    pub(super) fn unauthorized(message: impl Into<String>) -> Self {
        WebError::new(StatusCode::UNAUTHORIZED, message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        WebError::new(StatusCode::NOT_FOUND, message)
    }

    /// An error from the store or the CLI's own checks, with the status its
    /// exit code would have been: no such job, a state that does not allow
    /// the action, a bad input, or a failure of the store.
    pub(super) fn from_failure(err: &anyhow::Error) -> Self {
        let message = crate::failure::one_line(err);
        let status = match crate::failure::classify(err) {
            Failure::Usage => StatusCode::BAD_REQUEST,
            Failure::NoSuchJob => StatusCode::NOT_FOUND,
            Failure::Conflict => StatusCode::CONFLICT,
            Failure::Failed => {
                tracing::error!(error = %message, "dashboard request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        WebError::new(status, message)
    }
}

impl From<anyhow::Error> for WebError {
    fn from(err: anyhow::Error) -> Self {
        WebError::from_failure(&err)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let page = super::pages::error_page(self.status, &self.message);
        (self.status, page).into_response()
    }
}

/// A [`WebError`] answered as JSON: `{"error": "..."}`.
#[derive(Debug)]
pub(super) struct ApiError(pub(super) WebError);

impl From<WebError> for ApiError {
    fn from(err: WebError) -> Self {
        ApiError(err)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError(WebError::from(err))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.0.message });
        (self.0.status, Json(body)).into_response()
    }
}
