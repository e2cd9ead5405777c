//! Canonical text for filters and paths: the inverse of the parser, so
//! `parse(rt, &f.to_string()) == Ok(f)` for every parsed `f`. Logs, error
//! details and tests show one spelling per meaning: operators and keywords
//! in lower case, canonical attribute names (URN-qualified only for
//! extension attributes), strings JSON-escaped, date-times in UTC with
//! microseconds, and only the parentheses precedence needs.

use std::fmt::{self, Display, Formatter, Write};

use super::path::Path;
use super::{CompValue, CompareOp, Filter};
use crate::datetime;
use crate::schema::{Origin, ResolvedAttr};

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for CompValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::String(s) => write_json_string(f, s),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Boolean(b) => write!(f, "{b}"),
            CompValue::DateTime(micros) => write_json_string(f, &datetime::format(*micros)),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// A JSON string literal (RFC 8259 §7): quotes, backslashes and control
/// characters escaped, everything else as is.
fn write_json_string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if c < ' ' => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Binding strength: `or` < `and` < everything else.
fn precedence(filter: &Filter) -> u8 {
    match filter {
        Filter::Or(..) => 1,
        Filter::And(..) => 2,
        _ => 3,
    }
}

/// Writes `attr` as a top-level path, or (inside a value filter) as the bare
/// sub-attribute name.
fn write_attr(f: &mut Formatter<'_>, attr: &ResolvedAttr, in_value_filter: bool) -> fmt::Result {
    if let (true, Some(sub)) = (in_value_filter, attr.sub) {
        return f.write_str(sub.name);
    }
    if let Origin::IgnoredExtension(schema) = attr.origin {
        write!(f, "{}:", schema.id)?;
    }
    f.write_str(attr.attr.name)?;
    if let Some(sub) = attr.sub {
        write!(f, ".{}", sub.name)?;
    }
    Ok(())
}

/// Writes `filter`, in parentheses if it binds looser than `min` needs.
/// The parser builds `and`/`or` chains leaning left, so a right operand of
/// the same operator needs parentheses to come back as the same tree.
fn write_filter(
    f: &mut Formatter<'_>,
    filter: &Filter,
    min: u8,
    in_value_filter: bool,
) -> fmt::Result {
    if precedence(filter) < min {
        f.write_char('(')?;
        write_filter(f, filter, 0, in_value_filter)?;
        return f.write_char(')');
    }
    match filter {
        Filter::Present(attr) => {
            write_attr(f, attr, in_value_filter)?;
            f.write_str(" pr")
        }
        Filter::Compare(attr, op, value) => {
            write_attr(f, attr, in_value_filter)?;
            write!(f, " {op} {value}")
        }
        Filter::And(left, right) => {
            write_filter(f, left, 2, in_value_filter)?;
            f.write_str(" and ")?;
            write_filter(f, right, 3, in_value_filter)
        }
        Filter::Or(left, right) => {
            write_filter(f, left, 1, in_value_filter)?;
            f.write_str(" or ")?;
            write_filter(f, right, 2, in_value_filter)
        }
        Filter::Not(inner) => {
            f.write_str("not (")?;
            write_filter(f, inner, 0, in_value_filter)?;
            f.write_char(')')
        }
        Filter::ValuePath(attr, inner) => {
            write_attr(f, attr, false)?;
            f.write_char('[')?;
            write_filter(f, inner, 0, true)?;
            f.write_char(']')
        }
    }
}

impl Display for Filter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_filter(f, self, 0, false)
    }
}

impl Display for Path {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_attr(f, &self.attr, false)?;
        if let Some(filter) = &self.filter {
            f.write_char('[')?;
            write_filter(f, filter, 0, true)?;
            f.write_char(']')?;
        }
        if let Some(sub) = self.sub {
            write!(f, ".{}", sub.name)?;
        }
        Ok(())
    }
}
