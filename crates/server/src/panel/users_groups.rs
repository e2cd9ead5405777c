//! The Groups and Users screens. Groups: a searchable page by name, create
//! in a subaccount with a Group ID, a page per group to rename, move, set
//! or clear its Group ID, and delete after a confirmation. Users: a page
//! by userName, searchable, and a read-only page per user with its groups.
//! Every list is a keyset page: its cost is one page, whatever the
//! tenant's size.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use scimitar_core::ids::{GroupId, SubaccountId, UserId};
use scimitar_core::model::{Group, GroupAdminChange, NewGroup, Subaccount};

use super::layout::{Notice, csrf, param, screen, when, with_query};
use super::subaccounts::{chosen, select};
use super::{PanelError, PanelResult, Posted, Scoped, done, html_page, path_id};
use crate::AppState;
use crate::extract::QueryPairs;

/// Rows on one page of a list.
const PAGE: u32 = 50;

const GROUP_ID_HINT: &str = "The group's Object ID in Entra ID, which Entra matches groups by. \
     Okta, OneLogin and JumpCloud match groups by name instead: leave it empty for them.";

fn groups_path(scoped: &Scoped) -> String {
    format!("/admin/t/{}/groups", scoped.tenant.id)
}

fn names(subs: &[Subaccount]) -> HashMap<&SubaccountId, &str> {
    subs.iter().map(|s| (&s.id, s.name.as_str())).collect()
}

fn subaccount_name<'a>(names: &HashMap<&SubaccountId, &'a str>, group: &Group) -> &'a str {
    group
        .subaccount_id
        .as_ref()
        .and_then(|s| names.get(s).copied())
        .unwrap_or("(tenant root)")
}

/// The link to the page after `after`, keeping the search.
fn next_page(path: &str, after: &[(&str, &str)], search: Option<&str>) -> String {
    let mut params = after.to_vec();
    if let Some(q) = search {
        params.push(("q", q));
    }
    with_query(path, &params)
}

fn search_form(label_hint: &str, search: Option<&str>) -> Markup {
    html! {
        form.search method="get" {
            label for="search" { "Search" }
            input #search type="search" name="q" value=(search.unwrap_or("")) placeholder=(label_hint);
            button type="submit" { "Search" }
        }
    }
}

fn group_fields(subs: &[Subaccount], group: Option<&Group>) -> Markup {
    html! {
        label for="name" { "Name" }
        input #name name="name" required maxlength="256" value=(group.map_or("", |g| g.display_name.as_str()));
        label for="subaccount" { "Subaccount" }
        (select("subaccount", "subaccount", subs, group.and_then(|g| g.subaccount_id.as_ref()), None))
        label for="group-id" { "Group ID" }
        input #group-id name="group_id" maxlength="4096" aria-describedby="group-id-hint"
            value=(group.and_then(|g| g.external_id.as_deref()).unwrap_or(""));
        p #group-id-hint .hint { (GROUP_ID_HINT) }
    }
}

async fn render_groups(
    state: &AppState,
    scoped: &Scoped,
    query: &[(String, String)],
    notice: Option<Notice>,
    status: StatusCode,
) -> PanelResult {
    let tenant = &scoped.tenant.id;
    let search = param(query, "q");
    let after_id: Option<GroupId> =
        param(query, "after_id").and_then(|id| crate::extract::known_id(id.to_owned()));
    let after = match (param(query, "after"), after_id.as_ref()) {
        (Some(name), Some(id)) => Some((name, id)),
        _ => None,
    };
    let slice = state
        .service()
        .group_page(tenant, search, after, PAGE)
        .await?;
    let subs = state.service().list_subaccounts(tenant).await?;
    let names = names(&subs);
    let path = groups_path(scoped);
    let next = slice.items.last().filter(|_| slice.more).map(|last| {
        let after = [
            ("after", last.display_name.as_str()),
            ("after_id", last.id.as_str()),
        ];
        next_page(&path, &after, search)
    });
    let place = scoped.place("Groups");
    let body = html! {
        (search_form("name or Group ID", search))
        @if slice.items.is_empty() {
            p { @if search.is_some() { "No group matches." } @else { "No groups yet." } }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Subaccount" } th { "Group ID" } th.num { "Members" } } }
                tbody {
                    @for g in &slice.items {
                        tr {
                            td { a href={ (path) "/" (g.id) } { (g.display_name) } }
                            td { (subaccount_name(&names, g)) }
                            td { code { (g.external_id.as_deref().unwrap_or("")) } }
                            td.num { (g.member_count) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next {
            p.pager { a href=(next) { "Next page" } }
        }
        h2 { "New group" }
        form method="post" action=(path) {
            (csrf(&scoped.visitor))
            (group_fields(&subs, None))
            button type="submit" { "Create group" }
        }
    };
    Ok(html_page(
        status,
        screen(&place, "Groups", notice.as_ref(), body),
    ))
}

/// `GET /admin/t/{tenant}/groups?q=&after=&after_id=`.
pub(crate) async fn groups(
    State(state): State<AppState>,
    scoped: Scoped,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    let notice = Notice::from_query(&query);
    render_groups(&state, &scoped, &query, notice, StatusCode::OK).await
}

/// The Group ID of a form: blank clears it.
fn group_id(fields: &super::Form) -> Option<String> {
    fields.text("group_id").map(str::to_owned)
}

/// `POST /admin/t/{tenant}/groups`.
pub(crate) async fn create_group(
    State(state): State<AppState>,
    scoped: Scoped,
    Posted { fields }: Posted,
) -> PanelResult {
    let created = async {
        let group = NewGroup {
            display_name: fields.get("name").unwrap_or_default().trim().to_owned(),
            subaccount_id: chosen(fields.get("subaccount"))?,
            external_id: group_id(&fields),
            members: Vec::new(),
        };
        Ok::<_, PanelError>(
            state
                .service()
                .create_group(&scoped.tenant.id, group)
                .await?,
        )
    };
    match created.await {
        Ok(_) => Ok(done(&groups_path(&scoped), "group-created")),
        Err(e) => {
            let notice = e.notice(Some("that subaccount does not exist"))?;
            render_groups(&state, &scoped, &[], Some(notice), StatusCode::BAD_REQUEST).await
        }
    }
}

async fn tenant_group(state: &AppState, scoped: &Scoped, raw: String) -> Result<Group, PanelError> {
    let id: GroupId = path_id(raw)?;
    Ok(state.service().get_group(&scoped.tenant.id, &id).await?)
}

async fn render_group(
    state: &AppState,
    scoped: &Scoped,
    group: &Group,
    notice: Option<Notice>,
    status: StatusCode,
) -> PanelResult {
    let subs = state.service().list_subaccounts(&scoped.tenant.id).await?;
    let names = names(&subs);
    let path = format!("{}/{}", groups_path(scoped), group.id);
    let place = scoped.place("Groups");
    let body = html! {
        dl {
            dt { "Subaccount" } dd { (subaccount_name(&names, group)) }
            dt { "Group ID" } dd { code { (group.external_id.as_deref().unwrap_or("(none)")) } }
            dt { "Members" } dd #member-count { (group.member_count) }
            dt { "Created" } dd { (when(group.stamp.created)) }
            dt { "Last changed" } dd { (when(group.stamp.last_modified)) }
            dt { "Id" } dd { code { (group.id) } }
        }
        h2 { "Change" }
        form method="post" action=(path) {
            (csrf(&scoped.visitor))
            (group_fields(&subs, Some(group)))
            button type="submit" { "Save" }
        }
        p { a.button.danger href={ (path) "/delete" } { "Delete" } }
        p { a href=(groups_path(scoped)) { "Back to groups" } }
    };
    Ok(html_page(
        status,
        screen(&place, &group.display_name, notice.as_ref(), body),
    ))
}

/// `GET /admin/t/{tenant}/groups/{group}`.
pub(crate) async fn group(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, group)): Path<(String, String)>,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    let group = tenant_group(&state, &scoped, group).await?;
    render_group(
        &state,
        &scoped,
        &group,
        Notice::from_query(&query),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/t/{tenant}/groups/{group}`: rename, move, set or clear
/// the Group ID, in one change.
pub(crate) async fn save_group(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, raw)): Path<(String, String)>,
    Posted { fields }: Posted,
) -> PanelResult {
    let group = tenant_group(&state, &scoped, raw).await?;
    let saved = async {
        let change = GroupAdminChange {
            display_name: Some(fields.get("name").unwrap_or_default().trim().to_owned()),
            external_id: Some(group_id(&fields)),
            subaccount_id: Some(chosen(fields.get("subaccount"))?),
        };
        Ok::<_, PanelError>(
            state
                .service()
                .change_group(Some(&scoped.tenant.id), &group.id, change)
                .await?,
        )
    };
    match saved.await {
        Ok(saved) => Ok(done(
            &format!("{}/{}", groups_path(&scoped), saved.id),
            "group-saved",
        )),
        Err(e) => {
            let notice = e.notice(None)?;
            render_group(
                &state,
                &scoped,
                &group,
                Some(notice),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// `GET /admin/t/{tenant}/groups/{group}/delete`: the confirmation, with
/// how many memberships go.
pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, group)): Path<(String, String)>,
) -> PanelResult {
    let group = tenant_group(&state, &scoped, group).await?;
    let path = format!("{}/{}", groups_path(&scoped), group.id);
    let place = scoped.place("Groups");
    let n = group.member_count;
    let body = html! {
        p #delete-summary {
            "Delete the group " strong { (group.display_name) } "? "
            @if n == 0 { "It has no members." }
            @else if n == 1 { "Its 1 membership goes with it; the user stays." }
            @else { "Its " (n) " memberships go with it; the users stay." }
            " An identity provider that still sends this group will be told it does not exist."
        }
        form method="post" action={ (path) "/delete" } {
            (csrf(&scoped.visitor))
            button.danger type="submit" { "Delete" }
            " "
            a href=(path) { "Cancel" }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place, "Delete group", None, body),
    ))
}

/// `POST /admin/t/{tenant}/groups/{group}/delete`.
pub(crate) async fn delete_group(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, group)): Path<(String, String)>,
    _: Posted,
) -> PanelResult {
    let id: GroupId = path_id(group)?;
    state
        .service()
        .delete_group(&scoped.tenant.id, &id, None)
        .await?;
    Ok(done(&groups_path(&scoped), "group-deleted"))
}

fn users_path(scoped: &Scoped) -> String {
    format!("/admin/t/{}/users", scoped.tenant.id)
}

const FROM_THE_PROVIDER: &str = "Users come from your identity provider: change them there, and \
     the next provisioning cycle brings the change here.";

/// `GET /admin/t/{tenant}/users?q=&after=`.
pub(crate) async fn users(
    State(state): State<AppState>,
    scoped: Scoped,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    let search = param(&query, "q");
    let slice = state
        .service()
        .user_page(&scoped.tenant.id, search, param(&query, "after"), PAGE)
        .await?;
    let path = users_path(&scoped);
    let next = slice
        .items
        .last()
        .filter(|_| slice.more)
        .map(|last| next_page(&path, &[("after", last.attrs.user_name.as_str())], search));
    let place = scoped.place("Users");
    let body = html! {
        p.hint { (FROM_THE_PROVIDER) }
        (search_form("beginning of a userName", search))
        @if slice.items.is_empty() {
            p { @if search.is_some() { "No user matches." } @else { "No users yet: they arrive when your identity provider provisions them." } }
        } @else {
            table {
                thead { tr { th { "userName" } th { "Display name" } th { "External id" } th { "Provisioned" } } }
                tbody {
                    @for u in &slice.items {
                        tr {
                            td {
                                a href={ (path) "/" (u.id) } { (u.attrs.user_name) }
                                @if u.attrs.active == Some(false) { " " span.badge { "deactivated" } }
                            }
                            td { (u.attrs.display_name) }
                            td { (u.attrs.external_id.as_deref().unwrap_or("")) }
                            td { (when(u.stamp.created)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next {
            p.pager { a href=(next) { "Next page" } }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place, "Users", None, body),
    ))
}

/// `GET /admin/t/{tenant}/users/{user}`: read only.
pub(crate) async fn user(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, user)): Path<(String, String)>,
) -> PanelResult {
    let id: UserId = path_id(user)?;
    let (user, groups) = state.service().user_detail(&scoped.tenant.id, &id).await?;
    let a = &user.attrs;
    let place = scoped.place("Users");
    let optional = |v: &Option<String>| v.clone().unwrap_or_default();
    let status = match a.active {
        Some(false) => "deactivated: it cannot sign in until the identity provider re-activates it",
        Some(true) => "active",
        None => "not deactivated (active is unassigned)",
    };
    let rows: [(&str, String); 13] = [
        ("userName", a.user_name.clone()),
        (
            "email",
            a.email
                .as_ref()
                .map(|e| e.value.clone())
                .unwrap_or_default(),
        ),
        ("status", status.to_owned()),
        ("displayName", a.display_name.clone()),
        ("name.formatted", optional(&a.name.formatted)),
        ("name.givenName", optional(&a.name.given_name)),
        ("name.familyName", optional(&a.name.family_name)),
        ("title", optional(&a.title)),
        (
            "phone",
            a.phone
                .as_ref()
                .map(|p| p.value.clone())
                .unwrap_or_default(),
        ),
        ("externalId", optional(&a.external_id)),
        ("created", when(user.stamp.created)),
        ("lastModified", when(user.stamp.last_modified)),
        ("id", user.id.to_string()),
    ];
    let groups_path = groups_path(&scoped);
    let body = html! {
        p.hint { (FROM_THE_PROVIDER) }
        dl {
            @for (name, value) in &rows {
                @if !value.is_empty() { dt { (name) } dd { (value) } }
            }
        }
        h2 { "Groups" }
        @if groups.is_empty() {
            p { "Not a member of any group." }
        } @else {
            ul {
                @for g in &groups {
                    li { a href={ (groups_path) "/" (g.group_id) } { (g.display) } }
                }
            }
        }
        p { a href=(users_path(&scoped)) { "Back to users" } }
    };
    Ok(html_page(
        StatusCode::OK,
        screen(&place, &a.user_name, None, body),
    ))
}
