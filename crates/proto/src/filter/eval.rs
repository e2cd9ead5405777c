//! The in-memory evaluator: the executable definition of what a filter
//! means. The PATCH engine uses it to pick the elements a value path
//! targets; the storage layer's SQL translation is tested against it.
//!
//! It reads resources as rendered to clients (JSON), so it needs no storage
//! model, and it is total: a value of an unexpected JSON type simply does
//! not match (and so counts as "different" for `ne`).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::{CompValue, CompareOp, Filter};
use crate::datetime;
use crate::schema::{Origin, ResolvedAttr};

/// What the attribute paths of a filter are looked up in.
#[derive(Clone, Copy)]
enum Scope {
    /// A whole resource: paths start at its top level.
    Resource,
    /// One element of a multi-valued complex attribute: only the
    /// sub-attribute of each path is looked up.
    Element,
}

impl Filter {
    /// Evaluates the filter against a whole resource (a JSON object as
    /// rendered to clients). See the module documentation for the semantics.
    pub fn matches(&self, resource: &Value) -> bool {
        eval(self, resource, Scope::Resource)
    }

    /// Evaluates the inner filter of a value path against one element of a
    /// multi-valued complex attribute. Paths in the filter are full
    /// (`emails.type`); only their sub-attribute is looked up in `element`.
    pub fn matches_element(&self, element: &Value) -> bool {
        eval(self, element, Scope::Element)
    }
}

fn eval(filter: &Filter, value: &Value, scope: Scope) -> bool {
    match filter {
        Filter::Present(attr) => values(value, attr, scope).into_iter().any(is_present),
        Filter::Compare(attr, op, operand) => {
            compare(&values(value, attr, scope), attr, *op, operand)
        }
        Filter::And(left, right) => eval(left, value, scope) && eval(right, value, scope),
        Filter::Or(left, right) => eval(left, value, scope) || eval(right, value, scope),
        Filter::Not(inner) => !eval(inner, value, scope),
        Filter::ValuePath(attr, inner) => match scope {
            Scope::Resource => {
                let mut elements = Vec::new();
                if let Some(v) = container(value, attr.origin).and_then(|c| get(c, attr.attr.name))
                {
                    flatten(v, &mut elements);
                }
                // Elements of a complex attribute are objects; a null (or
                // stray scalar) is no element, even for `[not (x pr)]`.
                elements
                    .into_iter()
                    .filter(|e| e.is_object())
                    .any(|e| eval(inner, e, Scope::Element))
            }
            // Not produced by the parser; read as "this element satisfies
            // the value filter".
            Scope::Element => eval(inner, value, Scope::Element),
        },
    }
}

/// The object that holds an attribute: the resource itself for the core
/// schema (URN-qualified or not), the extension's object for extensions.
fn container(resource: &Value, origin: Origin) -> Option<&Value> {
    match origin {
        Origin::Core => Some(resource),
        Origin::IgnoredExtension(schema) => get(resource, schema.id),
    }
}

/// A member of a JSON object by name, ignoring ASCII case (RFC 7643 §2.1);
/// an exact match wins.
fn get<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    let map = object.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Pushes the elements of an array, or the value itself.
fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Array(items) => out.extend(items),
        other => out.push(other),
    }
}

/// Every value `attr` designates, one per element of a multi-valued
/// attribute, without nulls (a null value is an absent one).
fn values<'v>(value: &'v Value, attr: &ResolvedAttr, scope: Scope) -> Vec<&'v Value> {
    let mut top = Vec::new();
    match scope {
        Scope::Resource => {
            if let Some(v) = container(value, attr.origin).and_then(|c| get(c, attr.attr.name)) {
                flatten(v, &mut top);
            }
        }
        Scope::Element => top.push(value),
    }
    let mut out = match attr.sub {
        None => top,
        Some(sub) => {
            let mut subs = Vec::new();
            for element in top {
                if let Some(v) = get(element, sub.name) {
                    flatten(v, &mut subs);
                }
            }
            subs
        }
    };
    out.retain(|v| !v.is_null());
    out
}

/// RFC 7644 `pr`: "has a non-empty value, or contains a non-empty node for
/// complex attributes". Looks one level into arrays and objects, no deeper.
fn is_present(value: &Value) -> bool {
    fn non_empty(value: &Value) -> bool {
        match value {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
            Value::Bool(_) | Value::Number(_) => true,
        }
    }
    match value {
        Value::Array(items) => items.iter().any(non_empty),
        Value::Object(map) => map.values().any(non_empty),
        other => non_empty(other),
    }
}

fn compare(values: &[&Value], attr: &ResolvedAttr, op: CompareOp, operand: &CompValue) -> bool {
    let case_exact = attr.target().case_exact;
    match (op, operand) {
        (CompareOp::Eq, CompValue::Null) => !values.iter().any(|v| is_present(v)),
        (CompareOp::Ne, CompValue::Null) => values.iter().any(|v| is_present(v)),
        (_, CompValue::Null) => false,
        // Absent counts as different; otherwise any differing value.
        (CompareOp::Ne, _) => {
            values.is_empty()
                || values
                    .iter()
                    .any(|v| !test(v, CompareOp::Eq, operand, case_exact))
        }
        _ => values.iter().any(|v| test(v, op, operand, case_exact)),
    }
}

/// One value against the operand. `Ne` is never asked (it is the negation
/// of `Eq`, see [`compare`]).
fn test(value: &Value, op: CompareOp, operand: &CompValue, case_exact: bool) -> bool {
    match operand {
        CompValue::String(expected) => {
            let Some(actual) = value.as_str() else {
                return false;
            };
            if case_exact {
                test_str(actual, op, expected)
            } else {
                test_str(&fold(actual), op, &fold(expected))
            }
        }
        CompValue::Boolean(expected) => op == CompareOp::Eq && value.as_bool() == Some(*expected),
        CompValue::DateTime(expected) => value
            .as_str()
            .and_then(datetime::parse)
            .is_some_and(|actual| test_order(actual.cmp(expected), op)),
        CompValue::Number(expected) => match value {
            Value::Number(actual) => {
                compare_numbers(actual, expected).is_some_and(|o| test_order(o, op))
            }
            _ => false,
        },
        CompValue::Null => false,
    }
}

/// Unicode lowercase, for attributes that are not `caseExact`.
fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn test_str(actual: &str, op: CompareOp, expected: &str) -> bool {
    match op {
        CompareOp::Co => actual.contains(expected),
        CompareOp::Sw => actual.starts_with(expected),
        CompareOp::Ew => actual.ends_with(expected),
        // Byte order of UTF-8 is code point order.
        _ => test_order(actual.cmp(expected), op),
    }
}

fn test_order(order: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => order == Ordering::Equal,
        CompareOp::Ne => order != Ordering::Equal,
        CompareOp::Gt => order == Ordering::Greater,
        CompareOp::Ge => order != Ordering::Less,
        CompareOp::Lt => order == Ordering::Less,
        CompareOp::Le => order != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Numeric order: exact for integers (any mix of signed and unsigned),
/// through `f64` as soon as either side is fractional.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    fn int(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}
