//! Who may talk to the dashboard, and which requests may change the queue.
//!
//! Every request passes [`guard`] first:
//!
//! - Without a token (loopback only, enforced at start-up) the `Host` header
//!   must name a loopback host, so that a web page elsewhere cannot reach
//!   the dashboard by pointing a host name of its own at 127.0.0.1.
//! - With a token, a request carries it as `Authorization: Bearer TOKEN` or
//!   in the cookie that visiting any page with `?token=TOKEN` sets once.
//! - A request that is not a GET must come from the dashboard's own pages:
//!   an `Origin` or `Sec-Fetch-Site` header naming another site refuses it,
//!   and the form must carry the per-process CSRF token ([`Security::csrf`]),
//!   which the action handlers check.
//!
//! Every response forbids framing, inline scripts and loading anything
//! from elsewhere.

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;
use super::error::WebError;

/// The cookie that keeps the token after a visit with `?token=`.
const TOKEN_COOKIE: &str = "queuectl_dashboard_token";

/// What pages may load: only the dashboard's own assets.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The secrets of one dashboard process.
pub(super) struct Security {
    token: Option<String>,
    csrf: String,
}

impl Security {
    /// Guards with `token` if given, and a fresh CSRF token.
    pub(super) fn new(token: Option<String>) -> Self {
        // A version 4 UUID holds 122 random bits from the system's source.
        let csrf = uuid::Uuid::new_v4().simple().to_string();
        Security { token, csrf }
    }

    /// The token every form that changes the queue carries.
    pub(super) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `candidate` is this process's CSRF token.
    pub(super) fn csrf_matches(&self, candidate: Option<&str>) -> bool {
        candidate.is_some_and(|candidate| same_secret(candidate, &self.csrf))
    }
}

/// Checks a form's CSRF token; see the module docs.
pub(super) fn check_csrf(security: &Security, form_token: Option<&str>) -> Result<(), WebError> {
    if security.csrf_matches(form_token) {
        Ok(())
    } else {
        Err(WebError::forbidden(
            "this form's CSRF token is missing or out of date; reload the page and try again",
        ))
    }
}

/// The checks every request passes before its handler; see the module docs.
pub(super) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let security = &state.security;
    let headers = request.headers();
    let api = request.uri().path().starts_with("/api/");
    let refusal = match &security.token {
        None => check_loopback_host(headers).err(),
        Some(token) => match token_in_query(request.uri()) {
            Some(given) if same_secret(&given, token) => {
                return remember_token(request.uri(), token);
            }
            Some(_) => Some(WebError::unauthorized("the token in the address is wrong")),
            None if carries_token(headers, token) => None,
            None => Some(WebError::unauthorized(
                "this dashboard needs its token: send 'Authorization: Bearer TOKEN', or open \
                 the page once with ?token=TOKEN",
            )),
        },
    };
    let refusal = refusal.or_else(|| {
        (request.method() != Method::GET && request.method() != Method::HEAD)
            .then(|| check_same_origin(headers).err())
            .flatten()
    });
    let mut response = match refusal {
        Some(err) if api => super::error::ApiError(err).into_response(),
        Some(err) => err.into_response(),
        None => next.run(request).await,
    };
    protect(response.headers_mut());
    response
}

/// Adds the headers that keep pages from being framed, sniffed or cached.
fn protect(headers: &mut HeaderMap) {
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

/// Refuses a `Host` that is not a loopback name or address.
fn check_loopback_host(headers: &HeaderMap) -> Result<(), WebError> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if is_loopback_host(host) {
        Ok(())
    } else {
        Err(WebError::forbidden(
            "this dashboard answers only to localhost, 127.0.0.1 or [::1]; to serve other \
             hosts, start it with a token",
        ))
    }
}

/// Whether `host` (a `Host` header: a name or address, maybe with a port)
/// is this machine's loopback.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map_or("", |(inside, _)| inside)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a request that a browser says came from another site.
fn check_same_origin(headers: &HeaderMap) -> Result<(), WebError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    let cross_site = matches!(text("sec-fetch-site"), Some("cross-site" | "same-site"));
    let foreign_origin = match (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) {
        (Some(origin), Some(host)) => {
            origin != format!("http://{host}") && origin != format!("https://{host}")
        }
        (Some(_), None) => true,
        (None, _) => false,
    };
    if cross_site || foreign_origin {
        Err(WebError::forbidden(
            "this request came from another site; actions are taken only from the \
             dashboard's own pages",
        ))
    } else {
        Ok(())
    }
}

/// The `token` parameter of the address, if any.
fn token_in_query(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    form_pairs(query)
        .into_iter()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value)
}

/// Whether the request carries `token` in its authorization header or cookie.
fn carries_token(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.strip_prefix("Bearer "))
        .any(|given| same_secret(given.trim(), token));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == TOKEN_COOKIE && same_secret(value, token));
    bearer || cookie
}

/// Sets the token cookie and sends the browser to the same page without the
/// token in its address, where it would linger in history.
fn remember_token(uri: &Uri, token: &str) -> Response {
    let rest: Vec<String> = uri
        .query()
        .map(form_pairs)
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| name != "token")
        .map(|(name, value)| format!("{}={}", encode(&name), encode(&value)))
        .collect();
    let target = if rest.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), rest.join("&"))
    };
    // The token is printable ASCII or the cookie would not be valid; one
    // that is not cannot be kept, and the visitor must send the header.
    let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) if token.bytes().all(|b| b.is_ascii_graphic() && b != b';') => {
            let mut response = Redirect::to(&target).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        _ => WebError::new(
            StatusCode::BAD_REQUEST,
            "this token cannot be kept in a cookie; send it as 'Authorization: Bearer TOKEN'",
        )
        .into_response(),
    }
}

/// The decoded `name=value` pairs of a query string.
pub(super) fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// Encodes `text` for a query string, or for a path segment when it has no
/// white space (as job ids have none): everything but letters, digits and
/// `*-._` is percent-encoded.
pub(super) fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Compares secrets in time that does not depend on where they differ, so
/// that timing the answers does not reveal a token a byte at a time.
fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_names_and_addresses_of_this_machine() {
        for host in [
            "localhost",
            "LOCALHOST:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:5000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "localhost.evil.example",
            "10.0.0.1:5000",
            "[::2]",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret("abcdef", "abcdef"));
        assert!(!same_secret("abcdeg", "abcdef"));
        assert!(!same_secret("abcde", "abcdef"));
        assert!(!same_secret("", "abcdef"));
    }
}
