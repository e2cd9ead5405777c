//! Wire messages that are not resources: list responses, list query
//! parameters and the discovery documents.
//!
//! Query parameters are parsed once, here, into [`ListParams`], so every
//! list endpoint applies the same leniency: parameter names in any case,
//! unknown parameters ignored (Entra's base URL carries
//! `?aadOptscim062020`, which arrives on every request), and out-of-range
//! paging values clamped as RFC 7644 §3.4.2.4 asks instead of refused.
//! Values that cannot be numbers, orders that are not orders and sort
//! attributes that do not exist are refused with 400 `invalidValue`, since
//! silently guessing would page through the wrong data.
//!
//! Discovery documents are rendered from [`crate::schema`], the same static
//! definitions the parsers enforce, so what we advertise is what we do.

use serde_json::{Value, json};

use crate::ScimError;
use crate::dialect::quote;
use crate::filter::{self, Filter};
use crate::projection::{self, Projection};
use crate::schema::{self, AttributeType, Origin, ResolvedAttr, ResourceType};

/// The `schemas` URN of a `ListResponse` (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The `schemas` URN of the `/ServiceProviderConfig` document (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// A `ListResponse` (RFC 7644 §3.4.2). `itemsPerPage` is the number of
/// resources on this page.
pub fn list_response(total_results: u64, start_index: u64, resources: Vec<Value>) -> Value {
    let mut page = json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
    });
    // Moved in, not through `json!`, which would copy every resource.
    page["Resources"] = Value::Array(resources);
    page
}

/// The query of a list request (`GET /Users`, `GET /Groups`).
#[derive(Debug, Clone)]
pub struct ListParams {
    /// The `filter` parameter, parsed against the resource type.
    pub filter: Option<Filter>,
    /// 1-based, at least 1.
    pub start_index: u64,
    /// Page size, `0..=max_results`. `0` asks for `totalResults` only.
    pub count: u64,
    /// A non-complex attribute or sub-attribute of the core schema
    /// (`userName`, `name.familyName`, `meta.created`, `emails.value`).
    /// Storage decides how a multi-valued sub-attribute orders.
    pub sort_by: Option<ResolvedAttr>,
    /// `sortOrder=descending`; ascending otherwise (RFC 7644 §3.4.2.3).
    pub descending: bool,
    /// The `attributes` or `excludedAttributes` parameter.
    pub projection: Projection,
}

impl ListParams {
    /// Parses decoded query pairs. Names are matched ignoring case; when a
    /// parameter repeats, the last occurrence wins. `default_count` applies
    /// when `count` is absent; both it and `count` are capped at
    /// `max_results` (advertised as `filter.maxResults`).
    pub fn parse(
        rt: &'static ResourceType,
        query: &[(String, String)],
        default_count: u64,
        max_results: u64,
    ) -> Result<ListParams, ScimError> {
        let param = |name: &str| {
            query
                .iter()
                .rev()
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let filter = match param("filter").map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(filter::parse(rt, f)?),
            None => None,
        };
        let start_index = match param("startIndex") {
            Some(v) => parse_integer("startIndex", v)?.max(1) as u64,
            None => 1,
        };
        let count = match param("count") {
            Some(v) => parse_integer("count", v)?.max(0) as u64,
            None => default_count,
        }
        .min(max_results);
        let descending = match param("sortOrder").map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be \"ascending\" or \"descending\", got {}",
                    quote(o)
                )));
            }
        };
        let sort_by = match param("sortBy").map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => Some(sort_attribute(rt, name)?),
            None => None,
        };
        let projection = projection::parse(rt, param("attributes"), param("excludedAttributes"))?;
        Ok(ListParams {
            filter,
            start_index,
            count,
            sort_by,
            descending,
            projection,
        })
    }
}

fn sort_attribute(rt: &'static ResourceType, name: &str) -> Result<ResolvedAttr, ScimError> {
    let resolved = rt
        .resolve(name)
        .filter(|r| r.origin == Origin::Core)
        .ok_or_else(|| {
            ScimError::invalid_value(format!(
                "sortBy {} is not an attribute of {}",
                quote(name),
                rt.name
            ))
        })?;
    if resolved.target().ty == AttributeType::Complex {
        let example = resolved
            .attr
            .sub_attributes
            .first()
            .map_or("value", |s| s.name);
        return Err(ScimError::invalid_value(format!(
            "sortBy {} is a complex attribute; name one of its sub-attributes, e.g. {}.{}",
            quote(name),
            resolved.attr.name,
            example
        )));
    }
    Ok(resolved)
}

/// An integer query value. Out-of-range magnitudes saturate: they are
/// clamped afterwards anyway, and a client that asks for `count=1e30`-style
/// pages should get the maximum, not an error.
fn parse_integer(name: &str, value: &str) -> Result<i64, ScimError> {
    let v = value.trim();
    let (negative, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScimError::invalid_value(format!(
            "{name} must be an integer, got {}",
            quote(value)
        )));
    }
    let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX);
    Ok(if negative { -magnitude } else { magnitude })
}

fn base_url(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// `/ServiceProviderConfig` (RFC 7643 §5): exactly what the server does.
pub fn service_provider_config(base: &str, max_results: u64) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "An API key issued by the service administrator, sent as \
                            'Authorization: Bearer KEY'.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base_url(base)),
        },
    })
}

/// `/ResourceTypes` as a list response.
pub fn resource_types(base: &str) -> Value {
    let all: Vec<Value> = schema::RESOURCE_TYPES
        .iter()
        .map(|rt| resource_type_json(base, rt))
        .collect();
    list_response(all.len() as u64, 1, all)
}

/// `/ResourceTypes/{id}`, `id` matched ignoring case.
pub fn resource_type_by_id(base: &str, id: &str) -> Option<Value> {
    schema::RESOURCE_TYPES
        .iter()
        .find(|rt| rt.id.eq_ignore_ascii_case(id))
        .map(|rt| resource_type_json(base, rt))
}

fn resource_type_json(base: &str, rt: &ResourceType) -> Value {
    rt.to_json(&format!("{}/ResourceTypes/{}", base_url(base), rt.id))
}

/// The schemas the service supports: the core schema of each resource type.
/// Extensions that are accepted and ignored are deliberately not listed.
/// `users` says which User schema: [`schema::USER`]'s or
/// [`schema::USER_ANY_NAME`]'s (the tenant's `userNameFormat`).
fn supported_schemas(
    users: &'static ResourceType,
) -> impl Iterator<Item = &'static schema::Schema> {
    schema::RESOURCE_TYPES.iter().map(move |rt| {
        if rt.id == users.id {
            users.schema
        } else {
            rt.schema
        }
    })
}

/// `/Schemas` as a list response.
pub fn schemas(base: &str, users: &'static ResourceType) -> Value {
    let all: Vec<Value> = supported_schemas(users)
        .map(|s| s.to_json(&schema_location(base, s.id)))
        .collect();
    list_response(all.len() as u64, 1, all)
}

/// `/Schemas/{id}` (the schema URN), matched ignoring case.
pub fn schema_by_id(base: &str, id: &str, users: &'static ResourceType) -> Option<Value> {
    supported_schemas(users)
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .map(|s| s.to_json(&schema_location(base, s.id)))
}

fn schema_location(base: &str, id: &str) -> String {
    format!("{}/Schemas/{}", base_url(base), id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScimType;
    use crate::schema::{GROUP, USER};

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ListParams, ScimError> {
        ListParams::parse(&USER, &query(pairs), 100, 500)
    }

    fn refused(pairs: &[(&str, &str)], scim_type: ScimType) -> ScimError {
        let err = parse(pairs).expect_err("refused");
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(scim_type), "{err}");
        err
    }

    #[test]
    fn list_response_shape() {
        let page = list_response(7, 3, vec![json!({"id": "a"}), json!({"id": "b"})]);
        assert_eq!(
            page,
            json!({
                "schemas": [LIST_RESPONSE_URN],
                "totalResults": 7,
                "startIndex": 3,
                "itemsPerPage": 2,
                "Resources": [{"id": "a"}, {"id": "b"}],
            })
        );
    }

    #[test]
    fn defaults() {
        let p = parse(&[]).unwrap();
        assert!(p.filter.is_none() && p.sort_by.is_none() && !p.descending);
        assert_eq!((p.start_index, p.count), (1, 100));
        let capped = ListParams::parse(&USER, &[], 1000, 50).unwrap();
        assert_eq!(capped.count, 50, "the default is capped too");
    }

    #[test]
    fn entra_query_with_aad_opt_flag_and_filter() {
        let p = parse(&[
            ("aadOptscim062020", ""),
            ("filter", "userName eq \"ada@example.com\""),
        ])
        .unwrap();
        let filter = p.filter.expect("parsed");
        assert!(filter.matches(&json!({"userName": "ADA@example.com"})));
    }

    #[test]
    fn okta_paging_query() {
        let p = parse(&[
            ("filter", "userName eq \"test.user@okta.local\""),
            ("startIndex", "1"),
            ("count", "100"),
        ])
        .unwrap();
        assert_eq!((p.start_index, p.count), (1, 100));
    }

    #[test]
    fn names_ignore_case_and_the_last_wins() {
        let p = parse(&[("STARTINDEX", "5"), ("Count", "7"), ("count", "9")]).unwrap();
        assert_eq!((p.start_index, p.count), (5, 9));
    }

    #[test]
    fn paging_values_are_clamped() {
        let p = parse(&[("startIndex", "0"), ("count", "-4")]).unwrap();
        assert_eq!((p.start_index, p.count), (1, 0));
        let p = parse(&[
            ("startIndex", "-99999999999999999999999"),
            ("count", "99999999999999999999"),
        ])
        .unwrap();
        assert_eq!((p.start_index, p.count), (1, 500));
        let p = parse(&[("startIndex", " +3 ")]).unwrap();
        assert_eq!(p.start_index, 3);
    }

    #[test]
    fn non_numbers_are_invalid_value() {
        for (name, v) in [
            ("startIndex", "one"),
            ("count", "1.5"),
            ("count", ""),
            ("count", "-"),
        ] {
            let err = refused(&[(name, v)], ScimType::InvalidValue);
            assert!(err.detail.contains(name), "{}", err.detail);
        }
    }

    #[test]
    fn sorting() {
        let p = parse(&[("sortBy", "name.familyName"), ("sortOrder", "DESCENDING")]).unwrap();
        assert_eq!(p.sort_by.unwrap().dotted(), "name.familyName");
        assert!(p.descending);
        let p = parse(&[(
            "sortBy",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        )])
        .unwrap();
        assert_eq!(p.sort_by.unwrap().dotted(), "userName");
        assert!(parse(&[("sortOrder", "Ascending")]).is_ok());
        refused(&[("sortOrder", "up")], ScimType::InvalidValue);
        let err = refused(&[("sortBy", "nickName")], ScimType::InvalidValue);
        assert!(err.detail.contains("nickName"), "{}", err.detail);
        let err = refused(&[("sortBy", "name")], ScimType::InvalidValue);
        assert!(err.detail.contains("name.formatted"), "{}", err.detail);
        refused(
            &[(
                "sortBy",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            )],
            ScimType::InvalidValue,
        );
    }

    #[test]
    fn bad_filters_are_invalid_filter() {
        refused(&[("filter", "userName eq")], ScimType::InvalidFilter);
        refused(&[("filter", "nickName eq \"x\"")], ScimType::InvalidFilter);
        assert!(parse(&[("filter", "  ")]).unwrap().filter.is_none());
    }

    #[test]
    fn projection_parameters_are_passed_on() {
        let p = ListParams::parse(&GROUP, &query(&[("excludedAttributes", "members")]), 10, 10)
            .unwrap();
        assert!(!p.projection.includes("members"));
    }

    #[test]
    fn service_provider_config_tells_the_truth() {
        let c = service_provider_config("https://h/scim/v2/", 200);
        assert_eq!(c["patch"]["supported"], true);
        assert_eq!(c["bulk"]["supported"], false);
        assert_eq!(c["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(c["sort"]["supported"], true);
        assert_eq!(c["etag"]["supported"], true);
        assert_eq!(c["changePassword"]["supported"], false);
        assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert!(
            c["authenticationSchemes"][0]
                .get("documentationUri")
                .is_none()
        );
        assert_eq!(
            c["meta"]["location"],
            "https://h/scim/v2/ServiceProviderConfig"
        );
    }

    #[test]
    fn discovery_lists_and_lookups() {
        let types = resource_types("https://h/scim/v2");
        assert_eq!(types["totalResults"], 2);
        assert_eq!(types["Resources"][0]["endpoint"], "/Users");
        assert_eq!(
            types["Resources"][1]["meta"]["location"],
            "https://h/scim/v2/ResourceTypes/Group"
        );
        assert_eq!(
            resource_type_by_id("https://h", "user").unwrap()["id"],
            "User"
        );
        assert!(resource_type_by_id("https://h", "Device").is_none());

        let all = schemas("https://h/scim/v2", &schema::USER);
        assert_eq!(all["itemsPerPage"], 2);
        let ids: Vec<&str> = all["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![schema::USER_SCHEMA_URN, schema::GROUP_SCHEMA_URN]);
        let user = schema_by_id(
            "https://h",
            "URN:ietf:params:scim:schemas:core:2.0:user",
            &schema::USER,
        )
        .unwrap();
        assert_eq!(
            user["meta"]["location"],
            format!("https://h/Schemas/{}", schema::USER_SCHEMA_URN)
        );
        assert!(schema_by_id("https://h", schema::ENTERPRISE_USER_URN, &schema::USER).is_none());
        // Where userNames may be anything, the User schema says so.
        let free = schema_by_id("https://h", schema::USER_SCHEMA_URN, &schema::USER_ANY_NAME);
        let emails = &free.unwrap()["attributes"][5];
        assert_eq!(emails["name"], "emails");
        assert_eq!(emails["mutability"], "readWrite");
        assert_eq!(user["attributes"][5]["mutability"], "readOnly");
    }
}
