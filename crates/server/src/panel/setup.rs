//! The Setup screen: the tenant's SCIM URLs, the steps for the chosen
//! identity provider (docs/identity-providers.md, rendered), what the
//! service last heard from it, and the tenant's provisioning policies
//! (which the operator changes here).

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use maud::{Markup, PreEscaped, html};

use scimitar_core::model::{
    DeactivatedMemberships, Deprovision, GroupCreation, PolicyChange, Subaccount, Tenant,
    UserNameFormat,
};

use super::guide;
use super::layout::{Notice, csrf, param, screen, when};
use super::log::{operation, reason};
use super::{Operator, PanelError, PanelResult, Posted, Scoped, Visitor, done, html_page, path_id};
use crate::AppState;
use crate::extract::QueryPairs;

/// The providers, as `?provider=` names them, and their section headings.
const PROVIDERS: [(&str, &str); 4] = [
    ("entra", "Microsoft Entra ID"),
    ("okta", "Okta"),
    ("onelogin", "OneLogin"),
    ("jumpcloud", "JumpCloud"),
];

/// Each provider's section of the guide as HTML, rendered once.
fn steps(provider: &str) -> &'static str {
    static RENDERED: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    let rendered = RENDERED.get_or_init(|| {
        PROVIDERS
            .iter()
            .map(|(key, heading)| (*key, guide::html(section(guide::GUIDE, heading), false)))
            .collect()
    });
    rendered.get(provider).map_or("", String::as_str)
}

/// The lines under `## heading`, up to the next `## `.
fn section<'g>(guide: &'g str, heading: &str) -> &'g str {
    let marker = format!("\n## {heading}\n");
    let Some(start) = guide.find(&marker).map(|i| i + marker.len()) else {
        return "";
    };
    let rest = &guide[start..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

fn url_row(label: &str, id: &str, url: &str) -> Markup {
    html! {
        div.url {
            span.label { (label) }
            code id=(id) { (url) }
            button type="button" class="copy" data-copy=(id) { "Copy" }
        }
    }
}

/// `GET /admin/t/{tenant}/setup?provider=`.
pub(crate) async fn page(
    State(state): State<AppState>,
    scoped: Scoped,
    headers: HeaderMap,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    let provider = param(&query, "provider")
        .filter(|p| PROVIDERS.iter().any(|(key, _)| key == p))
        .unwrap_or("entra");
    let tenant = &scoped.tenant;
    let health = state.service().sync_health(&tenant.id).await?;
    // The failure matters here only if nothing has worked since.
    let failing = health
        .last_failure
        .as_ref()
        .filter(|f| health.last_success.as_ref().is_none_or(|s| s.time < f.time));
    let base = crate::scim::base_url(&state, &headers);
    let entra = format!("{base}?aadOptscim062020");
    let heading = PROVIDERS
        .iter()
        .find(|(key, _)| *key == provider)
        .map_or("Microsoft Entra ID", |(_, h)| h);
    // The subaccounts: for the operator's select, or to name where groups
    // go; a customer's Setup screen under the default policy needs none.
    let subs = if scoped.visitor.is_operator() || tenant.policy.group_subaccount_id.is_some() {
        state.service().list_subaccounts(&tenant.id).await?
    } else {
        Vec::new()
    };
    let place = scoped.place("Setup");
    let body = html! {
        section.urls {
            h2 { "Your SCIM URLs" }
            (url_row("Tenant URL for Microsoft Entra ID", "entra-url", &entra))
            (url_row("SCIM base URL for Okta, OneLogin and JumpCloud", "scim-url", &base))
            p.hint {
                "The identity provider also needs an API key: issue one under "
                a href={ "/admin/t/" (tenant.id) "/keys" } { "API keys" } "."
            }
        }
        section.last {
            h2 { "Last request" }
            div #last-request {
                @match (&health.last_success, failing) {
                    (None, None) => p { "no request yet" },
                    (Some(ok), _) => p {
                        strong { "Test Connection received" }
                        ": your identity provider reached this tenant with a valid key. Last \
                         successful request " (when(ok.time)) ": " (operation(ok)) "."
                    },
                    (None, Some(_)) => {},
                }
                @if let Some(failed) = failing {
                    p.notice.error {
                        "The newest request failed, " (when(failed.time)) " (" (operation(failed))
                        ", " (failed.status) "): " (reason(failed))
                    }
                }
            }
        }
        (policies(&scoped.visitor, tenant, &subs))
        section.steps {
            h2 { "Steps for " (heading) }
            nav.providers aria-label="Identity providers" {
                @for (key, name) in PROVIDERS {
                    @if key == provider {
                        a href={ "?provider=" (key) } aria-current="true" { (name) }
                    } @else {
                        a href={ "?provider=" (key) } { (name) }
                    }
                }
            }
            div.guide { (PreEscaped(steps(provider))) }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place, "Setup", Notice::from_query(&query).as_ref(), body),
    ))
}

/// The tenant's policies as they stand; for the operator, a form to
/// change them.
fn policies(visitor: &Visitor, tenant: &Tenant, subs: &[Subaccount]) -> Markup {
    let policy = &tenant.policy;
    let placed = policy
        .group_subaccount_id
        .as_ref()
        .and_then(|id| subs.iter().find(|s| &s.id == id))
        .map_or("the tenant root", |s| s.name.as_str());
    html! {
        section.policies {
            h2 { "Policies" }
            dl #policies {
                dt { "Groups" }
                dd {
                    @match policy.group_creation {
                        GroupCreation::Admin => {
                            "created by an administrator, here or through the admin API; the \
                             identity provider matches them by Group ID (POST /Groups is refused)"
                        }
                        GroupCreation::Scim => {
                            "created by the identity provider too (POST /Groups), placed in "
                            strong { (placed) }
                        }
                    }
                }
                dt { "Leavers" }
                dd {
                    @match (policy.deprovision, policy.deactivated_memberships) {
                        (Deprovision::Delete, _) => {
                            "deleted when the identity provider deprovisions them (active \
                             false or DELETE), with their memberships and sessions"
                        }
                        (Deprovision::Deactivate, memberships) => {
                            "deactivated when the identity provider sets active to false: \
                             they stay, inactive, their sessions end, and their memberships "
                            @if memberships == DeactivatedMemberships::Keep { "are kept" }
                            @else { "are dropped" }
                            " (DELETE still deletes them)"
                        }
                    }
                }
                dt { "userNames" }
                dd {
                    @match policy.user_name_format {
                        UserNameFormat::Email => {
                            "email addresses; a user's email is its userName"
                        }
                        UserNameFormat::Any => {
                            "any text (an employee number, a login name); emails are the \
                             identity provider's"
                        }
                    }
                }
                dt { "userName domains" }
                dd #user-name-domains {
                    @if policy.user_name_domains.is_empty() {
                        "any domain that no other tenant has confirmed"
                    } @else {
                        "only "
                        @for (i, domain) in policy.user_name_domains.iter().enumerate() {
                            @if i > 0 { ", " }
                            strong { (domain) }
                        }
                        ", confirmed by the operator; no other tenant can provision addresses \
                         there"
                    }
                }
            }
            @if visitor.is_operator() { (policy_form(visitor, tenant, subs)) }
        }
    }
}

/// The operator's form to change the tenant's policies.
fn policy_form(visitor: &Visitor, tenant: &Tenant, subs: &[Subaccount]) -> Markup {
    let policy = &tenant.policy;
    html! {
        form method="post" action={ "/admin/t/" (tenant.id) "/policy" } {
            (csrf(visitor))
            (choice("Groups are created by", "group_creation", policy.group_creation.as_str(), [
                (GroupCreation::Admin.as_str(), "an administrator (the guide's rule)"),
                (GroupCreation::Scim.as_str(), "the identity provider too (POST /Groups)"),
            ]))
            label for="group-subaccount" { "Groups it creates go to" }
            (super::subaccounts::select(
                "group-subaccount",
                "group_subaccount",
                subs,
                policy.group_subaccount_id.as_ref(),
                None,
            ))
            (choice(
                "When the identity provider sets active to false",
                "deprovision",
                policy.deprovision.as_str(),
                [
                    (Deprovision::Delete.as_str(), "delete the user (the guide's rule)"),
                    (Deprovision::Deactivate.as_str(), "deactivate the user, keeping it"),
                ],
            ))
            (choice(
                "A deactivated user's groups",
                "deactivated_memberships",
                policy.deactivated_memberships.as_str(),
                [
                    (DeactivatedMemberships::Keep.as_str(), "are kept"),
                    (DeactivatedMemberships::Drop.as_str(), "are dropped"),
                ],
            ))
            (choice("userNames are", "user_name_format", policy.user_name_format.as_str(), [
                (UserNameFormat::Email.as_str(), "email addresses (the guide's rule)"),
                (UserNameFormat::Any.as_str(), "any text, with the identity provider's emails"),
            ]))
            label for="user-name-domains-input" {
                "The tenant's confirmed domains (comma-separated; empty: any)"
            }
            input #user-name-domains-input type="text" name="user_name_domains"
                value=(policy.user_name_domains.join(", ")) placeholder="example.com, example.org";
            button type="submit" { "Save policies" }
        }
    }
}

/// A labelled select of one policy's choices (value, text), `current`
/// selected; its id is `name` with dashes.
fn choice(label: &str, name: &str, current: &str, options: [(&str, &str); 2]) -> Markup {
    let id = name.replace('_', "-");
    html! {
        label for=(id) { (label) }
        select id=(id) name=(name) {
            @for (value, text) in options {
                option value=(value) selected[value == current] { (text) }
            }
        }
    }
}

/// `POST /admin/t/{tenant}/policy` (operator).
pub(crate) async fn set_policy(
    State(state): State<AppState>,
    _: Operator,
    scoped: Scoped,
    Posted { fields }: Posted,
) -> PanelResult {
    let Some(creation) = fields.get("group_creation").and_then(GroupCreation::parse) else {
        return Err(PanelError::Rejected(
            "choose who creates groups: an administrator or the identity provider".into(),
        ));
    };
    let Some(deprovision) = fields.get("deprovision").and_then(Deprovision::parse) else {
        return Err(PanelError::Rejected(
            "choose what active false does: delete the user or deactivate it".into(),
        ));
    };
    let Some(memberships) = fields
        .get("deactivated_memberships")
        .and_then(DeactivatedMemberships::parse)
    else {
        return Err(PanelError::Rejected(
            "choose whether a deactivated user's groups are kept or dropped".into(),
        ));
    };
    let Some(format) = fields
        .get("user_name_format")
        .and_then(UserNameFormat::parse)
    else {
        return Err(PanelError::Rejected(
            "choose what a userName is: an email address or any text".into(),
        ));
    };
    let domains = fields
        .text("user_name_domains")
        .filter(|raw| !raw.trim().eq_ignore_ascii_case("any"))
        .map(|raw| {
            raw.split([',', ' ', '\n'])
                .filter(|d| !d.trim().is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let sub = match fields.text("group_subaccount") {
        Some(raw) => Some(path_id(raw.to_owned())?),
        None => None,
    };
    let change = PolicyChange {
        group_creation: Some(creation),
        group_subaccount_id: Some(sub),
        deprovision: Some(deprovision),
        deactivated_memberships: Some(memberships),
        user_name_format: Some(format),
        user_name_domains: Some(domains),
    };
    state
        .service()
        .set_policy(&scoped.tenant.id, change)
        .await
        .map_err(|e| match PanelError::from(e) {
            PanelError::NotFound => {
                PanelError::Rejected("that subaccount is not one of this tenant's".into())
            }
            other => other,
        })?;
    tracing::info!(tenant = %scoped.tenant.id, "policies changed in the panel");
    Ok(done(
        &format!("/admin/t/{}/setup", scoped.tenant.id),
        "policy-saved",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_its_steps_in_the_guide() {
        for (key, heading) in PROVIDERS {
            let html = steps(key);
            assert!(html.len() > 200, "{heading}: {html}");
        }
        assert!(steps("entra").contains("<table>"), "the mapping table");
        assert!(steps("entra").contains("aadOptscim062020"));
        assert!(!steps("okta").contains("Microsoft Entra ID</h2>"));
    }
}
