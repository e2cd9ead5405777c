//! Request extractors whose every rejection is a SCIM error.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use scimitar_core::domain::Precondition;
use scimitar_proto::ScimError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// Bodies up to this size are parsed where they are received; larger ones
/// on the blocking pool.
const PARSE_INLINE_BYTES: usize = 64 * 1024;

/// A JSON request body. Accepts `application/scim+json` and
/// `application/json` (or no content type at all, as some clients send);
/// malformed JSON is `400 invalidSyntax`, an oversized body `413`.
pub struct ScimJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if !matches!(essence, "application/scim+json" | "application/json") {
                return Err(ApiError::new(
                    415,
                    None,
                    format!(
                        "unsupported Content-Type '{essence}': send application/scim+json or \
                         application/json"
                    ),
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(413, None, "the request body is too large")
            } else {
                ApiError::from(ScimError::invalid_syntax(
                    "the request body could not be read",
                ))
            }
        })?;
        let parsed = if bytes.len() <= PARSE_INLINE_BYTES {
            serde_json::from_slice(&bytes)
        } else {
            // A large body takes milliseconds of CPU to parse: not on an
            // async worker, where it would stall every other request
            // (`/healthz` included) sharing that worker.
            tokio::task::spawn_blocking(move || serde_json::from_slice(&bytes))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "JSON parsing task failed");
                    ApiError::new(500, None, "internal error; it has been logged")
                })?
        };
        let value: Value = parsed.map_err(|e| {
            ApiError::from(ScimError::invalid_syntax(format!(
                "the request body is not valid JSON: {e}"
            )))
        })?;
        Ok(ScimJson(value))
    }
}

/// A JSON object body read into `T` (one of the admin or application
/// API's request types). A body that is not an object, or a field of the
/// wrong type, is `400 invalidValue` naming the field.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ScimJson(value) = ScimJson::from_request(req, state).await?;
        if !value.is_object() {
            return Err(ScimError::invalid_value("the request body must be a JSON object").into());
        }
        serde_path_to_error::deserialize(value)
            .map(Body)
            .map_err(|e| {
                let field = e.path().to_string();
                let detail = e.into_inner().to_string();
                // The field readers' errors complete "'field' …"; serde's
                // own (a missing or an unknown field) are whole.
                ScimError::invalid_value(if field == "." || detail.starts_with("unknown field") {
                    detail
                } else {
                    format!("'{field}' {detail}")
                })
                .into()
            })
    }
}

/// `deserialize_with` readers for the fields of request bodies, whose
/// errors complete "'field' …".
pub mod field {
    use serde::de::{Deserialize, Deserializer, Error};
    use serde_json::Value;

    /// A string; `null` (or, with `#[serde(default)]`, absence) is `None`.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            _ => Err(D::Error::custom("must be a string")),
        }
    }

    /// A change (with `#[serde(default)]`): absent is `None` (unchanged),
    /// `null` is `Some(None)` (cleared), a string `Some(Some(_))` (set).
    pub fn change<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(Some(None)),
            Value::String(s) => Ok(Some(Some(s))),
            _ => Err(D::Error::custom("must be a string or null")),
        }
    }

    /// A string that must be there (serde refuses it missing).
    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(s),
            _ => Err(D::Error::custom("is required and must be a string")),
        }
    }

    /// A list of domains, or `"any"` (an empty list): with
    /// `#[serde(default)]`, absent is `None` (unchanged).
    pub fn domains<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let refused = || D::Error::custom("must be \"any\" or a list of domain names");
        match Value::deserialize(d)? {
            Value::String(s) if s == "any" => Ok(Some(Vec::new())),
            Value::Array(all) => all
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(refused()),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            _ => Err(refused()),
        }
    }

    /// With `#[serde(default)]`: absent is `None` (unchanged); where
    /// present, a string (`null` is refused: a name cannot be cleared).
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Some(s)),
            _ => Err(D::Error::custom("must be a string")),
        }
    }
}

/// The raw query string as name/value pairs, percent-decoded. Unknown
/// parameters (such as Entra's `aadOptscim062020`) are simply carried along
/// and ignored by whoever reads them.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs = form_urlencoded_pairs(query);
        Ok(QueryPairs(pairs))
    }
}

/// A query parameter's value, its name in any letter case.
pub fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A number parameter from 0 to `max` (larger ones would overflow the
/// database's integers).
pub fn query_number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    query: &[(String, String)],
    name: &str,
    default: T,
    max: T,
) -> Result<T, scimitar_proto::ScimError> {
    let Some(v) = query_value(query, name) else {
        return Ok(default);
    };
    match v.trim().parse::<T>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(scimitar_proto::ScimError::invalid_value(format!(
            "'{name}' must be a whole number from 0 to {max}"
        ))),
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; invalid escapes stay as they are; invalid UTF-8 is replaced.
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// An id sent by a client, if it can be one of ours. Ids are UUIDs the
/// server assigned, so anything else names nothing: the caller answers 404
/// without asking the database (which may not even accept it: PostgreSQL
/// refuses a NUL).
pub fn known_id<T: From<String>>(raw: String) -> Option<T> {
    scimitar_core::ids::is_well_formed(&raw).then(|| T::from(raw))
}

/// Parses an `If-Match`-style header: `*` or a list of (weak or strong)
/// ETags of the form `W/"3"`. An ETag that is not one of ours matches no
/// version.
pub fn precondition(headers: &HeaderMap, name: header::HeaderName) -> Option<Precondition> {
    let raw = headers.get(name)?.to_str().ok()?.trim().to_owned();
    if raw == "*" {
        return Some(Precondition::Any);
    }
    let versions = raw
        .split(',')
        .filter_map(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag.trim_matches('"').parse::<i64>().ok()
        })
        .collect();
    Some(Precondition::Versions(versions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_entra_filter() {
        let pairs =
            form_urlencoded_pairs("aadOptscim062020&filter=userName+eq+%22a%40b.com%22&count=%zz");
        assert_eq!(pairs[0], ("aadOptscim062020".into(), "".into()));
        assert_eq!(
            pairs[1],
            ("filter".into(), "userName eq \"a@b.com\"".into())
        );
        assert_eq!(pairs[2], ("count".into(), "%zz".into()));
    }

    #[test]
    fn etags_parse_weak_strong_and_star() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, "W/\"3\", \"4\"".parse().unwrap());
        assert_eq!(
            precondition(&h, header::IF_MATCH),
            Some(Precondition::Versions(vec![3, 4]))
        );
        h.insert(header::IF_MATCH, "*".parse().unwrap());
        assert_eq!(precondition(&h, header::IF_MATCH), Some(Precondition::Any));
        h.insert(header::IF_MATCH, "W/\"garbage\"".parse().unwrap());
        assert!(!precondition(&h, header::IF_MATCH).unwrap().matches(1));
    }
}
