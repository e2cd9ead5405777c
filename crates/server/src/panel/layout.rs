//! The page shell: head, navigation, notices, and the small pieces every
//! screen uses (times, tables, forms' hidden CSRF field).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use scimitar_core::model::{Micros, Tenant};

use super::Visitor;

const STYLESHEET: &str = include_str!("../../assets/panel.css");
const SCRIPT: &str = include_str!("../../assets/panel.js");

/// The screens of a tenant, in navigation order: heading, path segment.
pub(crate) const SCREENS: [(&str, &str); 7] = [
    ("Setup", "setup"),
    ("API keys", "keys"),
    ("Subaccounts", "subaccounts"),
    ("Groups", "groups"),
    ("Users", "users"),
    ("Provisioning log", "log"),
    ("Sync health", "health"),
];

pub(crate) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · scimitar" }
            link rel="stylesheet" href="/admin/assets/panel.css";
            script src="/admin/assets/panel.js" defer {}
        }
    }
}

/// A page with no navigation: sign-in, a portal link's outcome, an error.
pub(crate) fn bare(title: &str, message: &str) -> Markup {
    bare_with(title, html! { p.notice { (message) } })
}

/// The same, with any body.
pub(crate) fn bare_with(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main {
                    p.brand { "scimitar" }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// Where a page sits: which tenant (if any) and which screen is current.
pub(crate) struct Place<'a> {
    pub visitor: &'a Visitor,
    pub tenant: Option<&'a Tenant>,
    /// The heading of the current screen, as in [`SCREENS`] (or
    /// "Tenants", "Events", "Webhooks").
    pub current: &'a str,
}

/// A screen of the panel: navigation, the heading, an optional notice,
/// the body.
pub(crate) fn screen(place: &Place, title: &str, notice: Option<&Notice>, body: Markup) -> Markup {
    let visitor = place.visitor;
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    p.brand { "scimitar" }
                    @if let Some(t) = place.tenant {
                        p.tenant { "Tenant: " strong { (t.name) } }
                    }
                    form.signout method="post" action="/admin/sign-out" {
                        (csrf(visitor))
                        button type="submit" { "Sign out" }
                    }
                }
                nav aria-label="Screens" {
                    ul {
                        @if visitor.is_operator() {
                            li { (link("/admin/tenants", "Tenants", place.current)) }
                        }
                        @if let Some(t) = place.tenant {
                            @for (name, segment) in SCREENS {
                                li { (link(&format!("/admin/t/{}/{segment}", t.id), name, place.current)) }
                            }
                        }
                        @if visitor.is_operator() {
                            @let events = match place.tenant {
                                Some(t) => format!("/admin/events?tenant={}", t.id),
                                None => "/admin/events".to_owned(),
                            };
                            li { (link(&events, "Events", place.current)) }
                            li { (link("/admin/webhooks", "Webhooks", place.current)) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(notice) = notice {
                        p class=(notice.class()) role=(notice.role()) { (notice.text()) }
                    }
                    (body)
                }
            }
        }
    }
}

fn link(href: &str, name: &str, current: &str) -> Markup {
    html! {
        @if name == current {
            a href=(href) aria-current="page" { (name) }
        } @else {
            a href=(href) { (name) }
        }
    }
}

/// The hidden field every form of a session carries.
pub(crate) fn csrf(visitor: &Visitor) -> Markup {
    html! { input type="hidden" name="csrf" value=(visitor.csrf()); }
}

/// A message above a screen's content.
pub(crate) enum Notice {
    /// A change was made.
    Done(&'static str),
    /// A change was refused; the text is the domain's.
    Error(String),
}

impl Notice {
    fn class(&self) -> &'static str {
        match self {
            Notice::Done(_) => "notice done",
            Notice::Error(_) => "notice error",
        }
    }

    fn role(&self) -> &'static str {
        match self {
            Notice::Done(_) => "status",
            Notice::Error(_) => "alert",
        }
    }

    fn text(&self) -> &str {
        match self {
            Notice::Done(text) => text,
            Notice::Error(text) => text,
        }
    }

    /// The notice named by a redirect's `ok=` (a fixed list: the URL never
    /// carries text to show).
    pub fn from_query(query: &[(String, String)]) -> Option<Notice> {
        let code = query.iter().find(|(k, _)| k == "ok")?.1.as_str();
        let text = match code {
            "tenant-created" => "Tenant created.",
            "key-revoked" => "API key revoked: requests with it are refused from now on.",
            "subaccount-created" => "Subaccount created.",
            "subaccount-saved" => "Subaccount saved.",
            "group-created" => "Group created.",
            "group-saved" => "Group saved.",
            "group-deleted" => "Group deleted, with its memberships.",
            "policy-saved" => "Policies saved.",
            "webhook-saved" => "Endpoint saved.",
            "webhook-enabled" => "Endpoint enabled: delivery resumes where it stopped.",
            "webhook-disabled" => "Endpoint disabled: nothing is sent to it until it is enabled.",
            "webhook-replayed" => "Replay started: those events are delivered again, in order.",
            "webhook-deleted" => "Endpoint deleted, with its attempt log.",
            _ => return None,
        };
        Some(Notice::Done(text))
    }
}

/// A time as people read it: `2026-12-03 11:20:05 UTC`.
pub(crate) fn when(micros: Micros) -> String {
    let text = scimitar_proto::datetime::format(micros);
    match (text.get(..10), text.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => text,
    }
}

/// The same for an optional time.
pub(crate) fn when_or(micros: Option<Micros>, none: &str) -> String {
    micros.map_or_else(|| none.to_owned(), when)
}

/// A query parameter's value.
pub(crate) fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A URL with query parameters, each encoded.
pub(crate) fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}
