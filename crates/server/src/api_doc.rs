//! The OpenAPI 3.1 document of the admin and application APIs, generated
//! from the handlers' `#[utoipa::path]` annotations and the model's
//! schemas, and served at `/admin/v1/openapi.json` so a SaaS generates its
//! client from it. The routers are built from the same annotations
//! (`utoipa_axum`), so a route cannot exist without its description.

// The types below describe the error body, the error answers and the
// path and query parameters for the document; the handlers read
// parameters as SCIM does (names case-insensitive, numbers with their own
// errors) and render errors in error.rs, so none is ever constructed.
// The request and answer bodies are real types, beside their handlers.
#![allow(dead_code, reason = "description types, never constructed")]

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse, ToSchema};

/// The admin and application routes, and `/admin/v1/openapi.json`, which
/// serves their document (without a token: it describes, it holds
/// nothing).
pub fn routes(admin: OpenApiRouter<AppState>, app: OpenApiRouter<AppState>) -> Router<AppState> {
    let (routes, api) = admin.merge(app).split_for_parts();
    let document = Arc::new(api.to_json().unwrap_or_default());
    routes.route(
        "/admin/v1/openapi.json",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                document.to_string(),
            )
        }),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimitar admin and application API",
        description = "The admin API (/admin/v1, behind the admin token): tenants, \
                       subaccounts, groups and API keys; users, the provisioning log and events \
                       to read. The application API (/app/v1, behind the application token): \
                       sessions of provisioned users. Names are camelCase, times RFC 3339; \
                       every error is a SCIM error object."
    ),
    modifiers(&AdminToken),
    security(("adminToken" = [])),
    components(schemas(ScimErrorBody), responses(Refused, NotFound, Conflict))
)]
pub struct AdminApi;

/// The bearer schemes: the admin token, and the application token.
struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["adminToken", "appToken"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// A SCIM error object (RFC 7644 §3.12), the body of every error.
#[derive(ToSchema)]
#[schema(as = ScimError)]
pub struct ScimErrorBody {
    schemas: Vec<String>,
    /// The HTTP status, as a string.
    status: String,
    #[schema(rename = "scimType")]
    scim_type: Option<String>,
    detail: String,
}

/// A refused body or parameter: missing, of the wrong type, or against a
/// rule (`invalidValue`, `invalidFilter`).
#[derive(ToResponse)]
pub struct Refused(ScimErrorBody);

/// No such tenant, or no such group or key of this tenant.
#[derive(ToResponse)]
pub struct NotFound(ScimErrorBody);

/// Taken: a group's externalId in this tenant, or a domain by another
/// tenant.
#[derive(ToResponse)]
pub struct Conflict(ScimErrorBody);

/// A tenant in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    /// The tenant's id.
    tenant: String,
}

/// A tenant's group in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupPath {
    /// The tenant's id.
    tenant: String,
    /// The group's id.
    group: String,
}

/// A tenant's subaccount in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SubaccountPath {
    /// The tenant's id.
    tenant: String,
    /// The subaccount's id.
    subaccount: String,
}

/// A tenant's API key in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    /// The tenant's id.
    tenant: String,
    /// The API key's id.
    key: String,
}

/// The query of the user list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UsersQuery {
    /// A SCIM filter.
    filter: Option<String>,
    /// 1-based.
    start_index: Option<u64>,
    /// The page size.
    count: Option<u64>,
}

/// The query of the provisioning log.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Entries, 100 by default, at most 1000.
    limit: Option<u32>,
}

/// A user in the path (any tenant's).
#[derive(IntoParams)]
pub struct UserPath {
    /// The user's id.
    user: String,
}

/// The query of the cross-tenant collisions.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CollisionsQuery {
    /// Only the users at this domain.
    domain: Option<String>,
    /// Collisions, 100 by default, at most 1000.
    limit: Option<u32>,
}

/// The query of the application's event feed.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// The `next` of the previous answer; from the oldest event kept when
    /// absent. A cursor older than retention kept is 410.
    after: Option<String>,
    /// Events per answer, 100 by default, 1 to 1000.
    limit: Option<u32>,
    /// Only these types, comma-separated (`user.deprovisioned,group.deleted`).
    types: Option<String>,
    /// Only this tenant's events.
    tenant: Option<String>,
    /// With no event yet, wait up to this many seconds (0 to 30) for one;
    /// the answer comes as soon as one commits.
    wait: Option<u32>,
}

/// The query of the events.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only this tenant's.
    tenant: Option<String>,
    /// A sequence number already seen; 0 by default.
    after: Option<i64>,
    /// Events, 100 by default, at most 1000.
    limit: Option<u32>,
}
