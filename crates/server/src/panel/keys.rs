//! The API keys screen: issue (the secret shown once), list, revoke after
//! a confirmation. Several keys may be live at once, so a key is rotated
//! without an outage: issue the new one, give it to the identity provider,
//! then revoke the old one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::html;
use scimitar_core::domain::IssuedApiKey;
use scimitar_core::ids::ApiKeyId;
use scimitar_core::model::ApiKey;

use super::layout::{Notice, csrf, screen, when, when_or};
use super::{PanelError, PanelResult, Posted, Scoped, done, html_page, path_id};
use crate::AppState;
use crate::extract::QueryPairs;

fn keys_path(scoped: &Scoped) -> String {
    format!("/admin/t/{}/keys", scoped.tenant.id)
}

/// The screen, with a new key's secret when one was just issued.
async fn render(
    state: &AppState,
    scoped: &Scoped,
    issued: Option<&IssuedApiKey>,
    notice: Option<Notice>,
    status: StatusCode,
) -> PanelResult {
    let keys = state
        .service()
        .list_api_keys(Some(&scoped.tenant.id))
        .await?;
    let place = scoped.place("API keys");
    let path = keys_path(scoped);
    let body = html! {
        @if let Some(issued) = issued {
            section.secret {
                h2 { "New key" (label_suffix(&issued.api_key)) }
                p.warning role="alert" {
                    "Copy this key now and paste it into your identity provider as its secret \
                     token. It will not be shown again."
                }
                div.url {
                    code #new-key { (issued.key) }
                    button type="button" class="copy" data-copy="new-key" { "Copy" }
                }
            }
        }
        @if keys.is_empty() {
            p { "No API keys yet: your identity provider needs one to connect." }
        } @else {
            table {
                thead { tr { th { "Label" } th { "Created" } th { "Last used" } th { "Status" } th {} } }
                tbody {
                    @for key in &keys {
                        tr {
                            td { (key.label.as_deref().unwrap_or("(no label)")) }
                            td { (when(key.created)) }
                            td { (when_or(key.last_used, "never")) }
                            @match key.revoked {
                                Some(at) => { td { "revoked " (when(at)) } td {} }
                                None => {
                                    td { "live" }
                                    td { a.button href={ (path) "/" (key.id) "/revoke" } { "Revoke" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.hint {
            "To rotate a key without interrupting provisioning: issue a new key, give it to the \
             identity provider, then revoke the old one. Both work until then."
        }
        h2 { "Issue a key" }
        form method="post" action=(path) {
            (csrf(&scoped.visitor))
            label for="label" { "Label" }
            input #label name="label" maxlength="256" placeholder="Entra ID";
            button type="submit" { "Issue API key" }
        }
    };
    Ok(html_page(
        status,
        screen(&place, "API keys", notice.as_ref(), body),
    ))
}

fn label_suffix(key: &ApiKey) -> String {
    key.label
        .as_deref()
        .map(|l| format!(": {l}"))
        .unwrap_or_default()
}

/// `GET /admin/t/{tenant}/keys`.
pub(crate) async fn page(
    State(state): State<AppState>,
    scoped: Scoped,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    render(
        &state,
        &scoped,
        None,
        Notice::from_query(&query),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/t/{tenant}/keys`: the answer is the page with the secret,
/// not a redirect, so the secret is never in a URL.
pub(crate) async fn issue(
    State(state): State<AppState>,
    scoped: Scoped,
    Posted { fields }: Posted,
) -> PanelResult {
    match state
        .service()
        .issue_api_key(&scoped.tenant.id, fields.text("label"))
        .await
    {
        Ok(issued) => {
            tracing::info!(tenant = %scoped.tenant.id, key = %issued.api_key.id, "API key issued in the panel");
            render(&state, &scoped, Some(&issued), None, StatusCode::CREATED).await
        }
        Err(e) => {
            let notice = PanelError::from(e).notice(None)?;
            render(&state, &scoped, None, Some(notice), StatusCode::BAD_REQUEST).await
        }
    }
}

async fn tenant_key(state: &AppState, scoped: &Scoped, raw: String) -> Result<ApiKey, PanelError> {
    let id: ApiKeyId = path_id(raw)?;
    state
        .service()
        .list_api_keys(Some(&scoped.tenant.id))
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or(PanelError::NotFound)
}

/// `GET /admin/t/{tenant}/keys/{key}/revoke`: the confirmation.
pub(crate) async fn confirm_revoke(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, key)): Path<(String, String)>,
) -> PanelResult {
    let key = tenant_key(&state, &scoped, key).await?;
    let place = scoped.place("API keys");
    let path = keys_path(&scoped);
    let body = html! {
        @if key.revoked.is_some() {
            p { "This key is already revoked." }
            p { a href=(path) { "Back to API keys" } }
        } @else {
            p {
                "Revoke the key " strong { (key.label.as_deref().unwrap_or("(no label)")) }
                ", issued " (when(key.created)) "? The identity provider that uses it is refused \
                 from its next request on (401). This cannot be undone."
            }
            form method="post" action={ (path) "/" (key.id) "/revoke" } {
                (csrf(&scoped.visitor))
                button.danger type="submit" { "Revoke" }
                " "
                a href=(path) { "Cancel" }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place, "Revoke API key", None, body),
    ))
}

/// `POST /admin/t/{tenant}/keys/{key}/revoke`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, key)): Path<(String, String)>,
    _: Posted,
) -> PanelResult {
    let key: ApiKeyId = path_id(key)?;
    state
        .service()
        .revoke_api_key(Some(&scoped.tenant.id), &key)
        .await?;
    tracing::info!(tenant = %scoped.tenant.id, key = %key, "API key revoked in the panel");
    Ok(done(&keys_path(&scoped), "key-revoked"))
}
