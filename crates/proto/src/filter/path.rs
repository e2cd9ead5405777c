//! PATCH paths (RFC 7644 §3.5.2): `PATH = attrPath / valuePath [subAttr]`.
//!
//! They share the filter's lexer, name resolution and value filters, so
//! `members[value eq "ID"]` in a PATCH means exactly what it means in a
//! `filter`, and both refuse the same malformed input the same way.

use super::Filter;
use super::error::FilterError;
use super::parse::{Parser, Scope};
use crate::schema::{Attribute, ResolvedAttr, ResourceType};

/// A PATCH path, RFC 7644 §3.5.2: `PATH = attrPath / valuePath [subAttr]`.
///
/// | written                          | `attr`           | `filter`               | `sub`     |
/// |----------------------------------|------------------|------------------------|-----------|
/// | `members`                        | `members`        | `None`                 | `None`    |
/// | `name.givenName`                 | `name.givenName` | `None`                 | `None`    |
/// | `members[value eq "1"]`          | `members`        | `members.value eq "1"` | `None`    |
/// | `emails[type eq "work"].value`   | `emails`         | `emails.type eq "work"`| `value`   |
///
/// Unlike in a filter, a complex attribute without sub-attribute stays
/// whole: `members` is the whole member list, not `members.value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The top-level attribute, or `attr.sub` when written `name.givenName`.
    /// With a `filter`, always a top-level complex attribute (`sub` is `None`).
    pub attr: ResolvedAttr,
    /// The `[...]` value filter, with full paths like `members.value`;
    /// select elements with [`Filter::matches_element`].
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, e.g. `.value`.
    pub sub: Option<&'static Attribute>,
}

/// Parses a PATCH operation's `path` for resources of type `rt`.
///
/// Errors convert with [`FilterError::into_path_error`] (400 `invalidPath`);
/// [`FilterError::is_unknown_attribute`] tells paths into attributes
/// scimitar does not know, which PATCH ignores.
pub fn parse_path(rt: &'static ResourceType, input: &str) -> Result<Path, FilterError> {
    let mut p = Parser::new(rt, input)?;
    p.cur.skip_ws();
    let Some((offset, word)) = p.cur.word() else {
        return Err(p.cur.unexpected("an attribute path"));
    };
    let attr = p.resolve(Scope::Resource, offset, word)?;
    p.cur.skip_ws();
    let mut path = Path {
        attr,
        filter: None,
        sub: None,
    };
    if p.cur.peek() == Some(b'[') {
        path.filter = Some(p.value_filter(Scope::Resource, attr, offset)?);
        if p.cur.eat(b'.') {
            let Some((sub_offset, sub_word)) = p.cur.word() else {
                return Err(p.cur.unexpected("a sub-attribute name after '.'"));
            };
            path.sub = Some(
                p.resolve(Scope::Element(attr), sub_offset, sub_word)?
                    .target(),
            );
        }
    }
    p.cur.skip_ws();
    if p.cur.peek().is_some() {
        let expected = match path.filter {
            None => "'[' or the end of the path",
            Some(_) => "'.' and a sub-attribute, or the end of the path",
        };
        return Err(p.cur.unexpected(expected));
    }
    Ok(path)
}
