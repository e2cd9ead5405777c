//! The OpenAPI 3.1 document of the admin API, generated from the handlers'
//! `#[utoipa::path]` annotations and the model's schemas, and served at
//! `/admin/v1/openapi.json` so a SaaS generates its client from it. The
//! router is built from the same annotations (`utoipa_axum`), so a route
//! cannot exist without its description.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimitar admin API",
        description = "Tenants, subaccounts, groups and API keys; users, the provisioning log \
                       and events to read. Behind the admin token (`Authorization: Bearer`). \
                       Names are camelCase, times RFC 3339; every error is a SCIM error object."
    ),
    modifiers(&AdminToken),
    security(("adminToken" = [])),
    components(schemas(ScimErrorBody))
)]
pub struct AdminApi;

/// The bearer scheme every operation needs.
struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "adminToken",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// A SCIM error object (RFC 7644 §3.12), the body of every error.
#[derive(ToSchema)]
#[schema(as = ScimError)]
#[expect(
    dead_code,
    reason = "describes the error body; errors are rendered by error.rs"
)]
pub struct ScimErrorBody {
    schemas: Vec<String>,
    /// The HTTP status, as a string.
    status: String,
    #[schema(rename = "scimType")]
    scim_type: Option<String>,
    detail: String,
}

/// Body of `POST /admin/v1/tenants`.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes the body; it is read field by field for precise errors"
)]
pub struct NewTenant {
    /// Required; at most 256 characters, no control characters.
    name: String,
    region: Option<String>,
}

/// Body of `POST /admin/v1/tenants/{tenant}/subaccounts`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(
    dead_code,
    reason = "describes the body; it is read field by field for precise errors"
)]
pub struct NewSubaccount {
    name: String,
    /// A subaccount of the same tenant; absent for the tenant root.
    parent_id: Option<String>,
}

/// Body of `POST /admin/v1/tenants/{tenant}/groups`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(
    dead_code,
    reason = "describes the body; it is read field by field for precise errors"
)]
pub struct NewGroupBody {
    display_name: String,
    subaccount_id: Option<String>,
    /// The identity provider's group id (Entra's objectId).
    external_id: Option<String>,
}

/// Body of `PATCH /admin/v1/tenants/{tenant}/groups/{group}`: an absent
/// field is unchanged, `null` clears it (`subaccountId: null` moves the
/// group to the tenant root).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(
    dead_code,
    reason = "describes the body; it is read field by field for precise errors"
)]
pub struct GroupChangeBody {
    display_name: Option<String>,
    subaccount_id: Option<String>,
    external_id: Option<String>,
}

/// Body of `POST /admin/v1/tenants/{tenant}/apikeys`.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "describes the body; it is read field by field for precise errors"
)]
pub struct NewApiKey {
    label: Option<String>,
}
