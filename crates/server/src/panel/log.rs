//! The Provisioning log, Sync health and (for the operator) Events
//! screens. An error's reason is the one docs/identity-providers.md gives
//! for its status and SCIM type, so the panel and the guide say the same.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::StatusCode;
use maud::{Markup, PreEscaped, html};
use scimitar_core::ids::TenantId;
use scimitar_core::model::{HourCount, LogEntry, LogQuery};

use super::guide;
use super::layout::{Place, param, screen, when, with_query};
use super::{Operator, PanelResult, Scoped, html_page, path_id};
use crate::AppState;
use crate::extract::QueryPairs;

/// Rows on one page of the log.
const PAGE: u32 = 50;

/// The guide's table of errors: "what to do", as HTML, by status and SCIM
/// type (`None`: the row for a status without a type).
fn advice() -> &'static HashMap<(u16, Option<String>), String> {
    static ADVICE: OnceLock<HashMap<(u16, Option<String>), String>> = OnceLock::new();
    ADVICE.get_or_init(|| {
        let mut out = HashMap::new();
        for line in guide::GUIDE.lines() {
            let cells: Vec<&str> = line
                .split(" | ")
                .map(|c| c.trim_matches(['|', ' ']))
                .collect();
            let [status, types, _meaning, what_to_do] = cells[..] else {
                continue;
            };
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            let html = guide::html(what_to_do, true);
            if types == "—" {
                out.insert((status, None), html);
            } else {
                for t in types.split(',') {
                    let t = t.trim().trim_matches('`');
                    out.insert((status, Some(t.to_owned())), html.clone());
                }
            }
        }
        out
    })
}

/// What to do about a failed request, in the guide's words.
pub(crate) fn what_to_do(entry: &LogEntry) -> Option<&'static str> {
    let advice = advice();
    advice
        .get(&(entry.status, entry.scim_type.clone()))
        .or_else(|| advice.get(&(entry.status, None)))
        .map(String::as_str)
}

/// A request as an administrator names it: "Create user", "Update group".
pub(crate) fn operation(entry: &LogEntry) -> String {
    let path = entry.path.split('?').next().unwrap_or("");
    let (resource, one) = if let Some(i) = path.find("/Users") {
        ("user", !path[i + 6..].trim_matches('/').is_empty())
    } else if let Some(i) = path.find("/Groups") {
        ("group", !path[i + 7..].trim_matches('/').is_empty())
    } else {
        return match entry.method.as_str() {
            "*" => "Refused requests".to_owned(),
            _ => "Read configuration".to_owned(),
        };
    };
    let verb = match (entry.method.as_str(), one) {
        ("GET", false) if entry.path.contains("filter=") => "Look up",
        ("GET", false) => "List",
        ("GET", true) => "Read",
        ("POST", _) => "Create",
        ("PUT", _) => "Replace",
        ("PATCH", _) => "Update",
        ("DELETE", _) => "Delete",
        ("*", _) => return "Refused requests".to_owned(),
        _ => "Request",
    };
    let plural = if one || verb == "Create" { "" } else { "s" };
    format!("{verb} {resource}{plural}")
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A logged path as people read it: percent-escapes decoded (invalid
/// UTF-8 replaced), `+` left alone (a path's `+` is a plus).
pub(crate) fn readable(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a request failed, and what to do about it.
pub(crate) fn reason(entry: &LogEntry) -> Markup {
    html! {
        @if entry.failed() {
            span.detail { (entry.detail.as_deref().unwrap_or("")) }
            @if let Some(t) = &entry.scim_type { " " code { (t) } }
            @if let Some(todo) = what_to_do(entry) {
                br; span.advice { "What to do: " (PreEscaped(todo)) }
            }
        } @else if !entry.ignored.is_empty() {
            span.detail { "Ignored: " (entry.ignored.join(", ")) }
        }
    }
}

/// `GET /admin/t/{tenant}/log?outcome=&method=&before=`.
pub(crate) async fn page(
    State(state): State<AppState>,
    scoped: Scoped,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    let failed = match param(&query, "outcome") {
        Some("failed") => Some(true),
        Some("succeeded") => Some(false),
        _ => None,
    };
    let method = param(&query, "method").filter(|m| METHODS.contains(m));
    let before = param(&query, "before").and_then(|b| b.parse::<i64>().ok());
    let slice = state
        .service()
        .log_page(
            &scoped.tenant.id,
            &LogQuery {
                before,
                failed,
                method: method.map(str::to_owned),
                limit: PAGE,
            },
        )
        .await?;
    let path = format!("/admin/t/{}/log", scoped.tenant.id);
    let place = scoped.place("Provisioning log");
    let outcome = param(&query, "outcome").unwrap_or("");
    let older = slice
        .items
        .last()
        .filter(|_| slice.more)
        .map(|(position, _)| {
            let position = position.to_string();
            let mut params = vec![("before", position.as_str())];
            if !outcome.is_empty() {
                params.push(("outcome", outcome));
            }
            if let Some(m) = method {
                params.push(("method", m));
            }
            with_query(&path, &params)
        });
    let body = html! {
        form.filters method="get" {
            label for="outcome" { "Outcome" }
            select #outcome name="outcome" {
                option value="" selected[failed.is_none()] { "all" }
                option value="failed" selected[outcome == "failed"] { "failed" }
                option value="succeeded" selected[outcome == "succeeded"] { "succeeded" }
            }
            label for="method" { "Operation" }
            select #method name="method" {
                option value="" selected[method.is_none()] { "all" }
                @for m in METHODS { option value=(m) selected[method == Some(m)] { (m) } }
            }
            button type="submit" { "Filter" }
        }
        @if slice.items.is_empty() {
            p { "No requests" @if failed.is_some() || method.is_some() { " match" } "." }
        } @else {
            (log_table(&slice.items))
        }
        @if let Some(older) = &older {
            p.pager { a href=(older) { "Older" } }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place, "Provisioning log", None, body),
    ))
}

fn log_table(items: &[(i64, LogEntry)]) -> Markup {
    html! {
        table.log {
            thead { tr { th.time { "Time" } th { "Operation" } th { "Request" } th { "Status" } th { "Reason" } } }
            tbody {
                @for (_, e) in items {
                    tr class=(if e.failed() { "failed" } else { "ok" }) {
                        td.time { (when(e.time)) }
                        td { (operation(e)) }
                        td { code { (e.method) " " (readable(&e.path)) } }
                        td { (e.status) }
                        td { (reason(e)) }
                    }
                }
            }
        }
    }
}

/// The last 24 hours as bars, oldest on the left: requests in grey, of
/// which failures in red.
fn chart(hours: &[HourCount]) -> Markup {
    const W: u64 = 24;
    const H: u64 = 120;
    let top = hours.iter().map(|h| h.requests).max().unwrap_or(0).max(1);
    let height = |n: u64| (n * H).div_ceil(top);
    html! {
        svg.chart viewBox={ "0 0 " (W * 24) " " (H + 20) } role="img"
            aria-label="Requests and failures per hour, last 24 hours" {
            @for (x, h) in (0..).step_by(W as usize).zip(hours) {
                @let label = format!("{}: {} requests, {} failed", when(h.hour), h.requests, h.failures);
                g {
                    title { (label) }
                    rect.requests x=(x + 2) y=(H - height(h.requests)) width=(W - 4) height=(height(h.requests)) {}
                    rect.failures x=(x + 2) y=(H - height(h.failures)) width=(W - 4) height=(height(h.failures)) {}
                }
            }
            line x1="0" y1=(H) x2=(W * 24) y2=(H) {}
            text x="0" y=(H + 15) { "24 h ago" }
            text x=(W * 24) y=(H + 15) text-anchor="end" { "now" }
        }
    }
}

/// `GET /admin/t/{tenant}/health`.
pub(crate) async fn health(State(state): State<AppState>, scoped: Scoped) -> PanelResult {
    let health = state.service().sync_health(&scoped.tenant.id).await?;
    let hours = &health.hours;
    let requests: u64 = hours.iter().map(|h| h.requests).sum();
    let failures: u64 = hours.iter().map(|h| h.failures).sum();
    let place = scoped.place("Sync health");
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let body = html! {
        p #totals {
            "Last 24 hours: " strong { (plural(requests, "request", "requests")) } ", "
            strong { (plural(failures, "failure", "failures")) } "."
        }
        (chart(hours))
        dl {
            dt { "Last success" }
            dd #last-success {
                @match &health.last_success {
                    Some(e) => { (when(e.time)) " — " (operation(e)) " (" code { (e.method) " " (readable(&e.path)) } ")" }
                    None => "none yet",
                }
            }
            dt { "Last failure" }
            dd #last-failure {
                @match &health.last_failure {
                    Some(e) => {
                        (when(e.time)) " — " (operation(e)) " (" (e.status) "): "
                        (reason(e))
                    }
                    None => "none",
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place, "Sync health", None, body),
    ))
}

/// `GET /admin/events?tenant=&after=` (operator): the deployment's
/// events in order, or one tenant's.
pub(crate) async fn events(
    State(state): State<AppState>,
    Operator(visitor): Operator,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    let tenant = match param(&query, "tenant") {
        Some(raw) => {
            let id: TenantId = path_id(raw.to_owned())?;
            Some(state.service().get_tenant(&id).await?)
        }
        None => None,
    };
    let after = param(&query, "after")
        .and_then(|a| a.parse::<i64>().ok())
        .unwrap_or(0);
    let events = state
        .service()
        .events(tenant.as_ref().map(|t| &t.id), after, PAGE)
        .await?;
    let next = events
        .last()
        .filter(|_| events.len() == PAGE as usize)
        .map(|last| {
            let seq = last.seq.to_string();
            let mut params = vec![("after", seq.as_str())];
            if let Some(t) = &tenant {
                params.push(("tenant", t.id.as_str()));
            }
            with_query("/admin/events", &params)
        });
    let place = Place {
        visitor: &visitor,
        tenant: tenant.as_ref(),
        current: "Events",
    };
    let body = html! {
        @if events.is_empty() {
            p { "No events" @if after > 0 { " after this one" } "." }
        } @else {
            table {
                thead { tr { th { "Seq" } th { "Time" } th { "Tenant" } th { "Type" } th { "Resource" } th { "Data" } } }
                tbody {
                    @for e in &events {
                        tr {
                            td { (e.seq) }
                            td { (when(e.created)) }
                            td { a href={ "/admin/t/" (e.tenant_id) "/setup" } { code { (e.tenant_id) } } }
                            td { code { (e.kind) } }
                            td { code { (e.resource_id) } }
                            td { code { (e.payload.to_string()) } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next {
            p.pager { a href=(next) { "Next" } }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place, "Events", None, body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_of_the_guide_has_its_advice() {
        let entry = |status, scim_type: Option<&str>| LogEntry {
            tenant_id: "t".into(),
            time: 0,
            request_id: String::new(),
            method: "POST".into(),
            path: "/scim/v2/Users".into(),
            status,
            scim_type: scim_type.map(str::to_owned),
            detail: None,
            ignored: vec![],
            api_key_id: None,
        };
        for (status, t) in [
            (400, Some("invalidValue")),
            (400, Some("mutability")),
            (409, Some("uniqueness")),
            (400, Some("invalidFilter")),
            (400, Some("noTarget")),
            (401, None),
            (403, None),
            (404, None),
            (409, None),
            (412, None),
            (429, None),
            (503, None),
        ] {
            assert!(what_to_do(&entry(status, t)).is_some(), "{status} {t:?}");
        }
        assert!(
            what_to_do(&entry(409, Some("uniqueness")))
                .unwrap()
                .contains("duplicate")
        );
        assert_ne!(
            what_to_do(&entry(409, Some("uniqueness"))),
            what_to_do(&entry(409, None))
        );
        assert!(what_to_do(&entry(418, None)).is_none());
    }

    #[test]
    fn operations_are_named_for_people() {
        let entry = |method: &str, path: &str| LogEntry {
            method: method.into(),
            path: path.into(),
            ..LogEntry {
                tenant_id: "t".into(),
                time: 0,
                request_id: String::new(),
                method: String::new(),
                path: String::new(),
                status: 200,
                scim_type: None,
                detail: None,
                ignored: vec![],
                api_key_id: None,
            }
        };
        assert_eq!(
            operation(&entry(
                "GET",
                "/scim/v2/Users?filter=userName%20eq%20%22a%22"
            )),
            "Look up users"
        );
        assert_eq!(operation(&entry("POST", "/scim/v2/Users")), "Create user");
        assert_eq!(
            operation(&entry("PATCH", "/scim/v2/Groups/abc")),
            "Update group"
        );
        assert_eq!(operation(&entry("GET", "/scim/v2/Groups")), "List groups");
        assert_eq!(
            operation(&entry("GET", "/scim/v2/ServiceProviderConfig")),
            "Read configuration"
        );
        assert_eq!(
            readable("/Users?filter=userName%20eq%20%22%C3%A5%22"),
            "/Users?filter=userName eq \"å\""
        );
        assert_eq!(readable("%zz%4"), "%zz%4");
    }
}
