//! Signing in and out, portal links, and the operator's own screens: the
//! tenants.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use scimitar_core::ids::TenantId;
use scimitar_core::model::{PanelUser, Redeemed};
use subtle::ConstantTimeEq;

use super::layout::{Notice, Place, bare, bare_with, param, screen, when, with_query};
use super::{
    Form, Operator, PanelError, PanelResult, Posted, Visitor, cleared_cookie, cookie_secret, done,
    html_page, same_origin, session_cookie,
};
use crate::AppState;
use crate::extract::QueryPairs;

/// Where a visitor starts: the operator at the tenants, a tenant's
/// administrator at their Setup screen.
fn start_of(user: &PanelUser) -> String {
    match user {
        PanelUser::Operator => "/admin/tenants".to_owned(),
        PanelUser::Tenant(t) => format!("/admin/t/{t}/setup"),
    }
}

/// `GET /admin`: the sign-in form, or on to where a signed-in visitor
/// starts.
pub(crate) async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    if let Some(secret) = cookie_secret(&headers)
        && let Some(user) = state.service().panel_session(&secret).await?
    {
        return Ok(Redirect::to(&start_of(&user)).into_response());
    }
    let message = query.iter().find_map(|(k, _)| match k.as_str() {
        "signed-out" => Some("You are signed out."),
        _ => None,
    });
    Ok(sign_in_page(&state, StatusCode::OK, message))
}

fn sign_in_page(state: &AppState, status: StatusCode, message: Option<&str>) -> Response {
    let enabled = state.config().admin_token.is_some();
    html_page(
        status,
        bare_with(
            "Sign in",
            html! {
                @if let Some(message) = message {
                    p.notice role="alert" { (message) }
                }
                @if enabled {
                    form method="post" action="/admin/sign-in" {
                        label for="token" { "Admin token" }
                        input #token type="password" name="token" autocomplete="current-password" required;
                        button type="submit" { "Sign in" }
                    }
                    p.hint {
                        "Customers' administrators do not sign in here: their own application \
                         sends them a link into their account's panel."
                    }
                } @else {
                    p.notice {
                        "Operator sign-in is off: start the server with --admin-token or \
                         --admin-token-file."
                    }
                }
            },
        ),
    )
}

/// `POST /admin/sign-in`: the admin token, compared in constant time;
/// failures count against the client's address like any failed
/// authentication, and are logged.
pub(crate) async fn sign_in(State(state): State<AppState>, req: Request) -> PanelResult {
    if let Some(refused) = crate::auth::too_many_failures(&state, &req) {
        tracing::warn!("panel sign-in refused: too many failed attempts from this address");
        return Ok(refused);
    }
    same_origin(&state, req.headers())?;
    let Some(expected) = state.config().admin_token.clone() else {
        return Ok(sign_in_page(&state, StatusCode::FORBIDDEN, None));
    };
    let (parts, body) = req.into_parts();
    let form = Form::read(body).await?;
    let token = form.get("token").unwrap_or_default().trim();
    if !bool::from(token.as_bytes().ct_eq(expected.expose().as_bytes())) {
        let req = Request::from_parts(parts, axum::body::Body::empty());
        crate::auth::failed(&state, &req);
        tracing::warn!(peer = ?crate::auth::peer(&req), "panel sign-in with a wrong admin token");
        return Ok(sign_in_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("That admin token is wrong."),
        ));
    }
    let secret = state.service().start_operator_session().await?;
    tracing::info!("operator signed in to the panel");
    let mut response = Redirect::to("/admin/tenants").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, &secret));
    Ok(response)
}

/// `POST /admin/sign-out`.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    _: Posted,
) -> PanelResult {
    state.service().end_panel_session(&visitor.secret).await?;
    let mut response = Redirect::to("/admin?signed-out").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie(&state));
    Ok(response)
}

/// `GET /admin/portal/{token}`: a portal link. A good one starts a session
/// of its tenant and goes on to the Setup screen; one used before, too
/// old or unknown says so, and offers nothing else.
///
/// The way on is a page of ours rather than a redirect: the session
/// cookie is `SameSite=Strict`, and a browser does not send such a cookie
/// on a redirect that a link on another site (the host application)
/// began.
pub(crate) async fn portal(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> PanelResult {
    let well_formed = token.len() == 68
        && token.starts_with("plk_")
        && token[4..].bytes().all(|b| b.is_ascii_hexdigit());
    let (redeemed, secret) = if well_formed {
        state.service().open_portal_link(&token).await?
    } else {
        (Redeemed::Unknown, None)
    };
    let (status, title, message) = match (redeemed, secret) {
        (Redeemed::Session(tenant), Some(secret)) => {
            let to = format!("/admin/t/{tenant}/setup");
            let body = bare_with(
                "Signed in",
                html! {
                    meta http-equiv="refresh" content={ "0;url=" (to) };
                    p { a href=(to) { "Continue to Setup" } }
                },
            );
            let mut response = (StatusCode::OK, body).into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&state, &secret));
            return Ok(response);
        }
        (Redeemed::Used, _) => (
            StatusCode::GONE,
            "Link already used",
            "This link has already been used. Each link opens the panel once: ask your \
             application for a new one.",
        ),
        (Redeemed::Expired, _) => (
            StatusCode::GONE,
            "Link expired",
            "This link has expired. Links work for a few minutes only: ask your application for \
             a new one.",
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This link is not valid. Ask your application for a new one.",
        ),
    };
    Ok(html_page(status, bare(title, message)))
}

/// `GET /admin/tenants` (operator): every tenant, and a form for one more.
pub(crate) async fn tenants(
    State(state): State<AppState>,
    Operator(visitor): Operator,
    QueryPairs(query): QueryPairs,
) -> PanelResult {
    tenants_page(
        &state,
        &visitor,
        &query,
        Notice::from_query(&query),
        StatusCode::OK,
    )
    .await
}

/// Tenants on one page.
const PAGE: u32 = 50;

async fn tenants_page(
    state: &AppState,
    visitor: &Visitor,
    query: &[(String, String)],
    notice: Option<Notice>,
    status: StatusCode,
) -> PanelResult {
    // `after` is a position from our own "Next page" link: its tenant's
    // creation time and id.
    let after_id: Option<TenantId> =
        param(query, "after_id").and_then(|id| crate::extract::known_id(id.to_owned()));
    let after_created = param(query, "after").and_then(|c| c.parse::<i64>().ok());
    let after = after_created.zip(after_id.as_ref());
    let slice = state.service().tenant_page(after, PAGE).await?;
    let tenants = &slice.items;
    let next = tenants.last().filter(|_| slice.more).map(|last| {
        let created = last.created.to_string();
        with_query(
            "/admin/tenants",
            &[("after", created.as_str()), ("after_id", last.id.as_str())],
        )
    });
    let place = Place {
        visitor,
        tenant: None,
        current: "Tenants",
    };
    let body = html! {
        @if tenants.is_empty() {
            p { "No tenants yet." }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Region" } th { "Created" } th { "Id" } } }
                tbody {
                    @for t in tenants {
                        tr {
                            td { a href={ "/admin/t/" (t.id) "/setup" } { (t.name) } }
                            td { (t.region.as_deref().unwrap_or("")) }
                            td { (when(t.created)) }
                            td { code { (t.id) } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next {
            p.pager { a href=(next) { "Next page" } }
        }
        h2 { "New tenant" }
        form method="post" action="/admin/tenants" {
            (super::layout::csrf(visitor))
            label for="name" { "Name" }
            input #name name="name" required maxlength="256";
            label for="region" { "Region" }
            input #region name="region" maxlength="256" placeholder="eu";
            button type="submit" { "Create tenant" }
        }
    };
    Ok(html_page(
        status,
        screen(&place, "Tenants", notice.as_ref(), body),
    ))
}

/// `POST /admin/tenants` (operator).
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    Operator(visitor): Operator,
    Posted { fields }: Posted,
) -> PanelResult {
    let name = fields.get("name").unwrap_or_default();
    match state
        .service()
        .create_tenant(name, fields.text("region"))
        .await
    {
        Ok(_) => Ok(done("/admin/tenants", "tenant-created")),
        Err(e) => {
            let notice = PanelError::from(e).notice(None)?;
            tenants_page(&state, &visitor, &[], Some(notice), StatusCode::BAD_REQUEST).await
        }
    }
}
