//! What every signed-in page needs besides its own data: the scope (for the
//! top bar and switcher), the CSRF token for its forms and the flash message
//! queued by the previous POST. Handlers take a [`Page`] and hand it to
//! their template as `page`.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use super::csrf::CsrfToken;
use super::error::AppError;
use crate::db::scope::Scope;
use crate::web::session::{Flash, SessionData};

/// The chrome of a signed-in page.
pub struct Page {
    /// Who, where, with which permissions.
    pub scope: Scope,
    /// Token for this page's forms.
    pub csrf: String,
    /// The hidden fields of its workspace-scoped forms, rendered once.
    pub scoped_fields: ScopedFields,
    /// A message from the previous action, shown once.
    pub flash: Option<Flash>,
    /// This page's path and query: where the switcher returns after switching.
    pub path: String,
}

impl FromRequest for Page {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let scope = Scope::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let scope = scope.await?;
            let csrf = CsrfToken::from_request(&req, &mut Payload::None).await?.0;
            let flash = SessionData::new(&req.get_session()).take_flash();
            let scoped_fields = ScopedFields::new(&csrf, scope.workspace_id().as_str())?;
            let path = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or("/")
                .to_owned();
            Ok(Self {
                scope,
                csrf,
                scoped_fields,
                flash,
                path,
            })
        })
    }
}

/// The hidden fields every workspace-scoped form carries: the CSRF token
/// and the id of the workspace the form was rendered for (so a form posted
/// after switching workspace in another tab is refused). Rendered, and so
/// escaped, once per page rather than once per form: the members page has
/// three forms a row.
pub struct ScopedFields(String);

#[derive(askama::Template)]
#[template(
    ext = "html",
    source = r#"<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="active_workspace_id" value="{{ workspace_id }}">"#
)]
struct ScopedFieldsHtml<'a> {
    csrf: &'a str,
    workspace_id: &'a str,
}

impl ScopedFields {
    fn new(csrf: &str, workspace_id: &str) -> Result<Self, AppError> {
        use askama::Template;
        Ok(Self(ScopedFieldsHtml { csrf, workspace_id }.render()?))
    }
}

impl std::fmt::Display for ScopedFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Already escaped by its own template.
impl askama::filters::HtmlSafe for ScopedFields {}

pub use crate::domain::time::format_time;

/// The end of a throttled form's message: "Try again in 3 minutes."
pub fn try_again_in(minutes: i64) -> String {
    format!(
        "Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// Renders a template with a status other than 200 (a form re-rendered with
/// its errors is 422, a refused sign-in 401, a throttled one 429).
pub fn render_with_status<T: askama::Template>(
    template: &T,
    status: actix_web::http::StatusCode,
) -> Result<actix_web::HttpResponse, AppError> {
    let mut body = String::with_capacity(page_capacity::<T>());
    template.render_into(&mut body)?;
    RECENT_PAGE_LEN.set(body.len());
    Ok(actix_web::HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

thread_local! {
    /// The length of the page this worker rendered last.
    static RECENT_PAGE_LEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The most a page's buffer reserves up front (a page longer than this
/// grows it as before).
const MAX_PAGE_RESERVE: usize = 256 * 1024;

/// How much to reserve for `template`'s page: askama's own estimate counts
/// a loop's body once, so a members page of 50 rows (70 KB) grew its
/// buffer from 8 KB by doubling, copying 120 KB on the way, a third of its
/// rendering. The last page this worker rendered is a better guess: a
/// worker serves the same pages again and again, and reserving too much
/// costs only address space until the response is sent.
fn page_capacity<T: askama::Template>() -> usize {
    let recent = RECENT_PAGE_LEN.get().min(MAX_PAGE_RESERVE);
    T::SIZE_HINT.max(recent + recent / 8)
}

/// A redirect after a successful POST (303, so the browser GETs the target).
pub fn see_other(location: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// `next` targets after sign-in are limited to paths on this site.
pub fn safe_local_path(candidate: &str) -> Option<&str> {
    let is_local = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && !candidate.chars().any(|c| c.is_control());
    is_local.then_some(candidate)
}

/// Rows per page of every cursor-paginated table (members, audit log).
pub const PAGE_SIZE: i64 = 50;

/// Cuts one page out of rows fetched with one extra (the repository asks for
/// `PAGE_SIZE + 1`, so "is there a next page" costs no count), and builds the
/// link to the next page: `path?{filters}&{cursor_param}={cursor of the last
/// row shown}`. Filters with an empty value are left out of the link.
pub fn cursor_page<T>(
    rows: Vec<T>,
    path: &str,
    filters: &[(&str, &str)],
    cursor_param: &str,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    cursor_page_of(PAGE_SIZE, rows, path, filters, cursor_param, cursor_of)
}

/// [`cursor_page`] for pages of `page_size` rows (the API's `limit`).
pub fn cursor_page_of<T>(
    page_size: i64,
    mut rows: Vec<T>,
    path: &str,
    filters: &[(&str, &str)],
    cursor_param: &str,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let page_size = usize::try_from(page_size).unwrap_or(usize::MAX);
    if rows.len() <= page_size {
        return (rows, None);
    }
    rows.truncate(page_size);
    let cursor = rows.last().map(&cursor_of).unwrap_or_default();
    let mut params: Vec<(&str, &str)> = filters
        .iter()
        .copied()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    params.push((cursor_param, &cursor));
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    (rows, Some(format!("{path}?{query}")))
}

#[cfg(test)]
mod tests {
    use super::safe_local_path;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(safe_local_path("/account?tab=1"), Some("/account?tab=1"));
        for bad in [
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "",
            "account",
            "/a\r\nSet-Cookie: x",
        ] {
            assert_eq!(safe_local_path(bad), None, "{bad:?}");
        }
    }
}
