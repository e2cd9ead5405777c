//! # The admin panel
//!
//! The integration guide's Step 2 in a browser, served by the same binary:
//! the operator signs in with the admin token; a customer's administrator
//! comes in through a single-use portal link and sees that one tenant.
//! Pages are rendered on the server (maud: every value is escaped unless a
//! template says otherwise, and none of ours says so for anything a client
//! or an identity provider sent); forms are plain HTML forms that work
//! without JavaScript; the stylesheet and the one script (copy buttons)
//! are compiled into the binary.
//!
//! Each handler reads the same way: who is asking ([`Visitor`]) and for
//! which tenant ([`Scoped`]), the form ([`Posted`], CSRF-checked), one call
//! of the domain's [`Service`](scimitar_core::domain::Service), a page.
//! No handler holds a product rule: tenancy is checked by the extractors
//! and the domain, validation by the domain.
//!
//! Security, in one place each: [`Visitor`] (the session cookie, stored
//! hashed), [`Posted`] (the CSRF token and `Origin`), [`headers`] (CSP,
//! framing, referrer, caching).

mod guide;
mod keys;
mod layout;
mod log;
mod operator;
mod setup;
mod subaccounts;
mod users_groups;
mod webhooks;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::Markup;

use self::layout::Notice;
use scimitar_core::CoreError;
use scimitar_core::ids::TenantId;
use scimitar_core::model::{PanelUser, Tenant};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::known_id;

/// The session cookie. Its value is the session's secret; the database
/// holds only its hash.
const COOKIE: &str = "scimitar_panel";

/// Largest form body read, in bytes (the longest field is 4,096).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The panel's routes, under `/admin` beside the admin API.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin", get(operator::home))
        .route("/admin/sign-in", axum::routing::post(operator::sign_in))
        .route("/admin/sign-out", axum::routing::post(operator::sign_out))
        .route("/admin/assets/panel.css", get(layout::stylesheet))
        .route("/admin/assets/panel.js", get(layout::script))
        .route("/admin/portal/{token}", get(operator::portal))
        .route(
            "/admin/tenants",
            get(operator::tenants).post(operator::create_tenant),
        )
        .route("/admin/t/{tenant}/setup", get(setup::page))
        .route(
            "/admin/t/{tenant}/policy",
            axum::routing::post(setup::set_policy),
        )
        .route("/admin/t/{tenant}/keys", get(keys::page).post(keys::issue))
        .route(
            "/admin/t/{tenant}/keys/{key}/revoke",
            get(keys::confirm_revoke).post(keys::revoke),
        )
        .route(
            "/admin/t/{tenant}/subaccounts",
            get(subaccounts::page).post(subaccounts::create),
        )
        .route(
            "/admin/t/{tenant}/subaccounts/{sub}",
            get(subaccounts::edit).post(subaccounts::save),
        )
        .route(
            "/admin/t/{tenant}/groups",
            get(users_groups::groups).post(users_groups::create_group),
        )
        .route(
            "/admin/t/{tenant}/groups/{group}",
            get(users_groups::group).post(users_groups::save_group),
        )
        .route(
            "/admin/t/{tenant}/groups/{group}/delete",
            get(users_groups::confirm_delete).post(users_groups::delete_group),
        )
        .route("/admin/t/{tenant}/users", get(users_groups::users))
        .route("/admin/t/{tenant}/users/{user}", get(users_groups::user))
        .route("/admin/t/{tenant}/log", get(log::page))
        .route("/admin/t/{tenant}/health", get(log::health))
        .route("/admin/events", get(log::events))
        .route(
            "/admin/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/admin/webhooks/{endpoint}",
            get(webhooks::page).post(webhooks::save),
        )
        .route(
            "/admin/webhooks/{endpoint}/enabled",
            axum::routing::post(webhooks::enable),
        )
        .route(
            "/admin/webhooks/{endpoint}/replay",
            axum::routing::post(webhooks::replay),
        )
        .route(
            "/admin/webhooks/{endpoint}/rotate-secret",
            axum::routing::post(webhooks::rotate),
        )
        .route(
            "/admin/webhooks/{endpoint}/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
        .layer(middleware::from_fn_with_state(state, headers))
}

/// Headers of every panel answer: nothing but our own scripts, styles and
/// images run; no page is framed (clickjacking); no URL leaks by Referer
/// (a portal link's token is in one); nothing is cached (a new API key's
/// secret is on a page once).
async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
             form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if secure(&state) {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// Whether the panel is served over HTTPS (so its cookie is `Secure`).
fn secure(state: &AppState) -> bool {
    state
        .config()
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
}

/// The `Set-Cookie` that starts a session.
fn session_cookie(state: &AppState, secret: &str) -> HeaderValue {
    cookie(
        state,
        secret,
        scimitar_core::domain::PANEL_LIFETIME.as_secs(),
    )
}

/// The `Set-Cookie` that ends one.
fn cleared_cookie(state: &AppState) -> HeaderValue {
    cookie(state, "", 0)
}

fn cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session secret the browser sent, if any.
fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| v.starts_with("pnl_") && v.len() <= 128)
}

/// Someone with a live panel session.
#[derive(Clone)]
pub(crate) struct Visitor {
    pub user: PanelUser,
    secret: String,
}

impl Visitor {
    /// The session's CSRF token: derived from the session's secret, so it
    /// needs no storage, and no one without the cookie can compute it.
    pub fn csrf(&self) -> String {
        scimitar_core::rules::hash_secret(&format!("panel csrf\0{}", self.secret))
    }

    pub fn is_operator(&self) -> bool {
        self.user == PanelUser::Operator
    }

    /// Whether this visitor may see `tenant`.
    fn may_see(&self, tenant: &TenantId) -> bool {
        match &self.user {
            PanelUser::Operator => true,
            PanelUser::Tenant(own) => own == tenant,
        }
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    /// Without a live session: a page is redirected to sign-in, anything
    /// else is refused.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(visitor) = parts.extensions.get::<Visitor>() {
            return Ok(visitor.clone());
        }
        let found = match cookie_secret(&parts.headers) {
            Some(secret) => match state.service().panel_session(&secret).await {
                Ok(Some(user)) => Some(Visitor { user, secret }),
                Ok(None) => None,
                Err(e) => return Err(PanelError::from(e).into_response()),
            },
            None => None,
        };
        let Some(visitor) = found else {
            return Err(if parts.method == Method::GET {
                Redirect::to("/admin?signed-out").into_response()
            } else {
                PanelError::Forbidden("your session has ended: sign in again").into_response()
            });
        };
        parts.extensions.insert(visitor.clone());
        Ok(visitor)
    }
}

/// The operator: the operator's own screens are "not found" to anyone
/// else, as an unknown page.
pub(crate) struct Operator(pub Visitor);

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        if !visitor.is_operator() {
            return Err(PanelError::NotFound.into_response());
        }
        Ok(Operator(visitor))
    }
}

/// A visitor on one tenant's pages: the tenant of the URL, which the
/// visitor may see. Another tenant's URL is "not found", as an unknown one.
pub(crate) struct Scoped {
    pub visitor: Visitor,
    pub tenant: Tenant,
}

impl Scoped {
    /// Where a screen of this tenant sits: `current` is its heading in the
    /// navigation.
    pub fn place<'a>(&'a self, current: &'a str) -> layout::Place<'a> {
        layout::Place {
            visitor: &self.visitor,
            tenant: Some(&self.tenant),
            current,
        }
    }
}

impl FromRequestParts<AppState> for Scoped {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| PanelError::NotFound.into_response())?;
        let tenant: TenantId = params
            .get("tenant")
            .and_then(|t| known_id(t.clone()))
            .ok_or_else(|| PanelError::NotFound.into_response())?;
        if !visitor.may_see(&tenant) {
            return Err(PanelError::NotFound.into_response());
        }
        let tenant = state
            .service()
            .get_tenant(&tenant)
            .await
            .map_err(|e| PanelError::from(e).into_response())?;
        Ok(Scoped { visitor, tenant })
    }
}

/// A form posted by a signed-in visitor, checked against cross-site
/// forgery: its `csrf` field must be the session's token, and a browser's
/// `Origin` (or `Sec-Fetch-Site`) must say the page was ours.
pub(crate) struct Posted {
    pub fields: Form,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, state).await?;
        same_origin(state, &parts.headers).map_err(IntoResponse::into_response)?;
        let fields = Form::read(body)
            .await
            .map_err(IntoResponse::into_response)?;
        let sent = fields.get("csrf").unwrap_or_default();
        if !bool::from(sent.as_bytes().ct_eq(visitor.csrf().as_bytes())) {
            tracing::warn!("panel form refused: CSRF token missing or wrong");
            return Err(PanelError::Forbidden(
                "this form is out of date or did not come from this panel: reload the page and \
                 try again",
            )
            .into_response());
        }
        Ok(Posted { fields })
    }
}

/// Refuses a request a browser says came from another site: by its
/// `Origin`, or where that is `null` (as browsers send it from a page with
/// `Referrer-Policy: no-referrer`, which ours are) by `Sec-Fetch-Site`. A
/// client that sends neither is no browser, and so no victim of forgery;
/// the CSRF token still applies.
fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), PanelError> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let foreign = || {
        tracing::warn!(
            origin = header(header::ORIGIN),
            "panel form refused: sent from another site"
        );
        PanelError::Forbidden("this form was sent from another site")
    };
    if let Some(origin) = header(header::ORIGIN).filter(|o| *o != "null") {
        let ours = crate::scim::public_origin(state, headers);
        // Only scheme, host and port: a public URL may have a path.
        let ours = match ours.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or("")),
            None => ours,
        };
        if !origin.eq_ignore_ascii_case(&ours) {
            return Err(foreign());
        }
    }
    match header(HeaderName::from_static("sec-fetch-site")) {
        Some("same-origin") | None => Ok(()),
        Some(_) => Err(foreign()),
    }
}

/// The fields of a posted form (`application/x-www-form-urlencoded`).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    async fn read(body: axum::body::Body) -> Result<Form, PanelError> {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| PanelError::Rejected("the form is too large".into()))?;
        Ok(Form(form_urlencoded::parse(&bytes).into_owned().collect()))
    }

    /// A field's value, if the form has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a field that may repeat (checkboxes).
    pub fn all<'f>(&'f self, name: &'f str) -> impl Iterator<Item = &'f str> + 'f {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A text field, trimmed; `None` when blank or absent.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// What goes wrong in the panel, as a page a person reads.
pub(crate) enum PanelError {
    /// No such page, or not one this visitor may see.
    NotFound,
    /// Refused (a forged or stale form).
    Forbidden(&'static str),
    /// Input the domain refused, in its words.
    Rejected(String),
    /// Anything else, already logged.
    Failed(u16, String),
}

impl From<CoreError> for PanelError {
    fn from(err: CoreError) -> Self {
        match err {
            CoreError::NotFound(_) => PanelError::NotFound,
            CoreError::Rejected(e) => PanelError::Rejected(e.detail),
            other => {
                let ApiError(e) = ApiError::from(other);
                PanelError::Failed(e.status, e.detail)
            }
        }
    }
}

impl PanelError {
    /// A refusal that the form's own page shows above the form (400),
    /// rather than a page of its own; `missing` words a "not found" of
    /// something the form chose (a subaccount), a refusal too.
    fn notice(self, missing: Option<&str>) -> Result<Notice, PanelError> {
        match (self, missing) {
            (PanelError::Rejected(why), _) => Ok(Notice::Error(why)),
            (PanelError::NotFound, Some(what)) => Ok(Notice::Error(what.to_owned())),
            (other, _) => Err(other),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            PanelError::NotFound => StatusCode::NOT_FOUND,
            PanelError::Forbidden(_) => StatusCode::FORBIDDEN,
            PanelError::Rejected(_) => StatusCode::BAD_REQUEST,
            PanelError::Failed(status, _) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn message(&self) -> &str {
        match self {
            PanelError::NotFound => "There is no such page, or it is not yours to see.",
            PanelError::Forbidden(why) => why,
            PanelError::Rejected(why) | PanelError::Failed(_, why) => why,
        }
    }
}

impl IntoResponse for PanelError {
    fn into_response(self) -> Response {
        let title = match self {
            PanelError::NotFound => "Not found",
            PanelError::Forbidden(_) => "Refused",
            PanelError::Rejected(_) => "Not saved",
            PanelError::Failed(..) => "Something went wrong",
        };
        (self.status(), layout::bare(title, self.message())).into_response()
    }
}

/// A handler's answer: a page, or a page saying what went wrong.
pub(crate) type PanelResult = Result<Response, PanelError>;

/// A page with a status.
fn html_page(status: StatusCode, markup: Markup) -> Response {
    (status, markup).into_response()
}

/// After a change: back to a page (Post/Redirect/Get), with a notice from
/// a fixed list (never text from the form).
fn done(to: &str, notice: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}ok={notice}")).into_response()
}

/// An id from a URL: 404 unless it can be one of ours.
fn path_id<T: From<String>>(raw: String) -> Result<T, PanelError> {
    known_id(raw).ok_or(PanelError::NotFound)
}
