//! PATCH (RFC 7644 §3.5.2): parsing a `PatchOp` message and applying it.
//!
//! # Shape of the engine
//!
//! The engine works on the *client view* of a resource, the JSON that
//! [`crate::resource::render_user`] / [`crate::resource::render_group`]
//! produce, not on a storage model. That is the representation the RFC's
//! paths and filters are defined on, so every operation means exactly what
//! the client meant, and the result can be validated by the same parser that
//! validates a PUT ([`crate::resource::parse_user`]). The server loads,
//! renders, applies, re-parses and stores.
//!
//! Group members are the exception. Rendering 100,000 members to patch one
//! is what makes naive SCIM servers slow and, when a legacy request is
//! misread, empties groups. So for the Group resource every operation on
//! `members` becomes a [`MemberOp`] (in request order) and never touches the
//! JSON; the server applies them as set operations on the membership table.
//! The view passed to [`apply`] is rendered *without* `members` and `groups`.
//!
//! All operations of a request apply or none does: they run on a copy, which
//! replaces the resource only when every operation succeeded.
//!
//! # Decisions where the RFC leaves room
//!
//! - `schemas` of the message is not checked: GitHub-style clients omit it,
//!   and nothing else could be in a PATCH body. `Operations` is required.
//! - At most [`MAX_OPERATIONS`] operations per request (400 `invalidValue`
//!   beyond): Entra sends a handful, Okta one; the cap bounds the work of a
//!   request that cannot be paged. Likewise at most [`MAX_VALUES`] elements
//!   in a multi-valued attribute of the view.
//! - `value: null` on `add`/`replace` means "unassign" (RFC 7643 §2.5 makes
//!   null and unassigned the same state), so it behaves like `remove`.
//! - Removing (or nulling) a required attribute (`userName`,
//!   `displayName`) is 400 `mutability`, as RFC 7644 §3.5.2.2 prescribes.
//! - `remove` with a value filter that matches nothing is a successful
//!   no-op: removal is idempotent, and PRODUCT.md requires removing a
//!   member that is not there to succeed. `replace` with a value filter
//!   that matches nothing is 400 `noTarget` (§3.5.2.3) unless the attribute
//!   has no value at all, which §3.5.2.3 says to treat as `add`.
//! - `add` with a value filter that matches nothing creates the element,
//!   with the filter's `eq` comparisons set on it (`phoneNumbers[type eq
//!   "work"].value` creates `{type: work, value: …}`), as Microsoft
//!   advises for Entra. Later adds with the same filter then find it, so
//!   several such adds in one request build one element. A filter that is
//!   not a conjunction of `eq` comparisons cannot describe a new element:
//!   400 `noTarget`.
//! - `replace` with a value filter and no sub-attribute replaces each
//!   matching element by the value, as written in §3.5.2.3; `add` merges.
//! - `add` to a multi-valued attribute of an element whose `value` equals
//!   an existing element's merges into that element instead of adding a
//!   second copy (§3.5.2.1: adding what is there changes nothing).
//! - `remove` of a whole multi-valued attribute *with* a value list removes
//!   only the listed elements (matched by `value`): Entra's legacy member
//!   removal, generalised. Without a value the attribute is removed.
//! - A value filter on a single-valued attribute (`name[...]`) is 400
//!   `invalidPath`: there are no elements to select.
//! - An explicit `path` to a read-only attribute (`id`, `meta`,
//!   `meta.created`, `groups`) is 400 `mutability` and the whole request is
//!   refused (§3.5.2). Two exceptions are ignored and reported in
//!   [`PatchOutcome::ignored`] instead: `emails`, which is read-only here
//!   only because it is derived from userName, and Entra keeps sending
//!   `emails[type eq "work"].value` whatever the mapping says; and
//!   read-only keys of a path-less value object (Okta sends the resource's
//!   own `id` and `meta` on every group update).
//! - Unknown attributes (and everything in the ignored enterprise
//!   extension) are ignored and reported, as in a POST body. Keys of a
//!   path-less value that are not even valid paths are ignored likewise; an
//!   explicit `path` that is not valid is 400 `invalidPath`.
//! - `phoneNumbers` is immutable in the published schema; that rule needs the
//!   stored value and is enforced by the server after re-parsing.

mod engine;
mod members;

use serde_json::{Map, Value};

use crate::ScimError;
use crate::dialect::{self, get_ci, quote, type_name};
use crate::filter::{self, Filter};
use crate::resource::note;
use crate::schema::{Attribute, Origin, ResourceType};

/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// Most elements a multi-valued attribute may hold in a patched view, and
/// most values one operation may add to it. scimitar stores at most one
/// phone number and the other multi-valued attributes of the view are
/// read-only or (`members`) never reach it, so real requests stay far below;
/// without a cap, adding N values costs N² comparisons (each new value is
/// looked up among the existing ones), and an 800 kB body ran for minutes.
pub const MAX_VALUES: usize = 100;

/// Most member ids one request may name, in one operation or all of them
/// together (PATCH), or in a group's `members` (PUT). Entra and Okta send a
/// handful to a few hundred per request (AWS IAM Identity Center accepts
/// 100); the cap bounds the work and the time one request holds the
/// database's writer (about 170 ms for 5,000 ids on SQLite), so one
/// tenant's bulk change cannot stall another tenant's writes.
pub const MAX_MEMBERS_PER_REQUEST: usize = 5_000;

/// The PATCH message URN (RFC 7644 §3.5.2).
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A parsed `PatchOp` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRequest {
    /// The `Operations`, in request order.
    pub operations: Vec<PatchOperation>,
}

/// The three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    /// `add`: add values, or set an attribute that has none.
    Add,
    /// `replace`: replace values.
    Replace,
    /// `remove`: remove values or whole attributes.
    Remove,
}

impl PatchOpKind {
    /// The operation's name as RFC 7644 writes it, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }
}

/// One operation, as sent. `path` is trimmed, `""` counts as absent;
/// `value` keeps an explicit `null` as `Some(Value::Null)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchOpKind,
    /// Where: a PATCH path, or `None` for the resource itself.
    pub path: Option<String>,
    /// The value to add or replace with, or the values to remove.
    pub value: Option<Value>,
}

/// A change to a group's member set, in user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Add these users; ones already members are a no-op.
    Add(Vec<String>),
    /// Remove these users; ones that are not members are a no-op.
    Remove(Vec<String>),
    /// Make exactly these users the members (`[]` empties the group).
    Replace(Vec<String>),
}

impl MemberOp {
    /// The user ids the operation names.
    pub fn ids(&self) -> &[String] {
        match self {
            MemberOp::Add(ids) | MemberOp::Remove(ids) | MemberOp::Replace(ids) => ids,
        }
    }
}

/// What [`apply`] produced besides the patched JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOutcome {
    /// Member set operations, in request order (Group only).
    pub members: Vec<MemberOp>,
    /// Paths and attribute names that were ignored (read-only, unknown,
    /// ignored extensions), as the client wrote them, each once, at most
    /// [`crate::resource::MAX_IGNORED_NOTED`].
    pub ignored: Vec<String>,
}

/// Parses a `PatchOp` body. Structural problems are found here, before
/// anything is loaded; attribute-level ones when applying.
pub fn parse_patch(body: &Value) -> Result<PatchRequest, ScimError> {
    let Some(message) = body.as_object() else {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body must be a PatchOp JSON object, got {}",
            type_name(body)
        )));
    };
    let operations = match get_ci(message, "Operations") {
        Some(Value::Array(ops)) => ops,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations must be an array, got {}",
                type_name(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(format!(
                "a PATCH body needs \"Operations\" ({PATCH_OP_URN})"
            )));
        }
    };
    if operations.is_empty() {
        return Err(ScimError::invalid_value("Operations is empty"));
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "{} operations in one request; at most {MAX_OPERATIONS} are accepted",
            operations.len()
        )));
    }
    let operations = operations
        .iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect::<Result<_, _>>()?;
    Ok(PatchRequest { operations })
}

fn parse_operation(index: usize, op: &Value) -> Result<PatchOperation, ScimError> {
    let at = format!("Operations[{index}]");
    let Some(object) = op.as_object() else {
        return Err(ScimError::invalid_syntax(format!(
            "{at} must be an object, got {}",
            type_name(op)
        )));
    };
    let kind = match dialect::present(get_ci(object, "op")) {
        Some(Value::String(name)) => dialect::patch_op(name).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "{at}.op must be \"add\", \"replace\" or \"remove\", got {}",
                quote(name)
            ))
        })?,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "{at}.op must be a string, got {}",
                type_name(other)
            )));
        }
        None => return Err(ScimError::invalid_syntax(format!("{at} has no \"op\""))),
    };
    let path = match dialect::present(get_ci(object, "path")) {
        None => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p.trim().to_owned()),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "{at}.path must be a string, got {}",
                type_name(other)
            )));
        }
    };
    let value = get_ci(object, "value").cloned();
    match (kind, &path, &value) {
        (PatchOpKind::Remove, None, _) => Err(ScimError::no_target(format!(
            "{at}: remove needs a \"path\" naming what to remove"
        ))),
        (PatchOpKind::Add | PatchOpKind::Replace, _, None) => Err(ScimError::invalid_syntax(
            format!("{at}: {} needs a \"value\"", kind.as_str()),
        )),
        (PatchOpKind::Add | PatchOpKind::Replace, None, Some(v)) if !v.is_object() => {
            Err(ScimError::invalid_value(format!(
                "{at}: without a \"path\", the value must be an object of attributes, got {}",
                type_name(v)
            )))
        }
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

/// Applies `request` to `resource`, the client view of a resource of type
/// `rt` rendered without `members`/`groups`. On error the resource is left
/// exactly as it was.
pub fn apply(
    rt: &'static ResourceType,
    resource: &mut Value,
    request: &PatchRequest,
) -> Result<PatchOutcome, ScimError> {
    let Some(original) = resource.as_object() else {
        return Err(ScimError::new(
            500,
            None,
            "the resource to patch is not a JSON object",
        ));
    };
    let mut work = original.clone();
    let mut outcome = PatchOutcome::default();
    for (index, operation) in request.operations.iter().enumerate() {
        let mut ctx = Ctx {
            rt,
            doc: &mut work,
            outcome: &mut outcome,
        };
        ctx.operation(operation).map_err(|e| {
            let what = match &operation.path {
                Some(path) => format!("{} '{}'", operation.op.as_str(), dialect::clip(path)),
                None => operation.op.as_str().to_owned(),
            };
            let detail = format!("Operations[{index}] ({what}): {}", e.detail);
            ScimError::new(e.status, e.scim_type, detail)
        })?;
    }
    *resource = Value::Object(work);
    Ok(outcome)
}

/// A path resolved for the engine: `attr[filter].sub`, with a dotted
/// `attr.sub` folded into the same shape.
#[derive(Debug)]
pub(crate) struct Target {
    attr: &'static Attribute,
    filter: Option<Filter>,
    sub: Option<&'static Attribute>,
}

/// Where a path came from, which decides how strictly it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The operation's `path`.
    Path,
    /// A key of a path-less operation's value object.
    ValueKey,
}

struct Ctx<'a> {
    rt: &'static ResourceType,
    doc: &'a mut Map<String, Value>,
    outcome: &'a mut PatchOutcome,
}

impl Ctx<'_> {
    fn operation(&mut self, operation: &PatchOperation) -> Result<(), ScimError> {
        let value = operation.value.as_ref();
        match &operation.path {
            Some(path) => self.path(operation.op, path, value, Source::Path),
            None => match value {
                Some(Value::Object(attributes)) => self.attributes(operation.op, attributes, true),
                // parse_patch refuses these; a hand-built request may not.
                _ => Err(ScimError::no_target(
                    "an operation without a path needs an object value",
                )),
            },
        }
    }

    /// A path-less add/replace: each key of the value is a path.
    fn attributes(
        &mut self,
        op: PatchOpKind,
        attributes: &Map<String, Value>,
        top: bool,
    ) -> Result<(), ScimError> {
        for (key, value) in attributes {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            // The core schema URN as a key wraps attributes (RFC 7644 §3.5.2
            // example of a path-less add with URN-qualified values).
            if top && key.eq_ignore_ascii_case(self.rt.schema.id) {
                match value {
                    Value::Object(inner) => self.attributes(op, inner, false)?,
                    Value::Null => {}
                    other => {
                        return Err(ScimError::invalid_value(format!(
                            "{} must be an object of attributes, got {}",
                            self.rt.schema.id,
                            type_name(other)
                        )));
                    }
                }
                continue;
            }
            self.path(op, key, Some(value), Source::ValueKey)?;
        }
        Ok(())
    }

    fn ignore(&mut self, what: &str) {
        note(&mut self.outcome.ignored, what.to_owned());
    }

    fn path(
        &mut self,
        op: PatchOpKind,
        path: &str,
        value: Option<&Value>,
        source: Source,
    ) -> Result<(), ScimError> {
        if self.in_ignored_extension(path) {
            self.ignore(path);
            return Ok(());
        }
        let parsed = match filter::parse_path(self.rt, path) {
            Ok(p) => p,
            Err(e) if e.is_unknown_attribute() || source == Source::ValueKey => {
                self.ignore(path);
                return Ok(());
            }
            Err(e) => return Err(e.into_path_error()),
        };
        if parsed.attr.origin != Origin::Core {
            self.ignore(path);
            return Ok(());
        }
        let target = Target {
            attr: parsed.attr.attr,
            sub: parsed.attr.sub.or(parsed.sub),
            filter: parsed.filter,
        };
        if self.rt.id == crate::schema::GROUP.id && target.attr.name == "members" {
            return members::apply(op, &target, value, path, self.outcome);
        }
        let read_only = |a: &Attribute| a.mutability == crate::schema::Mutability::ReadOnly;
        if read_only(target.attr) || target.sub.is_some_and(read_only) {
            if source == Source::Path && target.attr.name != "emails" {
                return Err(ScimError::mutability(format!(
                    "{} is read-only and cannot be changed",
                    dialect::clip(path)
                )));
            }
            self.ignore(path);
            return Ok(());
        }
        engine::apply(
            self.doc,
            op,
            &target,
            value,
            path,
            &mut self.outcome.ignored,
        )
    }

    /// Whether `path` names an ignored extension (its URN, or an attribute
    /// qualified by it). Checked before parsing so that a bare extension URN
    /// (Entra sends the enterprise object as one key) is recognised.
    fn in_ignored_extension(&self, path: &str) -> bool {
        self.rt.ignored_extensions.iter().any(|schema| {
            path.len() >= schema.id.len()
                && path.is_char_boundary(schema.id.len())
                && path[..schema.id.len()].eq_ignore_ascii_case(schema.id)
                && matches!(path.as_bytes().get(schema.id.len()), None | Some(b':'))
        })
    }
}
