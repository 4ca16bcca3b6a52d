//! The query parameters of the job lists, checked with messages that name
//! the parameter and what it takes.

use queue_core::JobState;

use super::error::WebError;

/// How many jobs a page of the job list shows.
pub(super) const PAGE_SIZE: usize = 25;
/// The longest filter text accepted.
const MAX_TEXT_CHARS: usize = 200;
/// The deepest page or offset accepted; deeper is surely a mistake.
const MAX_PAGE: usize = 1_000_000;
/// The most jobs one API call returns.
pub(super) const MAX_LIMIT: usize = 1000;

/// Which jobs a list shows: by state and by text in the id or command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Filter {
    pub(super) state: Option<JobState>,
    pub(super) text: Option<String>,
}

/// The job list page's parameters: `state`, `q` and `page` (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PageParams {
    pub(super) filter: Filter,
    pub(super) page: usize,
}

/// The API's job list parameters: `state`, `q`, `limit` and `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiParams {
    pub(super) filter: Filter,
    pub(super) limit: usize,
    pub(super) offset: usize,
}

impl PageParams {
    pub(super) fn parse(pairs: &[(String, String)]) -> Result<Self, WebError> {
        let mut params = PageParams {
            filter: Filter::default(),
            page: 1,
        };
        for (name, value) in unique(pairs, &["state", "q", "page"])? {
            match name {
                "page" => params.page = number(name, value, 1, MAX_PAGE)?,
                _ => params.filter.take(name, value)?,
            }
        }
        Ok(params)
    }

    /// How many jobs come before this page.
    pub(super) fn offset(&self) -> usize {
        (self.page - 1) * PAGE_SIZE
    }
}

impl ApiParams {
    pub(super) fn parse(pairs: &[(String, String)]) -> Result<Self, WebError> {
        let mut params = ApiParams {
            filter: Filter::default(),
            limit: 50,
            offset: 0,
        };
        for (name, value) in unique(pairs, &["state", "q", "limit", "offset"])? {
            match name {
                "limit" => params.limit = number(name, value, 1, MAX_LIMIT)?,
                "offset" => params.offset = number(name, value, 0, MAX_PAGE * PAGE_SIZE)?,
                _ => params.filter.take(name, value)?,
            }
        }
        Ok(params)
    }
}

impl Filter {
    fn take(&mut self, name: &str, value: &str) -> Result<(), WebError> {
        match name {
            "state" if value.is_empty() => self.state = None,
            "state" => {
                let state = value.parse().map_err(|_| {
                    WebError::bad_request(format!(
                        "state '{value}' is not one of pending, processing, completed, failed, \
                         dead"
                    ))
                })?;
                self.state = Some(state);
            }
            _ => {
                let text = value.trim();
                if text.chars().count() > MAX_TEXT_CHARS {
                    return Err(WebError::bad_request(format!(
                        "the filter text q is longer than {MAX_TEXT_CHARS} characters"
                    )));
                }
                self.text = (!text.is_empty()).then(|| text.to_owned());
            }
        }
        Ok(())
    }
}

/// The pairs, each name given at most once and one of `known`.
fn unique<'a>(
    pairs: &'a [(String, String)],
    known: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, WebError> {
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in pairs {
        if !known.contains(&name.as_str()) {
            return Err(WebError::bad_request(format!(
                "unknown parameter '{name}'; this address takes {}",
                known.join(", ")
            )));
        }
        if seen.contains(&name.as_str()) {
            return Err(WebError::bad_request(format!(
                "parameter '{name}' is given more than once"
            )));
        }
        seen.push(name);
    }
    Ok(pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect())
}

fn number(name: &str, value: &str, min: usize, max: usize) -> Result<usize, WebError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            WebError::bad_request(format!(
                "{name} must be a whole number from {min} to {max}, not '{value}'"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn page_parameters_default_and_parse() {
        let parsed = PageParams::parse(&pairs(&[])).unwrap();
        assert_eq!((parsed.filter, parsed.page), (Filter::default(), 1));

        let parsed =
            PageParams::parse(&pairs(&[("state", "dead"), ("q", " make "), ("page", "3")]))
                .unwrap();
        assert_eq!(parsed.filter.state, Some(JobState::Dead));
        assert_eq!(parsed.filter.text.as_deref(), Some("make"));
        assert_eq!(parsed.offset(), 2 * PAGE_SIZE);
    }

    #[test]
    fn bad_parameters_name_what_is_wrong() {
        let cases = [
            (vec![("page", "0")], "page must be a whole number from 1"),
            (vec![("page", "x")], "page must be a whole number from 1"),
            (vec![("state", "done")], "state 'done' is not one of"),
            (vec![("sort", "id")], "unknown parameter 'sort'"),
            (vec![("page", "1"), ("page", "2")], "given more than once"),
        ];
        for (list, expected) in cases {
            let err = PageParams::parse(&pairs(&list)).unwrap_err();
            assert!(err.message.contains(expected), "{list:?}: {}", err.message);
        }
        let err = ApiParams::parse(&pairs(&[("limit", "1001")])).unwrap_err();
        assert!(
            err.message
                .contains("limit must be a whole number from 1 to 1000")
        );
    }
}
