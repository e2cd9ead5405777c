//! Filter and path errors as data, so the client's 400 can point at the
//! character that is wrong and the PATCH engine can tell "unknown attribute"
//! (ignored, like unknown attributes in a body) from "malformed" (refused).

use super::{CompareOp, MAX_FILTER_LEN};
use crate::ScimError;

/// Why a filter or PATCH path was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at position {offset}: {}", excerpt(&self.input, self.offset))]
pub struct FilterError {
    /// The input as given, cut at [`MAX_FILTER_LEN`] bytes.
    pub input: String,
    /// Byte offset into `input` of the offending character (`input.len()`
    /// when the input ended too early). Always on a char boundary.
    pub offset: usize,
    /// What is wrong there.
    pub kind: FilterErrorKind,
}

/// What is wrong. Each variant's text is written for the person reading
/// the 400 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterErrorKind {
    /// The input is longer than [`MAX_FILTER_LEN`] bytes.
    #[error("longer than the maximum of {max} bytes")]
    TooLong {
        /// The limit, in bytes.
        max: usize,
    },
    /// Parentheses, `not (...)` and value filters nest deeper than [`super::MAX_DEPTH`].
    #[error("nested deeper than the maximum of {max} levels")]
    TooDeep {
        /// The limit, in levels.
        max: usize,
    },
    /// More than [`super::MAX_TERMS`] attribute expressions.
    #[error("more than the maximum of {max} attribute expressions")]
    TooManyTerms {
        /// The limit, in attribute expressions.
        max: usize,
    },
    /// The input ended where the grammar needs more.
    #[error("unexpected end, expected {expected}")]
    UnexpectedEnd {
        /// What the grammar needs next, in words.
        expected: &'static str,
    },
    /// A word or character the grammar does not allow here.
    #[error("unexpected '{found}', expected {expected}")]
    Unexpected {
        /// The word or character found, shortened if long.
        found: String,
        /// What the grammar allows here, in words.
        expected: &'static str,
    },
    /// The path names no attribute of the resource type (nor of a schema
    /// extension it recognises).
    #[error("unknown attribute '{name}'")]
    UnknownAttribute {
        /// The name as written (inside a value filter, after the outer
        /// attribute's name), shortened if long.
        name: String,
    },
    /// A value filter `[...]` on an attribute that is not a top-level
    /// complex attribute, or nested inside another value filter.
    #[error("a value filter '[...]' needs a top-level complex attribute, '{name}' is not one")]
    NotComplex {
        /// The attribute before the `[`, dotted.
        name: String,
    },
    /// A complex attribute compared without a sub-attribute, and it has no
    /// `value` sub-attribute to stand for it.
    #[error(
        "complex attribute '{name}' has no 'value'; compare a sub-attribute such as '{name}.{example}'"
    )]
    ComplexWithoutValue {
        /// The complex attribute.
        name: String,
        /// One of its sub-attributes, to suggest in the message.
        example: &'static str,
    },
    /// An operator the attribute's type does not support (`active gt true`,
    /// `meta.created co "2020"`).
    #[error("operator '{op}' is not supported on {ty} attribute '{name}'")]
    OperatorNotSupported {
        /// The operator.
        op: CompareOp,
        /// The attribute, dotted (`meta.created`).
        name: String,
        /// The attribute's type, as RFC 7643 names it (`dateTime`).
        ty: &'static str,
    },
    /// `null` with an operator other than `eq` and `ne`.
    #[error("operator '{op}' cannot compare with null; use 'eq null', 'ne null' or 'pr'")]
    NullNotAllowed {
        /// The operator.
        op: CompareOp,
    },
    /// A value whose type does not fit the attribute (`title eq 5`,
    /// `active eq "yes"`).
    #[error("attribute '{name}' takes {expected}")]
    TypeMismatch {
        /// The attribute, dotted.
        name: String,
        /// The kind of value it takes, in words (`a string`).
        expected: &'static str,
    },
    /// A string on a dateTime attribute that is not an RFC 3339 date-time.
    #[error("'{value}' is not a date-time like \"2011-05-13T04:42:34Z\"")]
    InvalidDateTime {
        /// The string, shortened if long.
        value: String,
    },
    /// A string literal without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// A bad escape in a string literal.
    #[error("invalid escape in string: {reason}")]
    InvalidEscape {
        /// What is wrong with the escape.
        reason: &'static str,
    },
    /// A malformed or out-of-range number.
    #[error("invalid number: {reason}")]
    InvalidNumber {
        /// What is wrong with the number.
        reason: &'static str,
    },
}

impl FilterError {
    pub(super) fn new(input: &str, offset: usize, kind: FilterErrorKind) -> Self {
        let input = &input[..floor_char_boundary(input, MAX_FILTER_LEN)];
        let offset = floor_char_boundary(input, offset);
        FilterError {
            input: input.to_owned(),
            offset,
            kind,
        }
    }

    /// The path or filter names an attribute scimitar does not know. The
    /// PATCH engine ignores such operations, as it ignores unknown attributes
    /// in a body (Entra sends paths into extensions it was configured with).
    pub fn is_unknown_attribute(&self) -> bool {
        matches!(self.kind, FilterErrorKind::UnknownAttribute { .. })
    }

    /// The 400 `invalidPath` for an error in a PATCH operation's `path`.
    pub fn into_path_error(self) -> ScimError {
        ScimError::invalid_path(self.detail("path"))
    }

    fn detail(&self, what: &str) -> String {
        format!(
            "{} at position {} in {what}: {}",
            self.kind,
            self.offset,
            excerpt(&self.input, self.offset)
        )
    }
}

/// The 400 `invalidFilter` for an error in a `filter` parameter.
impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::invalid_filter(e.detail("filter"))
    }
}

/// Up to this many bytes of the input are echoed in a detail.
const EXCERPT_LEN: usize = 200;

/// The input, or a window of it around `offset` when it is long, so a
/// detail stays readable and a 4 KiB filter is not echoed whole.
fn excerpt(input: &str, offset: usize) -> String {
    if input.len() <= EXCERPT_LEN {
        return input.to_owned();
    }
    let start = floor_char_boundary(input, offset.saturating_sub(EXCERPT_LEN / 2));
    let end = floor_char_boundary(input, start + EXCERPT_LEN);
    let mut out = String::with_capacity(EXCERPT_LEN + 8);
    if start > 0 {
        out.push('…');
    }
    out.push_str(&input[start..end]);
    if end < input.len() {
        out.push('…');
    }
    out
}

/// The largest char boundary of `s` at or below `at` (`str::floor_char_boundary`
/// is newer than our minimum Rust version).
pub(super) fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// `s` cut to at most `max` bytes (on a char boundary), for echoing words
/// and values in messages.
pub(super) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        s.to_owned()
    } else {
        format!("{}…", &s[..floor_char_boundary(s, max)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_land_on_char_boundaries() {
        let e = FilterError::new("é", 1, FilterErrorKind::UnterminatedString);
        assert_eq!(e.offset, 0);
        let e = FilterError::new("ab", 7, FilterErrorKind::UnterminatedString);
        assert_eq!(e.offset, 2);
    }

    #[test]
    fn oversized_input_is_stored_cut() {
        let long = "é".repeat(MAX_FILTER_LEN);
        let e = FilterError::new(&long, MAX_FILTER_LEN, FilterErrorKind::TooLong { max: 1 });
        assert_eq!(e.input.len(), MAX_FILTER_LEN);
        assert!(e.input.is_char_boundary(e.offset));
    }

    #[test]
    fn long_inputs_are_echoed_as_a_window_around_the_offset() {
        let input = format!(
            "{}userName eq \"x\" bogus{}",
            "a".repeat(500),
            "b".repeat(500)
        );
        let at = input.find("bogus").unwrap();
        let shown = excerpt(&input, at);
        assert!(shown.contains("bogus"), "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert!(shown.len() < EXCERPT_LEN + 10);
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("ééé", 3), "é…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
