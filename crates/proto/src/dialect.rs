//! What identity providers actually send, normalised to what RFC 7643/7644
//! mean.
//!
//! Every provider speaks its own dialect of SCIM. The differences are small
//! but each one, handled wrongly, either fails a provisioning run or, worse,
//! silently changes data (the classic: reading Entra's legacy
//! `remove members [{value}]` as "remove all members"). Keeping every
//! tolerance in this one module, each documented with the client that needs
//! it, keeps the parsers in [`crate::resource`] and [`crate::patch`] honest:
//! they ask these helpers and otherwise follow the RFC.
//!
//! Rules, and who needs them:
//! - Attribute and message keys are compared ignoring ASCII case (RFC 7643
//!   §2.1). Okta and Entra send canonical names; hand-written and smaller
//!   clients send `"operations"` or `"Op"`.
//! - Booleans may arrive as strings `"True"`/`"False"` in any case: Entra's
//!   default `active` mapping (`Switch([IsSoftDeleted], , "False", "True",
//!   "True", "False")`) produces strings, and Entra jobs created without
//!   `?aadOptscim062020` send them as-is in PATCH.
//! - PATCH `op` names come in any case: Entra sends `"Replace"`, `"Add"`,
//!   `"Remove"`; Okta and OneLogin send lower case.
//! - `null` means absent (RFC 7643 §2.5): Entra sends `"$ref": null` in
//!   member values (Microsoft's own examples do), and clients send `null`
//!   for attributes they hold no value for.
//! - Member objects: `display` is the RFC name of a member's label; some
//!   clients send `displayName` as on the Group itself. Both are accepted
//!   and neither is trusted: only `value` is read, the server renders the
//!   real label.
//! - Member values may be given as a list of `{value}` objects or as one
//!   such object: Entra's legacy `remove members` (without
//!   `aadOptscim062020`) and JumpCloud send lists, some clients send a bare
//!   object.

use serde_json::{Map, Value};

use crate::patch::{MAX_MEMBERS_PER_REQUEST, PatchOpKind};

/// Looks `key` up in a JSON object ignoring ASCII case; an exact match wins
/// over a case-insensitive one.
pub fn get_ci<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// `None` and JSON `null` are the same thing: absent.
pub fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// A SCIM boolean: JSON `true`/`false`, or Entra's strings `"True"`/`"False"`
/// in any case (surrounding whitespace tolerated). Anything else is `None`.
pub fn coerce_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A PATCH `op` in any letter case (`add`, `Add`, `ADD`).
pub fn patch_op(name: &str) -> Option<PatchOpKind> {
    let name = name.trim();
    [
        ("add", PatchOpKind::Add),
        ("replace", PatchOpKind::Replace),
        ("remove", PatchOpKind::Remove),
    ]
    .into_iter()
    .find(|(n, _)| name.eq_ignore_ascii_case(n))
    .map(|(_, kind)| kind)
}

/// Removes `null` members of objects and `null` elements of arrays, at every
/// depth, so that "absent" has a single representation.
pub fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => {
            items.retain(|v| !v.is_null());
            items.iter_mut().for_each(strip_nulls);
        }
        _ => {}
    }
}

/// Why a member list was refused; the caller names the attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberListError {
    /// An element was not an object with a non-empty string `value`.
    NoValue {
        /// Position of the element in the list.
        index: usize,
    },
    /// The list was neither an array nor an object.
    NotAList,
    /// More than [`MAX_MEMBERS_PER_REQUEST`] elements.
    TooMany {
        /// Number of elements sent.
        count: usize,
    },
}

/// Reads the user ids of a member list: an array of `{"value": ID, ...}`
/// objects or a single such object. `null` elements are skipped,
/// duplicates collapse (first occurrence kept), ids are trimmed. At most
/// [`MAX_MEMBERS_PER_REQUEST`] elements.
pub fn member_ids(value: &Value) -> Result<Vec<String>, MemberListError> {
    let items: &[Value] = match value {
        Value::Array(items) => items,
        Value::Object(_) => std::slice::from_ref(value),
        Value::Null => &[],
        _ => return Err(MemberListError::NotAList),
    };
    // Before any per-item work, so an oversized list costs nothing.
    if items.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(MemberListError::TooMany { count: items.len() });
    }
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        if item.is_null() {
            continue;
        }
        let id = item
            .as_object()
            .and_then(|m| present(get_ci(m, "value")))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(MemberListError::NoValue { index })?;
        if seen.insert(id.to_owned()) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// Shortens a client-supplied string for an error detail and quotes it, so
/// a detail stays readable whatever was sent.
pub fn quote(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    Value::String(out).to_string()
}

/// Shortens a client-supplied name (a path, a key) for an error detail,
/// unquoted: [`printable`] to 120 characters.
pub fn clip(s: &str) -> String {
    printable(s, 120)
}

/// A client-supplied text as it may be stored and shown: at most `max`
/// characters (then `…`), control characters escaped (`\u{0}`). Details
/// and log entries go to the provisioning log, where PostgreSQL refuses a
/// NUL, and to an administrator's screen.
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)));
    for c in s.chars().take(max) {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A JSON type's name for an error detail.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_from_entra_strings() {
        assert_eq!(coerce_bool(&json!("False")), Some(false));
        assert_eq!(coerce_bool(&json!("TRUE")), Some(true));
        assert_eq!(coerce_bool(&json!(true)), Some(true));
        assert_eq!(coerce_bool(&json!("no")), None);
        assert_eq!(coerce_bool(&json!(0)), None);
    }

    #[test]
    fn ops_in_any_case() {
        assert_eq!(patch_op("Replace"), Some(PatchOpKind::Replace));
        assert_eq!(patch_op("add"), Some(PatchOpKind::Add));
        assert_eq!(patch_op("REMOVE"), Some(PatchOpKind::Remove));
        assert_eq!(patch_op("delete"), None);
    }

    #[test]
    fn member_lists() {
        let ids = member_ids(
            &json!([{"value": "a", "$ref": null}, null, {"Value": " b "}, {"value": "a"}]),
        );
        assert_eq!(ids, Ok(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(member_ids(&json!({"value": "x"})), Ok(vec!["x".to_owned()]));
        assert_eq!(
            member_ids(&json!([{"display": "x"}])),
            Err(MemberListError::NoValue { index: 0 })
        );
        assert_eq!(member_ids(&json!("x")), Err(MemberListError::NotAList));
    }

    #[test]
    fn nulls_are_stripped_everywhere() {
        let mut v = json!({"a": null, "b": [null, {"c": null, "d": 1}]});
        strip_nulls(&mut v);
        assert_eq!(v, json!({"b": [{"d": 1}]}));
    }

    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(quote(&"x".repeat(200)).chars().count(), 83);
    }
}
