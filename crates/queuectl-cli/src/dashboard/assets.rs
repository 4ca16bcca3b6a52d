//! The stylesheet and script, compiled into the binary so that the
//! dashboard loads nothing from the network and works offline.

use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;

use super::error::WebError;

/// The stylesheet every page links.
const STYLE: &str = include_str!("assets/dashboard.css");
/// The script that keeps pages current and asks before bulk actions.
const SCRIPT: &str = include_str!("assets/dashboard.js");

pub(super) async fn serve(Path(name): Path<String>) -> Result<impl IntoResponse, WebError> {
    let (body, kind) = match name.as_str() {
        "dashboard.css" => (STYLE, "text/css; charset=utf-8"),
        "dashboard.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return Err(WebError::not_found("there is no such asset")),
    };
    Ok(([(header::CONTENT_TYPE, kind)], body))
}
