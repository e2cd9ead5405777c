//! The operator's Webhooks screens: register an endpoint (its secret shown
//! once), the list with where each one's delivery stands, and an
//! endpoint's page: its attempts, newest first; change its URL or types;
//! disable or enable it; rotate its secret; replay it from an event;
//! delete it after a confirmation. Everything goes through the same
//! domain calls as the admin API (`/admin/v1/webhook-endpoints`).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use scimitar_core::CoreError;
use scimitar_core::domain::{EVENT_TYPES, IssuedEndpoint, event_seq};
use scimitar_core::ids::{TenantId, WebhookEndpointId};
use scimitar_core::model::WebhookEndpoint;

use super::layout::{Notice, Place, csrf, param, screen, when, with_query};
use super::{Form, Operator, PanelError, PanelResult, Posted, done, html_page, path_id};
use crate::AppState;
use crate::extract::{QueryPairs, known_id};

const LIST: &str = "/admin/webhooks";

/// Attempts on one page of an endpoint.
const ATTEMPTS: u32 = 50;

fn endpoint_path(id: &WebhookEndpointId) -> String {
    format!("{LIST}/{id}")
}

fn place(operator: &Operator) -> Place<'_> {
    Place {
        visitor: &operator.0,
        tenant: None,
        current: "Webhooks",
    }
}

/// The secret of a new or rotated endpoint, shown on the answer to the
/// form that made it and never again.
fn secret_section(issued: &IssuedEndpoint, what: &str) -> Markup {
    html! {
        section.secret {
            h2 { (what) }
            p.warning role="alert" {
                "Copy this signing secret now and give it to the receiver's signature check. It \
                 will not be shown again."
            }
            div.url {
                code #new-secret { (issued.secret) }
                button type="button" class="copy" data-copy="new-secret" { "Copy" }
            }
        }
    }
}

/// Where an endpoint's delivery stands, in a few words.
fn status(e: &WebhookEndpoint) -> Markup {
    html! {
        @if let Some(at) = e.disabled {
            strong { "Disabled" } " " (when(at))
            @if let Some(why) = &e.disabled_reason { ": " (why) }
        } @else if let Some(since) = e.failing_since {
            strong { "Failing" } " since " (when(since)) " (" (e.failures) " attempts); next \
            attempt " (when(e.next_attempt))
        } @else {
            "Delivering"
        }
    }
}

/// The endpoint's tenant, by name where `names` has it.
fn tenant_of(e: &WebhookEndpoint, names: &HashMap<TenantId, String>) -> Markup {
    html! {
        @match &e.tenant_id {
            Some(t) => a href={ "/admin/t/" (t) "/setup" } {
                @match names.get(t) { Some(name) => (name), None => code { (t) } }
            },
            None => "every tenant",
        }
    }
}

/// The names of the endpoints' tenants (one not found shows its id).
async fn tenant_names(
    state: &AppState,
    endpoints: &[WebhookEndpoint],
) -> Result<HashMap<TenantId, String>, PanelError> {
    let mut names = HashMap::new();
    for id in endpoints.iter().filter_map(|e| e.tenant_id.as_ref()) {
        if names.contains_key(id) {
            continue;
        }
        match state.service().get_tenant(id).await {
            Ok(tenant) => {
                names.insert(tenant.id, tenant.name);
            }
            Err(CoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(names)
}

fn types_of(e: &WebhookEndpoint) -> String {
    if e.types.is_empty() {
        "every type".to_owned()
    } else {
        e.types.join(", ")
    }
}

/// The event types as checkboxes; none checked is every type.
fn type_boxes(checked: &[String]) -> Markup {
    html! {
        span { "Event types" }
        fieldset.types {
            @for t in EVENT_TYPES {
                label {
                    input type="checkbox" name="types" value=(t) checked[checked.iter().any(|c| c == t)];
                    " " (t)
                }
            }
        }
        p.hint { "None checked: every type, including types added later." }
    }
}

/// The chosen types of a form.
fn posted_types(fields: &Form) -> Vec<String> {
    fields.all("types").map(str::to_owned).collect()
}

/// The list, with a new endpoint's secret when one was just registered.
async fn render_list(
    state: &AppState,
    operator: &Operator,
    issued: Option<&IssuedEndpoint>,
    notice: Option<Notice>,
    status_code: StatusCode,
) -> PanelResult {
    let endpoints = state.service().webhook_endpoints().await?;
    let names = tenant_names(state, &endpoints).await?;
    let body = html! {
        @if let Some(issued) = issued {
            (secret_section(issued, "New endpoint"))
        }
        @if endpoints.is_empty() {
            p { "No webhook endpoints yet: register one to push every change to your application." }
        } @else {
            table {
                thead { tr { th { "URL" } th { "Tenant" } th { "Types" } th { "Delivered through" } th { "Status" } } }
                tbody {
                    @for e in &endpoints {
                        tr {
                            td { a href=(endpoint_path(&e.id)) { (e.url) } }
                            td { (tenant_of(e, &names)) }
                            td { (types_of(e)) }
                            td { code { "evt_" (e.delivered_through) } }
                            td { (status(e)) }
                        }
                    }
                }
            }
        }
        h2 { "Register an endpoint" }
        form method="post" action=(LIST) {
            (csrf(&operator.0))
            label for="url" { "URL" }
            input #url name="url" type="url" required maxlength="2048" placeholder="https://app.example.com/scim-events";
            label for="tenant" { "Tenant id" }
            input #tenant name="tenant" maxlength="64" placeholder="every tenant";
            (type_boxes(&[]))
            button type="submit" { "Register endpoint" }
        }
        p.hint {
            "An endpoint receives the events committed after it is registered, signed as Standard \
             Webhooks 1.0 describes, each until it answers 2xx (for up to three days)."
        }
    };
    Ok(html_page(
        status_code,
        screen(&place(operator), "Webhooks", notice.as_ref(), body),
    ))
}

/// `GET /admin/webhooks` (operator).
pub(crate) async fn list(
    State(state): State<AppState>,
    operator: Operator,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    let notice = Notice::from_query(&query);
    render_list(&state, &operator, None, notice, StatusCode::OK).await
}

/// `POST /admin/webhooks` (operator): the answer is the list with the
/// secret, not a redirect, so the secret is never in a URL.
pub(crate) async fn create(
    State(state): State<AppState>,
    operator: Operator,
    Posted { fields }: Posted,
) -> PanelResult {
    // A tenant id that cannot be one of ours names no tenant, as an
    // unknown one does.
    let tenant = fields
        .text("tenant")
        .map(|raw| known_id::<TenantId>(raw.to_owned()).ok_or(PanelError::NotFound))
        .transpose();
    let url = fields.get("url").unwrap_or_default();
    let made = match tenant {
        Ok(tenant) => state
            .service()
            .create_webhook_endpoint(url, tenant.as_ref(), posted_types(&fields))
            .await
            .map_err(PanelError::from),
        Err(e) => Err(e),
    };
    match made {
        Ok(issued) => {
            tracing::info!(endpoint = %issued.endpoint.id, "webhook endpoint registered in the panel");
            render_list(&state, &operator, Some(&issued), None, StatusCode::CREATED).await
        }
        Err(e) => {
            let notice = e.notice(Some("There is no tenant with that id."))?;
            render_list(
                &state,
                &operator,
                None,
                Some(notice),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// What an endpoint's page shows above and beside the endpoint.
#[derive(Default)]
struct Shown {
    /// Attempts older than this position (a page on).
    before: Option<i64>,
    /// A section first (a new secret).
    top: Option<Markup>,
    notice: Option<Notice>,
}

/// An endpoint's page: what it is, its attempts (a page of them, older
/// ones `before` a position), and the forms that change it.
async fn render_endpoint(
    state: &AppState,
    operator: &Operator,
    endpoint: WebhookEndpoint,
    shown: Shown,
    status_code: StatusCode,
) -> PanelResult {
    let Shown {
        before,
        top,
        notice,
    } = shown;
    let attempts = state
        .service()
        .webhook_attempts(&endpoint.id, before, ATTEMPTS)
        .await?;
    let path = endpoint_path(&endpoint.id);
    let older = attempts
        .items
        .last()
        .filter(|_| attempts.more)
        .map(|(at, _)| with_query(&path, &[("before", &at.to_string())]));
    let names = tenant_names(state, std::slice::from_ref(&endpoint)).await?;
    let e = &endpoint;
    let body = html! {
        @if let Some(top) = top { (top) }
        dl {
            dt { "URL" } dd { code { (e.url) } }
            dt { "Tenant" } dd { (tenant_of(e, &names)) }
            dt { "Types" } dd { (types_of(e)) }
            dt { "Registered" } dd { (when(e.created)) }
            dt { "Status" } dd { (status(e)) }
            dt { "Delivered through" } dd { code { "evt_" (e.delivered_through) } }
            @if let Some(until) = e.previous_secret_until {
                dt { "Previous secret" } dd { "also signs until " (when(until)) }
            }
            dt { "Id" } dd { code { (e.id) } }
        }
        h2 { "Attempts" }
        @if attempts.items.is_empty() {
            p { "No attempts" @if before.is_some() { " before these" } "." }
        } @else {
            table {
                thead { tr { th { "Time" } th { "Event" } th { "Answer" } th.num { "Took (ms)" } th { "Error" } } }
                tbody {
                    @for (_, a) in &attempts.items {
                        tr class=[(!a.succeeded()).then_some("failed")] {
                            td.time { (when(a.time)) }
                            td { code { "evt_" (a.event_seq) } }
                            td { @match a.status { Some(s) => (s), None => "none" } }
                            td.num { (a.millis) }
                            td { (a.error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        @if let Some(older) = &older {
            p.pager { a href=(older) { "Older attempts" } }
        }
        (forms(operator, e, &path))
    };
    Ok(html_page(
        status_code,
        screen(&place(operator), "Webhook endpoint", notice.as_ref(), body),
    ))
}

/// The forms of an endpoint's page.
fn forms(operator: &Operator, e: &WebhookEndpoint, path: &str) -> Markup {
    let visitor = &operator.0;
    html! {
        h2 { @if e.disabled.is_some() { "Enable" } @else { "Disable" } }
        form method="post" action={ (path) "/enabled" } {
            (csrf(visitor))
            @if e.disabled.is_some() {
                input type="hidden" name="enabled" value="true";
                p.hint { "Delivery resumes at once where it stopped, with the failures forgotten." }
                button type="submit" { "Enable" }
            } @else {
                input type="hidden" name="enabled" value="false";
                p.hint { "Nothing is sent until it is enabled again; events wait, none is lost." }
                button.danger type="submit" { "Disable" }
            }
        }
        h2 { "Replay" }
        form method="post" action={ (path) "/replay" } {
            (csrf(visitor))
            label for="from" { "From event" }
            input #from name="from" required maxlength="32" placeholder="evt_42";
            p.hint { "That event and every one after it are delivered again, in order." }
            button type="submit" { "Replay" }
        }
        h2 { "Change" }
        form method="post" action=(path) {
            (csrf(visitor))
            label for="url" { "URL" }
            input #url name="url" type="url" required maxlength="2048" value=(e.url);
            (type_boxes(&e.types))
            button type="submit" { "Save" }
        }
        h2 { "Secret" }
        form method="post" action={ (path) "/rotate-secret" } {
            (csrf(visitor))
            p.hint {
                "A new signing secret; for a day every message is signed with both, so the \
                 receiver can switch without missing one."
            }
            button type="submit" { "Rotate secret" }
        }
        p { a.button.danger href={ (path) "/delete" } { "Delete endpoint" } }
    }
}

async fn endpoint_of(state: &AppState, raw: String) -> Result<WebhookEndpoint, PanelError> {
    let id: WebhookEndpointId = path_id(raw)?;
    Ok(state.service().webhook_endpoint(&id).await?)
}

/// `GET /admin/webhooks/{endpoint}` (operator).
pub(crate) async fn page(
    State(state): State<AppState>,
    operator: Operator,
    Path(endpoint): Path<String>,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    let endpoint = endpoint_of(&state, endpoint).await?;
    let before = param(&query, "before").and_then(|b| b.parse::<i64>().ok());
    let notice = Notice::from_query(&query);
    let shown = Shown {
        before,
        notice,
        ..Shown::default()
    };
    render_endpoint(&state, &operator, endpoint, shown, StatusCode::OK).await
}

/// Back to the endpoint's page after a change the domain refused: the
/// page as it stands, with the refusal above it.
async fn not_saved(
    state: &AppState,
    operator: &Operator,
    id: &WebhookEndpointId,
    err: PanelError,
) -> PanelResult {
    let notice = err.notice(None)?;
    let endpoint = state.service().webhook_endpoint(id).await?;
    let shown = Shown {
        notice: Some(notice),
        ..Shown::default()
    };
    render_endpoint(state, operator, endpoint, shown, StatusCode::BAD_REQUEST).await
}

/// `POST /admin/webhooks/{endpoint}` (operator): a new URL and types.
pub(crate) async fn save(
    State(state): State<AppState>,
    operator: Operator,
    Path(endpoint): Path<String>,
    Posted { fields }: Posted,
) -> PanelResult {
    let id: WebhookEndpointId = path_id(endpoint)?;
    let url = fields.get("url").unwrap_or_default();
    let changed = state
        .service()
        .change_webhook_endpoint(&id, Some(url), Some(posted_types(&fields)), None)
        .await;
    match changed {
        Ok(_) => Ok(done(&endpoint_path(&id), "webhook-saved")),
        Err(e) => not_saved(&state, &operator, &id, e.into()).await,
    }
}

/// `POST /admin/webhooks/{endpoint}/enabled` (operator): `enabled` is
/// `true` or `false`.
pub(crate) async fn enable(
    State(state): State<AppState>,
    operator: Operator,
    Path(endpoint): Path<String>,
    Posted { fields }: Posted,
) -> PanelResult {
    let id: WebhookEndpointId = path_id(endpoint)?;
    let enabled = match fields.get("enabled") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            let why = PanelError::Rejected("'enabled' must be true or false".into());
            return not_saved(&state, &operator, &id, why).await;
        }
    };
    state
        .service()
        .change_webhook_endpoint(&id, None, None, Some(enabled))
        .await?;
    tracing::info!(endpoint = %id, enabled, "webhook endpoint enabled or disabled in the panel");
    let notice = if enabled {
        "webhook-enabled"
    } else {
        "webhook-disabled"
    };
    Ok(done(&endpoint_path(&id), notice))
}

/// `POST /admin/webhooks/{endpoint}/replay` (operator): `from` is an
/// event id.
pub(crate) async fn replay(
    State(state): State<AppState>,
    operator: Operator,
    Path(endpoint): Path<String>,
    Posted { fields }: Posted,
) -> PanelResult {
    let id: WebhookEndpointId = path_id(endpoint)?;
    let Some(from) = fields.text("from").and_then(event_seq) else {
        let why = PanelError::Rejected("'From event' must be an event id, such as evt_42".into());
        return not_saved(&state, &operator, &id, why).await;
    };
    match state.service().replay_webhook_endpoint(&id, from).await {
        Ok(_) => {
            tracing::info!(endpoint = %id, from, "webhook endpoint replayed in the panel");
            Ok(done(&endpoint_path(&id), "webhook-replayed"))
        }
        Err(e) => not_saved(&state, &operator, &id, e.into()).await,
    }
}

/// `POST /admin/webhooks/{endpoint}/rotate-secret` (operator): the
/// endpoint's page with the new secret.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    operator: Operator,
    Path(endpoint): Path<String>,
    _: Posted,
) -> PanelResult {
    let id: WebhookEndpointId = path_id(endpoint)?;
    let issued = state.service().rotate_webhook_secret(&id).await?;
    tracing::info!(endpoint = %id, "webhook secret rotated in the panel");
    let shown = Shown {
        top: Some(secret_section(&issued, "New secret")),
        ..Shown::default()
    };
    render_endpoint(&state, &operator, issued.endpoint, shown, StatusCode::OK).await
}

/// `GET /admin/webhooks/{endpoint}/delete` (operator): the confirmation.
pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    operator: Operator,
    Path(endpoint): Path<String>,
) -> PanelResult {
    let e = endpoint_of(&state, endpoint).await?;
    let path = endpoint_path(&e.id);
    let body = html! {
        p {
            "Delete the endpoint " code { (e.url) } " and its attempt log? Nothing more is sent \
             to it, and its secret stops meaning anything. This cannot be undone."
        }
        form method="post" action={ (path) "/delete" } {
            (csrf(&operator.0))
            button.danger type="submit" { "Delete" }
            " "
            a href=(path) { "Cancel" }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place(&operator), "Delete webhook endpoint", None, body),
    ))
}

/// `POST /admin/webhooks/{endpoint}/delete` (operator).
pub(crate) async fn delete(
    State(state): State<AppState>,
    _: Operator,
    Path(endpoint): Path<String>,
    _: Posted,
) -> PanelResult {
    let id: WebhookEndpointId = path_id(endpoint)?;
    state.service().delete_webhook_endpoint(&id).await?;
    tracing::info!(endpoint = %id, "webhook endpoint deleted in the panel");
    Ok(done(LIST, "webhook-deleted"))
}
