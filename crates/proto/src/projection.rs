//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).
//!
//! A projection is parsed before anything is loaded, so the server can ask
//! [`Projection::includes`] whether an expensive attribute is wanted at all:
//! Entra reads groups with `excludedAttributes=members`, and a group with
//! 100,000 members must then cost no more than one with ten. After
//! rendering, [`Projection::apply`] trims the representation, sub-attributes
//! included.
//!
//! What is returned follows each attribute's `returned` characteristic in
//! [`crate::schema`], so the published schema and the behaviour agree:
//! `always` attributes (`id`) survive every projection, `never` ones are
//! never rendered, `request` ones only when asked for by name. `schemas`
//! is not an attribute of any schema and is always kept.
//!
//! Decisions where the RFC leaves room:
//! - Both parameters given: RFC 7644 defines no combination. `attributes`
//!   wins and `excludedAttributes` is ignored, because `attributes` is the
//!   stronger statement of what the client wants and ignoring the other is
//!   more useful than refusing the request.
//! - Unknown names (and names of ignored extensions) are skipped, not
//!   refused: a client that asks for `nickName` gets what we have.
//! - An empty parameter (`attributes=`) is the same as an absent one.

use serde_json::Value;

use crate::ScimError;
use crate::schema::{Attribute, Origin, ResourceType, Returned};

/// One named attribute or sub-attribute.
#[derive(Debug, Clone, Copy)]
struct Selector {
    attr: &'static Attribute,
    sub: Option<&'static Attribute>,
}

#[derive(Debug, Clone)]
enum Mode {
    Default,
    Include(Vec<Selector>),
    Exclude(Vec<Selector>),
}

/// Which attributes of a resource type a response carries.
#[derive(Debug, Clone)]
pub struct Projection {
    rt: &'static ResourceType,
    mode: Mode,
}

/// What a projection keeps of one top-level attribute.
enum Keep {
    All,
    Nothing,
    /// Only these sub-attributes.
    Only(Vec<&'static Attribute>),
    /// Everything but these sub-attributes.
    AllBut(Vec<&'static Attribute>),
}

/// Most names one `attributes` or `excludedAttributes` list may hold. The
/// schemas have fewer than 80 attributes and sub-attributes in all; the cap
/// refuses a list built to make every rendered resource cost its length.
pub const MAX_NAMES: usize = 200;

/// Parses the two query parameters. Unknown names are skipped; a list of
/// more than [`MAX_NAMES`] names is 400 `invalidValue`.
pub fn parse(
    rt: &'static ResourceType,
    attributes: Option<&str>,
    excluded_attributes: Option<&str>,
) -> Result<Projection, ScimError> {
    let mode = match (given(attributes), given(excluded_attributes)) {
        (Some(list), _) => Mode::Include(selectors(rt, "attributes", list)?),
        (None, Some(list)) => Mode::Exclude(selectors(rt, "excludedAttributes", list)?),
        (None, None) => Mode::Default,
    };
    Ok(Projection { rt, mode })
}

/// A parameter counts as given when it is not blank.
fn given(param: Option<&str>) -> Option<&str> {
    param.filter(|s| !s.trim().is_empty())
}

/// The distinct selectors of a list: each is then compared once per
/// attribute of every resource rendered, so duplicates must not count.
fn selectors(
    rt: &'static ResourceType,
    param: &str,
    list: &str,
) -> Result<Vec<Selector>, ScimError> {
    let names = list.split(',').map(str::trim).filter(|s| !s.is_empty());
    if names.clone().nth(MAX_NAMES).is_some() {
        return Err(ScimError::invalid_value(format!(
            "{param} lists more than {MAX_NAMES} names"
        )));
    }
    let mut out: Vec<Selector> = Vec::new();
    for resolved in names.filter_map(|name| rt.resolve(name)) {
        let selector = Selector {
            attr: resolved.attr,
            sub: resolved.sub,
        };
        let same = |s: &Selector| {
            std::ptr::eq(s.attr, selector.attr)
                && s.sub.map(std::ptr::from_ref) == selector.sub.map(std::ptr::from_ref)
        };
        if resolved.origin == Origin::Core && !out.iter().any(same) {
            out.push(selector);
        }
    }
    Ok(out)
}

impl Projection {
    /// The default view: every attribute whose `returned` is `always` or
    /// `default`.
    pub fn default_for(rt: &'static ResourceType) -> Projection {
        Projection {
            rt,
            mode: Mode::Default,
        }
    }

    /// Whether the response carries any part of the top-level attribute
    /// `name` (case-insensitive). Names outside the schema (`schemas`) are
    /// always included.
    pub fn includes(&self, name: &str) -> bool {
        match self.rt.attribute_in(self.rt.schema, Origin::Core, name) {
            Some(attr) => !matches!(self.keep(attr), Keep::Nothing),
            None => true,
        }
    }

    /// Removes from a rendered resource whatever the projection excludes.
    /// `id` and `schemas` are never removed.
    pub fn apply(&self, resource: &mut Value) {
        let Some(object) = resource.as_object_mut() else {
            return;
        };
        let rt = self.rt;
        object.retain(|key, value| {
            let Some(attr) = rt.attribute_in(rt.schema, Origin::Core, key) else {
                return true;
            };
            if attr.name == "id" {
                return true;
            }
            match self.keep(attr) {
                Keep::All => true,
                Keep::Nothing => false,
                Keep::Only(subs) => trim_subs(value, |name| contains(&subs, name)),
                Keep::AllBut(subs) => trim_subs(value, |name| !contains(&subs, name)),
            }
        });
    }

    fn keep(&self, attr: &'static Attribute) -> Keep {
        match attr.returned {
            Returned::Always => return Keep::All,
            Returned::Never => return Keep::Nothing,
            Returned::Default | Returned::Request => {}
        }
        let named = |sels: &[Selector]| -> Vec<Selector> {
            sels.iter()
                .filter(|s| std::ptr::eq(s.attr, attr))
                .copied()
                .collect()
        };
        match &self.mode {
            Mode::Default if attr.returned == Returned::Request => Keep::Nothing,
            Mode::Default => Keep::All,
            Mode::Include(sels) => {
                let named = named(sels);
                if named.is_empty() {
                    Keep::Nothing
                } else if named.iter().any(|s| s.sub.is_none()) {
                    Keep::All
                } else {
                    let mut subs: Vec<_> = named.iter().filter_map(|s| s.sub).collect();
                    subs.extend(
                        attr.sub_attributes
                            .iter()
                            .filter(|s| s.returned == Returned::Always),
                    );
                    Keep::Only(subs)
                }
            }
            Mode::Exclude(_) if attr.returned == Returned::Request => Keep::Nothing,
            Mode::Exclude(sels) => {
                let named = named(sels);
                if named.is_empty() {
                    Keep::All
                } else if named.iter().any(|s| s.sub.is_none()) {
                    Keep::Nothing
                } else {
                    let subs = named
                        .iter()
                        .filter_map(|s| s.sub)
                        .filter(|s| s.returned != Returned::Always)
                        .collect();
                    Keep::AllBut(subs)
                }
            }
        }
    }
}

fn contains(subs: &[&'static Attribute], name: &str) -> bool {
    subs.iter().any(|s| s.name.eq_ignore_ascii_case(name))
}

/// Keeps only the sub-attributes `keep` accepts, in a complex value or in
/// every element of a multi-valued one. Returns whether anything is left.
fn trim_subs(value: &mut Value, keep: impl Fn(&str) -> bool) -> bool {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| keep(k));
            !map.is_empty()
        }
        Value::Array(items) => {
            items.retain_mut(|item| match item {
                Value::Object(map) => {
                    map.retain(|k, _| keep(k));
                    !map.is_empty()
                }
                _ => true,
            });
            !items.is_empty()
        }
        _ => true,
    }
}
