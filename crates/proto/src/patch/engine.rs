//! The JSON half of the PATCH engine: add, replace and remove on the client
//! view, one resolved target at a time.
//!
//! Values are coerced to the schema before they are written (keys to their
//! canonical names, Entra's `"False"` to `false`), so the patched view is
//! always in the shape the renderer produces and the re-parse sees clean
//! input. Type errors are 400 `invalidValue` naming the path.

use serde_json::{Map, Value};

use super::{MAX_VALUES, PatchOpKind, Target};
use crate::ScimError;
use crate::datetime;
use crate::dialect::{self, quote, type_name};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::resource::note;
use crate::schema::{Attribute, AttributeType};

pub(super) fn apply(
    doc: &mut Map<String, Value>,
    op: PatchOpKind,
    target: &Target,
    value: Option<&Value>,
    path: &str,
    ignored: &mut Vec<String>,
) -> Result<(), ScimError> {
    let value = match (op, value) {
        (PatchOpKind::Remove, v) => Removal::from_value(v),
        (_, None | Some(Value::Null)) => Removal::All,
        (_, Some(v)) => {
            return Write {
                doc,
                op,
                target,
                path,
                ignored,
            }
            .run(v);
        }
    };
    remove(doc, target, value, path)
}

/// What a `remove` (or a null write) takes away.
enum Removal<'v> {
    All,
    /// Entra's legacy form generalised: the elements of a multi-valued
    /// attribute whose `value` equals one listed.
    Listed(&'v Value),
}

impl<'v> Removal<'v> {
    fn from_value(value: Option<&'v Value>) -> Self {
        match value {
            None | Some(Value::Null) => Removal::All,
            Some(v) => Removal::Listed(v),
        }
    }
}

fn remove(
    doc: &mut Map<String, Value>,
    target: &Target,
    removal: Removal<'_>,
    path: &str,
) -> Result<(), ScimError> {
    let attr = target.attr;
    let name = attr.name;
    if target.filter.is_none() && target.sub.is_none() && attr.required {
        return Err(ScimError::mutability(format!(
            "{name} is required and cannot be removed"
        )));
    }
    let Some(current) = doc.get_mut(name) else {
        return Ok(());
    };
    match (&target.filter, target.sub, attr.multi_valued) {
        (None, None, true) => match removal {
            Removal::All => {
                doc.remove(name);
            }
            Removal::Listed(listed) => {
                let drop: Vec<&Value> = match listed {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                check_len(&drop, name)?;
                let drop: Vec<Value> = drop
                    .into_iter()
                    .map(|d| element_key(d).cloned().unwrap_or_else(|| d.clone()))
                    .collect();
                if let Value::Array(items) = current {
                    items.retain(|item| {
                        let key = element_key(item).unwrap_or(item);
                        !drop.iter().any(|d| loosely_equal(d, key))
                    });
                }
                drop_if_empty(doc, name);
            }
        },
        (None, None, false) => {
            doc.remove(name);
        }
        (None, Some(sub), false) => {
            if let Value::Object(object) = current {
                remove_key(object, sub.name);
            }
            drop_if_empty(doc, name);
        }
        (filter, sub, true) => {
            if let Value::Array(items) = current {
                let selected =
                    |item: &Value| filter.as_ref().is_none_or(|f| f.matches_element(item));
                match sub {
                    None => items.retain(|item| !selected(item)),
                    Some(sub) => {
                        // An element that loses its `value` is no element
                        // (`phoneNumbers[type eq "work"].value` removes the
                        // number, not just its digits).
                        let identified = attr.sub_attribute("value").is_some();
                        items.retain_mut(|item| {
                            if !selected(item) {
                                return true;
                            }
                            let Value::Object(object) = item else {
                                return true;
                            };
                            remove_key(object, sub.name);
                            if object.is_empty() {
                                return false;
                            }
                            !identified || dialect::get_ci(object, "value").is_some()
                        });
                    }
                }
            }
            drop_if_empty(doc, name);
        }
        (Some(_), _, false) => return Err(single_valued_filter(path, name)),
    }
    Ok(())
}

/// What identifies an element when a list of values is removed: its
/// `value` sub-attribute, or the element itself.
fn element_key(element: &Value) -> Option<&Value> {
    element
        .as_object()
        .and_then(|o| dialect::present(dialect::get_ci(o, "value")))
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

fn remove_key(object: &mut Map<String, Value>, name: &str) {
    object.retain(|k, _| !k.eq_ignore_ascii_case(name));
}

/// Empty objects and arrays are unassigned (RFC 7643 §2.5): drop them so
/// the view keeps one representation of "absent".
fn drop_if_empty(doc: &mut Map<String, Value>, name: &str) {
    let empty = match doc.get(name) {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        doc.remove(name);
    }
}

fn single_valued_filter(path: &str, name: &str) -> ScimError {
    ScimError::invalid_path(format!(
        "{}: a value filter selects elements of a multi-valued attribute, and {name} has one value",
        quote(path)
    ))
}

/// An add or replace with a non-null value.
struct Write<'a> {
    doc: &'a mut Map<String, Value>,
    op: PatchOpKind,
    target: &'a Target,
    path: &'a str,
    ignored: &'a mut Vec<String>,
}

impl Write<'_> {
    fn run(mut self, value: &Value) -> Result<(), ScimError> {
        let attr = self.target.attr;
        let op = self.op;
        match (&self.target.filter, self.target.sub, attr.multi_valued) {
            (None, None, false) => {
                let new = self.coerce(attr, value)?;
                match (self.doc.get_mut(attr.name), new) {
                    // A complex value is merged: sub-attributes not given
                    // are left unchanged (RFC 7644 §3.5.2.1, §3.5.2.3).
                    (Some(Value::Object(old)), Value::Object(new)) => merge(old, new),
                    (_, Value::Object(mut new)) => {
                        new.retain(|_, v| !v.is_null());
                        self.doc.insert(attr.name.to_owned(), Value::Object(new));
                    }
                    (_, new) => {
                        self.doc.insert(attr.name.to_owned(), new);
                    }
                }
                drop_if_empty(self.doc, attr.name);
            }
            (None, None, true) => {
                let new = self.coerce_list(attr, value)?;
                let list = list(self.doc, attr.name);
                if op == PatchOpKind::Replace {
                    list.clear();
                }
                for element in new {
                    if is_primary(&element) {
                        clear_primary_except(list, None);
                    }
                    // An element with the `value` of an existing one is that
                    // element (RFC 7644 §3.5.2.1: adding what is there
                    // changes nothing); its other sub-attributes are merged.
                    let same = element_key(&element).and_then(|key| {
                        list.iter()
                            .position(|e| element_key(e).is_some_and(|k| loosely_equal(k, key)))
                    });
                    match (same, element) {
                        (Some(i), Value::Object(new)) => {
                            if let Value::Object(old) = &mut list[i] {
                                merge(old, new);
                            }
                        }
                        (Some(_), _) => {}
                        (None, element) => {
                            if !list.contains(&element) {
                                list.push(element);
                            }
                        }
                    }
                }
                // Checked once, after the loop: the list held at most
                // MAX_VALUES and coerce_list admitted at most MAX_VALUES
                // more, so each lookup above was bounded.
                check_len(list, attr.name)?;
                drop_if_empty(self.doc, attr.name);
            }
            (None, Some(sub), false) => {
                let new = self.coerce(sub, value)?;
                let slot = self
                    .doc
                    .entry(attr.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(object) = slot {
                    set_key(object, sub.name, new);
                }
            }
            (None, Some(sub), true) => {
                let new = self.coerce(sub, value)?;
                let list = list(self.doc, attr.name);
                if list.is_empty() {
                    list.push(Value::Object(Map::new()));
                }
                for item in list.iter_mut() {
                    if let Value::Object(object) = item {
                        set_key(object, sub.name, new.clone());
                    }
                }
                fix_primary(list, sub.name);
            }
            (Some(filter), sub, true) => self.filtered(filter, sub, value)?,
            (Some(_), _, false) => return Err(single_valued_filter(self.path, attr.name)),
        }
        Ok(())
    }

    /// A write through a value filter: to every matching element, or to a
    /// new element built from the filter when nothing matches and that is
    /// allowed (see the module documentation of `patch`).
    fn filtered(
        &mut self,
        filter: &Filter,
        sub: Option<&'static Attribute>,
        value: &Value,
    ) -> Result<(), ScimError> {
        let attr = self.target.attr;
        let op = self.op;
        let new = match sub {
            Some(sub) => self.coerce(sub, value)?,
            None => self.coerce(attr, value)?,
        };
        let attribute_absent = list(self.doc, attr.name).is_empty();
        let list = list(self.doc, attr.name);
        let matching: Vec<usize> = (0..list.len())
            .filter(|&i| filter.matches_element(&list[i]))
            .collect();
        if matching.is_empty() {
            if op == PatchOpKind::Replace && !attribute_absent {
                drop_if_empty(self.doc, attr.name);
                return Err(ScimError::no_target(format!(
                    "no element of {} matches the filter",
                    attr.name
                )));
            }
            let Some(mut element) = element_from_filter(filter) else {
                drop_if_empty(self.doc, attr.name);
                return Err(ScimError::no_target(format!(
                    "no element of {} matches the filter, and a new one can only be made \
                     from a filter of 'eq' comparisons joined by 'and'",
                    attr.name
                )));
            };
            match (sub, new) {
                (Some(sub), new) => set_key(&mut element, sub.name, new),
                (None, Value::Object(fields)) => merge(&mut element, fields),
                (None, _) => {}
            }
            element.retain(|_, v| !v.is_null());
            let element = Value::Object(element);
            if is_primary(&element) {
                clear_primary_except(list, None);
            }
            list.push(element);
            check_len(list, attr.name)?;
        } else {
            for &i in &matching {
                let Value::Object(object) = &mut list[i] else {
                    continue;
                };
                match (sub, &new) {
                    (Some(sub), new) => set_key(object, sub.name, new.clone()),
                    (None, Value::Object(fields)) if op == PatchOpKind::Add => {
                        merge(object, fields.clone());
                    }
                    (None, Value::Object(fields)) => {
                        let mut fields = fields.clone();
                        fields.retain(|_, v| !v.is_null());
                        *object = fields;
                    }
                    (None, _) => {}
                }
            }
            if let Some(sub) = sub {
                fix_primary(list, sub.name);
            } else if let Some(&last) = matching.last().filter(|&&i| is_primary(&list[i])) {
                clear_primary_except(list, Some(last));
            }
            list.retain(|i| !matches!(i, Value::Object(o) if o.is_empty()));
        }
        drop_if_empty(self.doc, attr.name);
        Ok(())
    }

    fn coerce(&mut self, attr: &'static Attribute, value: &Value) -> Result<Value, ScimError> {
        let label = if std::ptr::eq(attr, self.target.attr) {
            attr.name.to_owned()
        } else {
            format!("{}.{}", self.target.attr.name, attr.name)
        };
        coerce(attr, value, &label, self.path, self.ignored)
    }

    /// A multi-valued attribute's new values: an array, or (leniently) a
    /// single value. `null` elements are dropped.
    fn coerce_list(
        &mut self,
        attr: &'static Attribute,
        value: &Value,
    ) -> Result<Vec<Value>, ScimError> {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        check_len(&items, attr.name)?;
        items
            .into_iter()
            .filter(|v| !v.is_null())
            .map(|v| {
                let mut element = self.coerce(attr, v)?;
                dialect::strip_nulls(&mut element);
                Ok(element)
            })
            .filter(|e| !matches!(e, Ok(Value::Object(o)) if o.is_empty()))
            .collect()
    }
}

/// Refuses a list of more than [`MAX_VALUES`] elements for `name`.
fn check_len<T>(list: &[T], name: &str) -> Result<(), ScimError> {
    if list.len() > MAX_VALUES {
        return Err(ScimError::invalid_value(format!(
            "{name} would have {} values; at most {MAX_VALUES} are accepted",
            list.len()
        )));
    }
    Ok(())
}

/// The array of a multi-valued attribute, created empty if absent.
fn list<'d>(doc: &'d mut Map<String, Value>, name: &str) -> &'d mut Vec<Value> {
    let slot = doc.entry(name).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(items) => items,
        _ => unreachable!("just made an array"),
    }
}

/// Coerces one value (not a list) to `attr`'s type. Complex values get
/// canonical sub-attribute names; unknown sub-attributes are ignored and
/// noted; `null` sub-values are kept (they mean "remove" in a merge).
fn coerce(
    attr: &'static Attribute,
    value: &Value,
    label: &str,
    path: &str,
    ignored: &mut Vec<String>,
) -> Result<Value, ScimError> {
    let wrong = |expected: &str| {
        ScimError::invalid_value(format!(
            "{label} must be {expected}, got {}",
            describe(value)
        ))
    };
    Ok(match attr.ty {
        AttributeType::Complex => {
            let Value::Object(object) = value else {
                return Err(wrong("an object"));
            };
            let mut out = Map::new();
            for (key, v) in object {
                match attr.sub_attribute(key) {
                    Some(sub) if v.is_null() => {
                        out.insert(sub.name.to_owned(), Value::Null);
                    }
                    Some(sub) => {
                        let v = coerce(sub, v, &format!("{label}.{}", sub.name), path, ignored)?;
                        out.insert(sub.name.to_owned(), v);
                    }
                    None => note(ignored, format!("{path}.{key}")),
                }
            }
            Value::Object(out)
        }
        AttributeType::Boolean => {
            Value::Bool(dialect::coerce_bool(value).ok_or_else(|| wrong("true or false"))?)
        }
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
            if !value.is_string() {
                return Err(wrong("a string"));
            }
            value.clone()
        }
        AttributeType::Integer | AttributeType::Decimal => {
            if !value.is_number() {
                return Err(wrong("a number"));
            }
            value.clone()
        }
        AttributeType::DateTime => match value.as_str().and_then(datetime::parse) {
            Some(micros) => Value::String(datetime::format(micros)),
            None => return Err(wrong("a date-time such as \"2026-01-01T00:00:00Z\"")),
        },
    })
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_owned(),
    }
}

/// Merges sub-attributes into a complex value: `null` removes one.
fn merge(object: &mut Map<String, Value>, new: Map<String, Value>) {
    for (key, value) in new {
        if value.is_null() {
            remove_key(object, &key);
        } else {
            set_key(object, &key, value);
        }
    }
}

/// Sets a sub-attribute, replacing any differently-cased key of it.
fn set_key(object: &mut Map<String, Value>, name: &str, value: Value) {
    remove_key(object, name);
    if !value.is_null() {
        object.insert(name.to_owned(), value);
    }
}

/// The element a filter of `eq` comparisons describes
/// (`type eq "work" and primary eq true` → `{type: work, primary: true}`).
fn element_from_filter(filter: &Filter) -> Option<Map<String, Value>> {
    let mut element = Map::new();
    constraints(filter, &mut element)?;
    Some(element)
}

fn constraints(filter: &Filter, element: &mut Map<String, Value>) -> Option<()> {
    match filter {
        Filter::And(left, right) => {
            constraints(left, element)?;
            constraints(right, element)
        }
        Filter::Compare(attr, CompareOp::Eq, operand) => {
            let sub = attr.sub?;
            let value = match operand {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Boolean(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::DateTime(micros) => Value::String(datetime::format(*micros)),
                CompValue::Null => return None,
            };
            element.insert(sub.name.to_owned(), value);
            Some(())
        }
        _ => None,
    }
}

/// RFC 7643 §2.4: at most one element of a multi-valued attribute is
/// primary. Clears `primary` on every element but `keep`.
fn clear_primary_except(list: &mut [Value], keep: Option<usize>) {
    for (i, object) in list.iter_mut().enumerate() {
        let is_kept = Some(i) == keep;
        match object.get_mut("primary") {
            Some(flag @ Value::Bool(true)) if !is_kept => *flag = Value::Bool(false),
            _ => {}
        }
    }
}

/// After `primary` was written to several elements, only the last keeps it.
fn fix_primary(list: &mut [Value], written: &str) {
    if written != "primary" {
        return;
    }
    if let Some(last) = list.iter().rposition(is_primary) {
        clear_primary_except(list, Some(last));
    }
}

fn is_primary(element: &Value) -> bool {
    element.get("primary") == Some(&Value::Bool(true))
}
