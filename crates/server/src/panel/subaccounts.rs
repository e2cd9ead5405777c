//! The Subaccounts screen: the tree; create (under a parent), rename,
//! move. Also the subaccount select of the group forms.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use scimitar_core::ids::SubaccountId;
use scimitar_core::model::Subaccount;

use super::layout::{Notice, csrf, screen};
use super::{PanelError, PanelResult, Posted, Scoped, done, html_page, path_id};
use crate::AppState;
use crate::extract::QueryPairs;

/// The value of the "(tenant root)" option.
const ROOT: &str = "";

/// A select of the tenant's subaccounts, with the tenant root first, then
/// the tree depth-first; each option is the subaccount's name exactly (so
/// automation can choose by name); `except` leaves out a subaccount and
/// everything under it (where a subaccount cannot move).
pub(crate) fn select(
    id: &str,
    name: &str,
    subs: &[Subaccount],
    selected: Option<&SubaccountId>,
    except: Option<&SubaccountId>,
) -> Markup {
    let excluded = except.map(|e| below(subs, e)).unwrap_or_default();
    html! {
        select id=(id) name=(name) {
            option value=(ROOT) selected[selected.is_none()] { "(tenant root)" }
            @for (_, sub) in tree_order(subs) {
                @if !excluded.contains(&sub.id) {
                    option value=(sub.id) selected[selected == Some(&sub.id)] { (sub.name) }
                }
            }
        }
    }
}

/// `root` and every subaccount under it.
fn below(subs: &[Subaccount], root: &SubaccountId) -> Vec<SubaccountId> {
    let mut found = vec![root.clone()];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i].clone();
        found.extend(
            subs.iter()
                .filter(|s| s.parent_id.as_ref() == Some(&parent))
                .map(|s| s.id.clone()),
        );
        i += 1;
    }
    found
}

/// The subaccounts depth-first, each with its depth.
fn tree_order(subs: &[Subaccount]) -> Vec<(usize, &Subaccount)> {
    let mut children: HashMap<Option<&SubaccountId>, Vec<&Subaccount>> = HashMap::new();
    for sub in subs {
        children
            .entry(sub.parent_id.as_ref())
            .or_default()
            .push(sub);
    }
    let mut out = Vec::with_capacity(subs.len());
    let mut stack: Vec<(usize, &Subaccount)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|s| (0, *s)).collect())
        .unwrap_or_default();
    while let Some((depth, sub)) = stack.pop() {
        out.push((depth, sub));
        if let Some(kids) = children.get(&Some(&sub.id)) {
            stack.extend(kids.iter().rev().map(|s| (depth + 1, *s)));
        }
    }
    out
}

/// The subaccount of a form field: blank is the tenant root; anything
/// else must be an id (whether it is the tenant's, the domain decides).
pub(crate) fn chosen(raw: Option<&str>) -> Result<Option<SubaccountId>, PanelError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(raw) => path_id(raw.to_owned())
            .map(Some)
            .map_err(|_| PanelError::Rejected("choose a subaccount from the list".into())),
    }
}

fn path(scoped: &Scoped) -> String {
    format!("/admin/t/{}/subaccounts", scoped.tenant.id)
}

async fn render(
    state: &AppState,
    scoped: &Scoped,
    notice: Option<Notice>,
    status: StatusCode,
) -> PanelResult {
    let subs = state.service().list_subaccounts(&scoped.tenant.id).await?;
    let place = scoped.place("Subaccounts");
    let path = path(scoped);
    let body = html! {
        @if subs.is_empty() {
            p { "No subaccounts yet. Groups can also sit at the tenant root." }
        } @else {
            ul.tree {
                @for (depth, sub) in tree_order(&subs) {
                    li data-depth=(depth) class={ "depth-" (depth.min(8)) } {
                        a href={ (path) "/" (sub.id) } { (sub.name) }
                    }
                }
            }
        }
        h2 { "New subaccount" }
        form method="post" action=(path) {
            (csrf(&scoped.visitor))
            label for="name" { "Name" }
            input #name name="name" required maxlength="256";
            label for="parent" { "Parent subaccount" }
            (select("parent", "parent", &subs, None, None))
            button type="submit" { "Create subaccount" }
        }
    };
    Ok(html_page(
        status,
        screen(&place, "Subaccounts", notice.as_ref(), body),
    ))
}

/// `GET /admin/t/{tenant}/subaccounts`.
pub(crate) async fn page(
    State(state): State<AppState>,
    scoped: Scoped,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    render(&state, &scoped, Notice::from_query(&query), StatusCode::OK).await
}

/// `POST /admin/t/{tenant}/subaccounts`.
pub(crate) async fn create(
    State(state): State<AppState>,
    scoped: Scoped,
    Posted { fields }: Posted,
) -> PanelResult {
    let created = async {
        let parent = chosen(fields.get("parent"))?;
        let name = fields.get("name").unwrap_or_default();
        Ok::<_, PanelError>(
            state
                .service()
                .create_subaccount(&scoped.tenant.id, name, parent.as_ref())
                .await?,
        )
    };
    match created.await {
        Ok(_) => Ok(done(&path(&scoped), "subaccount-created")),
        Err(e) => {
            let notice = e.notice(Some("that parent subaccount does not exist"))?;
            render(&state, &scoped, Some(notice), StatusCode::BAD_REQUEST).await
        }
    }
}

async fn edit_page(
    state: &AppState,
    scoped: &Scoped,
    raw: String,
    notice: Option<Notice>,
    status: StatusCode,
) -> PanelResult {
    let id: SubaccountId = path_id(raw)?;
    let subs = state.service().list_subaccounts(&scoped.tenant.id).await?;
    let sub = subs
        .iter()
        .find(|s| s.id == id)
        .ok_or(PanelError::NotFound)?;
    let place = scoped.place("Subaccounts");
    let path = path(scoped);
    let body = html! {
        form method="post" action={ (path) "/" (sub.id) } {
            (csrf(&scoped.visitor))
            label for="name" { "Name" }
            input #name name="name" required maxlength="256" value=(sub.name);
            label for="parent" { "Parent subaccount" }
            (select("parent", "parent", &subs, sub.parent_id.as_ref(), Some(&sub.id)))
            button type="submit" { "Save" }
            " "
            a href=(path) { "Back to subaccounts" }
        }
    };
    Ok(html_page(
        status,
        screen(&place, &sub.name, notice.as_ref(), body),
    ))
}

/// `GET /admin/t/{tenant}/subaccounts/{sub}`.
pub(crate) async fn edit(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, sub)): Path<(String, String)>,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    edit_page(
        &state,
        &scoped,
        sub,
        Notice::from_query(&query),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/t/{tenant}/subaccounts/{sub}`: rename and move.
pub(crate) async fn save(
    State(state): State<AppState>,
    scoped: Scoped,
    Path((_, sub)): Path<(String, String)>,
    Posted { fields }: Posted,
) -> PanelResult {
    let id: SubaccountId = path_id(sub.clone())?;
    let saved = async {
        let parent = chosen(fields.get("parent"))?;
        let name = fields.get("name").unwrap_or_default();
        Ok::<_, PanelError>(
            state
                .service()
                .change_subaccount(&scoped.tenant.id, &id, Some(name), Some(parent))
                .await?,
        )
    };
    match saved.await {
        Ok(_) => Ok(done(&format!("{}/{id}", path(&scoped)), "subaccount-saved")),
        Err(e) => {
            let notice = e.notice(None)?;
            edit_page(&state, &scoped, sub, Some(notice), StatusCode::BAD_REQUEST).await
        }
    }
}
