//! RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH paths: a hand-written parser,
//! a typed AST, a printer and an in-memory evaluator.
//!
//! # Why the AST is typed against the schema
//!
//! Every attribute path is resolved to its static definition while parsing,
//! and every comparison value is coerced to that attribute's type. So the
//! storage layer translates a [`Filter`] to SQL without knowing any SCIM
//! names or rules, the evaluator knows `caseExact` without a lookup, and a
//! filter naming an unknown attribute or comparing `active gt true` fails at
//! the edge with a 400 `invalidFilter` instead of silently matching nothing.
//! Normalisations identity providers rely on happen here, once:
//!
//! * a complex attribute compared without a sub-attribute means its `value`
//!   sub-attribute (`members eq "ID"` is `members.value eq "ID"`, which is
//!   how Entra checks membership). `pr` keeps the whole attribute:
//!   `name pr` asks whether `name` has any non-empty sub-attribute;
//! * strings on boolean attributes (`active eq "False"`, Entra) become
//!   booleans, strings on `dateTime` attributes become instants;
//! * inner paths of a value filter are stored in full (`emails.type`, not
//!   `type`), so one leaf means the same thing everywhere.
//!
//! # Why the parser is hand-written and bounded
//!
//! Filters arrive in URLs from anyone holding an API key. Parsing must stay
//! cheap and total on hostile input: the input is limited to
//! [`MAX_FILTER_LEN`] bytes, nesting (parentheses, `not`, value filters) to
//! [`MAX_DEPTH`], attribute expressions to [`MAX_TERMS`]. Recursion happens
//! only on nesting, so it is bounded by [`MAX_DEPTH`]; every byte is looked
//! at a constant number of times. The AST of a parsed filter is therefore at
//! most `MAX_TERMS + 2 * MAX_DEPTH` deep, which is what lets the printer,
//! the evaluator and the SQL translation recurse freely. Errors are data
//! ([`FilterError`]): the byte offset of the offending character travels to
//! the client in the 400's detail.
//!
//! # Grammar accepted
//!
//! RFC 7644's ABNF, with the leniency real clients need: keywords and
//! operators in any letter case, any run of spaces, tabs or line breaks
//! between tokens (and none where a token ends unambiguously, as in
//! `userName eq"x"`), `true`/`false`/`null` in any case, `not(` as well as
//! `not (`. `not` always needs parentheses, as in the RFC. Precedence is
//! `not` > `and` > `or`; `and` and `or` associate to the left.
//!
//! # Evaluation semantics
//!
//! [`Filter::matches`] is the reference for what a filter means; the SQL
//! translation must agree with it. Attribute keys are looked up ignoring
//! ASCII case. A comparison on a multi-valued attribute (or a sub-attribute
//! of one) matches when *any* value matches; `null` values count as absent.
//! `ne` matches when the attribute is absent or any value differs.
//! `eq null` means "not present", `ne null` means "present". Strings of
//! attributes that are not `caseExact` compare after Unicode lowercasing;
//! `gt`/`ge`/`lt`/`le` on strings compare by Unicode code point, on
//! `dateTime` by instant, on numbers numerically.

mod error;
mod eval;
mod parse;
mod path;
mod print;
mod scan;
#[cfg(test)]
mod tests;

pub use error::{FilterError, FilterErrorKind};
pub use path::{Path, parse_path};

use crate::schema::{ResolvedAttr, ResourceType};

/// Longest filter or PATCH path accepted, in bytes. Identity providers send
/// filters of one or two expressions (well under 200 bytes); 4 KiB leaves
/// room for hand-written queries and still fits in any URL a proxy passes.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest nesting of parentheses, `not (...)` and value filters `[...]`.
/// Bounds the parser's recursion and so its stack use.
pub const MAX_DEPTH: usize = 32;

/// Most attribute expressions (`attr op value`, `attr pr`) in one filter.
/// Each becomes at least one SQL predicate with a bind parameter; 100 keeps
/// statements small and bounds the AST's depth for every recursive consumer.
pub const MAX_TERMS: usize = 100;

/// A parsed, schema-typed filter.
///
/// Invariants of a parsed filter (the printer relies on them, consumers may):
/// * every `Compare` names a non-complex attribute: a complex attribute
///   written without a sub-attribute has been replaced by its `value`
///   sub-attribute;
/// * every `CompValue` fits the attribute's type (see [`CompValue`]), and
///   `Null` appears only with `Eq`/`Ne`;
/// * the paths inside a `ValuePath`'s filter all have the value path's
///   attribute as `attr`, with `sub` set, and contain no further `ValuePath`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr pr`: present, not null, not an empty string, array or object.
    /// `attr` may be a complex attribute without sub-attribute (`name pr`).
    Present(ResolvedAttr),
    /// `attr op value`
    Compare(ResolvedAttr, CompareOp, CompValue),
    /// `a and b`: both match.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`: either matches.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`: `a` does not match.
    Not(Box<Filter>),
    /// `attr[inner]`: `attr` is a top-level complex attribute (`sub` is
    /// `None`); `inner` holds full paths (`emails.type`, not `type`), all of
    /// them sub-attributes of `attr`, evaluated on one element. Matches when
    /// some element satisfies `inner` (a single-valued complex attribute is
    /// one element).
    ValuePath(ResolvedAttr, Box<Filter>),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal (or absent).
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator, in RFC order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator as written in a filter, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Parses an operator keyword, ignoring case.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// `gt`, `ge`, `lt`, `le`: need an ordered type.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// `co`, `sw`, `ew`: need a string-like type.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

/// A comparison value, already coerced to the attribute's type:
/// `String` for string, reference and binary attributes, `Boolean` for
/// boolean ones, `DateTime` for dateTime ones, `Number` for integer (always
/// integral) and decimal ones, `Null` for any (with `eq`/`ne` only).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// As written, not lowercased: case folding is the comparison's job.
    String(String),
    /// For integer (always integral) and decimal attributes.
    Number(serde_json::Number),
    /// For boolean attributes; strings such as `"False"` arrive here coerced.
    Boolean(bool),
    /// Microseconds since the Unix epoch, UTC.
    DateTime(i64),
    /// `null`: with `eq`, not present; with `ne`, present.
    Null,
}

/// Parses `input` as a filter on resources of type `rt`.
///
/// Attribute names are resolved against `rt` (case-insensitively, with or
/// without schema URN) and values coerced to the attributes' types; see the
/// module documentation for the grammar and the limits.
pub fn parse(rt: &'static ResourceType, input: &str) -> Result<Filter, FilterError> {
    parse::filter(rt, input)
}
