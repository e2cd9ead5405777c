//! Recursive descent over RFC 7644's filter grammar, resolving names and
//! coercing values as it goes, so an error can name the exact offset.
//!
//! ```text
//! or_expr  = and_expr *("or" and_expr)
//! and_expr = unary *("and" unary)
//! unary    = "not" "(" or_expr ")" / "(" or_expr ")" / attr_expr
//! attr_expr = attrPath "[" or_expr "]"          ; value path, not nested
//!             [ "." subAttr ( "pr" / compareOp compValue ) ]
//!           / attrPath "pr" / attrPath compareOp compValue
//! ```
//!
//! The optional tail after a value path is not in RFC 7644's filter ABNF,
//! which has it only in PATCH paths. Entra sends it when emails is a
//! matching attribute (`emails[type eq "work"].value eq "a@b.c"`), and
//! Microsoft's SCIM guide asks service providers to accept it. It means the
//! same as the RFC's `emails[type eq "work" and value eq "a@b.c"]`, and
//! that is the AST it becomes.
//!
//! Recursion only happens through `(`, `not (` and `[`, each of which counts
//! against [`MAX_DEPTH`] before descending.

use super::error::{FilterError, FilterErrorKind as Kind, clip};
use super::scan::{Cursor, Literal};
use super::{CompValue, CompareOp, Filter, MAX_DEPTH, MAX_FILTER_LEN, MAX_TERMS};
use crate::datetime;
use crate::schema::{AttributeType, ResolvedAttr, ResourceType};

/// Where attribute names are resolved: at the resource's top level, or
/// inside a value filter as sub-attributes of the value path's attribute.
#[derive(Clone, Copy)]
pub(super) enum Scope {
    Resource,
    Element(ResolvedAttr),
}

pub(super) struct Parser<'i> {
    rt: &'static ResourceType,
    pub(super) cur: Cursor<'i>,
    depth: usize,
    terms: usize,
}

pub(super) fn filter(rt: &'static ResourceType, input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(rt, input)?;
    let f = p.or_expr(Scope::Resource)?;
    p.cur.skip_ws();
    if p.cur.peek().is_some() {
        return Err(p.cur.unexpected("'and', 'or' or the end of the filter"));
    }
    Ok(f)
}

impl<'i> Parser<'i> {
    /// A parser over `input`, refusing oversized input before reading it.
    pub(super) fn new(rt: &'static ResourceType, input: &'i str) -> Result<Self, FilterError> {
        let cur = Cursor::new(input);
        if input.len() > MAX_FILTER_LEN {
            return Err(cur.error(
                MAX_FILTER_LEN,
                Kind::TooLong {
                    max: MAX_FILTER_LEN,
                },
            ));
        }
        Ok(Parser {
            rt,
            cur,
            depth: 0,
            terms: 0,
        })
    }

    fn or_expr(&mut self, scope: Scope) -> Result<Filter, FilterError> {
        let mut left = self.and_expr(scope)?;
        while self.cur.keyword("or") {
            let right = self.and_expr(scope)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, scope: Scope) -> Result<Filter, FilterError> {
        let mut left = self.unary(scope)?;
        while self.cur.keyword("and") {
            let right = self.unary(scope)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, scope: Scope) -> Result<Filter, FilterError> {
        const EXPECTED: &str = "an attribute path, '(' or 'not'";
        self.cur.skip_ws();
        if self.cur.peek() == Some(b'(') {
            return self.group(scope);
        }
        let Some((offset, word)) = self.cur.word() else {
            return Err(self.cur.unexpected(EXPECTED));
        };
        if word.eq_ignore_ascii_case("not") {
            self.cur.skip_ws();
            if self.cur.peek() != Some(b'(') {
                return Err(self.cur.unexpected("'(' after 'not'"));
            }
            return Ok(Filter::Not(Box::new(self.group(scope)?)));
        }
        self.attr_expr(scope, offset, word)
    }

    /// `"(" or_expr ")"` with the cursor on the `(`.
    fn group(&mut self, scope: Scope) -> Result<Filter, FilterError> {
        self.descend()?;
        self.cur.eat(b'(');
        let inner = self.or_expr(scope)?;
        self.close(b')', "'and', 'or' or ')'")?;
        self.depth -= 1;
        Ok(inner)
    }

    /// Counts one level of nesting at the cursor, refusing one too many.
    fn descend(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self
                .cur
                .error(self.cur.pos(), Kind::TooDeep { max: MAX_DEPTH }));
        }
        Ok(())
    }

    fn close(&mut self, closing: u8, expected: &'static str) -> Result<(), FilterError> {
        self.cur.skip_ws();
        if self.cur.eat(closing) {
            Ok(())
        } else {
            Err(self.cur.unexpected(expected))
        }
    }

    /// `"[" or_expr "]"` with the cursor on the `[`, for the value path of
    /// `attr` (written at `offset`).
    pub(super) fn value_filter(
        &mut self,
        scope: Scope,
        attr: ResolvedAttr,
        offset: usize,
    ) -> Result<Filter, FilterError> {
        let nested = matches!(scope, Scope::Element(_));
        if nested || attr.sub.is_some() || attr.attr.ty != AttributeType::Complex {
            let name = match scope {
                Scope::Element(outer) => format!("{}.{}", outer.attr.name, attr.target().name),
                Scope::Resource => attr.dotted(),
            };
            return Err(self.cur.error(offset, Kind::NotComplex { name }));
        }
        self.descend()?;
        self.cur.eat(b'[');
        let inner = self.or_expr(Scope::Element(attr))?;
        self.close(b']', "'and', 'or' or ']'")?;
        self.depth -= 1;
        Ok(inner)
    }

    fn attr_expr(
        &mut self,
        scope: Scope,
        offset: usize,
        word: &str,
    ) -> Result<Filter, FilterError> {
        let attr = self.resolve(scope, offset, word)?;
        self.cur.skip_ws();
        if self.cur.peek() == Some(b'[') {
            let inner = self.value_filter(scope, attr, offset)?;
            // No space may separate `]` and `.`, as in a PATCH path.
            if self.cur.eat(b'.') {
                let Some((sub_offset, sub_word)) = self.cur.word() else {
                    return Err(self.cur.unexpected("a sub-attribute name after '.'"));
                };
                let sub = self.resolve(Scope::Element(attr), sub_offset, sub_word)?;
                let condition = self.condition(sub, sub_offset)?;
                let both = Filter::And(Box::new(inner), Box::new(condition));
                return Ok(Filter::ValuePath(attr, Box::new(both)));
            }
            return Ok(Filter::ValuePath(attr, Box::new(inner)));
        }
        self.condition(attr, offset)
    }

    /// `"pr"` or `compareOp compValue` after the path of `attr`, written
    /// at `offset`.
    fn condition(&mut self, attr: ResolvedAttr, offset: usize) -> Result<Filter, FilterError> {
        self.cur.skip_ws();
        let Some((op_offset, op_word)) = self.cur.word() else {
            return Err(self
                .cur
                .unexpected("an operator (eq ne co sw ew gt ge lt le pr) or '['"));
        };
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(self
                .cur
                .error(offset, Kind::TooManyTerms { max: MAX_TERMS }));
        }
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(attr));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            let found = clip(op_word, 40);
            let expected = "an operator (eq ne co sw ew gt ge lt le pr)";
            return Err(self
                .cur
                .error(op_offset, Kind::Unexpected { found, expected }));
        };
        let attr = self.value_sub_attribute(attr, offset)?;
        check_operator(attr, op).map_err(|kind| self.cur.error(op_offset, kind))?;
        self.cur.skip_ws();
        let value_offset = self.cur.pos();
        let literal = self.cur.literal()?;
        let value = coerce(attr, op, literal).map_err(|kind| self.cur.error(value_offset, kind))?;
        Ok(Filter::Compare(attr, op, value))
    }

    /// Resolves an attribute path written at `offset`.
    pub(super) fn resolve(
        &self,
        scope: Scope,
        offset: usize,
        word: &str,
    ) -> Result<ResolvedAttr, FilterError> {
        let resolved = match scope {
            Scope::Resource => self.rt.resolve(word),
            Scope::Element(outer) => outer.attr.sub_attribute(word).map(|sub| ResolvedAttr {
                sub: Some(sub),
                ..outer
            }),
        };
        resolved.ok_or_else(|| {
            let name = match scope {
                Scope::Resource => clip(word, 200),
                Scope::Element(outer) => format!("{}.{}", outer.attr.name, clip(word, 100)),
            };
            self.cur.error(offset, Kind::UnknownAttribute { name })
        })
    }

    /// A complex attribute compared without a sub-attribute stands for its
    /// `value` sub-attribute (RFC 7644 §3.4.2.2: `emails co "x"`).
    fn value_sub_attribute(
        &self,
        attr: ResolvedAttr,
        offset: usize,
    ) -> Result<ResolvedAttr, FilterError> {
        if attr.sub.is_some() || attr.attr.ty != AttributeType::Complex {
            return Ok(attr);
        }
        match attr.attr.sub_attribute("value") {
            Some(value) => Ok(ResolvedAttr {
                sub: Some(value),
                ..attr
            }),
            None => {
                let name = attr.attr.name.to_owned();
                let example = attr.attr.sub_attributes.first().map_or("value", |s| s.name);
                Err(self
                    .cur
                    .error(offset, Kind::ComplexWithoutValue { name, example }))
            }
        }
    }
}

/// RFC 7644 §3.4.2.2: ordering is for ordered types (never boolean or
/// binary); `co`/`sw`/`ew` are substring tests, so for string-like types.
fn check_operator(attr: ResolvedAttr, op: CompareOp) -> Result<(), Kind> {
    use AttributeType as T;
    let ty = attr.target().ty;
    let supported = if op.is_ordering() {
        matches!(
            ty,
            T::String | T::Reference | T::DateTime | T::Integer | T::Decimal
        )
    } else if op.is_substring() {
        matches!(ty, T::String | T::Reference | T::Binary)
    } else {
        ty != T::Complex
    };
    if supported {
        Ok(())
    } else {
        Err(Kind::OperatorNotSupported {
            op,
            name: attr.dotted(),
            ty: type_name(ty),
        })
    }
}

/// Turns a literal into a value of the attribute's type, or says why not.
fn coerce(attr: ResolvedAttr, op: CompareOp, literal: Literal) -> Result<CompValue, Kind> {
    use AttributeType as T;
    let ty = attr.target().ty;
    let mismatch = || Kind::TypeMismatch {
        name: attr.dotted(),
        expected: match ty {
            T::String | T::Reference | T::Binary => "a string",
            T::Boolean => "true or false",
            T::DateTime => "a date-time string like \"2011-05-13T04:42:34Z\"",
            T::Integer => "an integer",
            T::Decimal => "a number",
            T::Complex => "a sub-attribute",
        },
    };
    Ok(match (ty, literal) {
        (_, Literal::Null) if matches!(op, CompareOp::Eq | CompareOp::Ne) => CompValue::Null,
        (_, Literal::Null) => return Err(Kind::NullNotAllowed { op }),
        (T::String | T::Reference | T::Binary, Literal::String(s)) => CompValue::String(s),
        (T::Boolean, Literal::Bool(b)) => CompValue::Boolean(b),
        // Entra sends booleans as strings ("True", "False").
        (T::Boolean, Literal::String(s)) if s.eq_ignore_ascii_case("true") => {
            CompValue::Boolean(true)
        }
        (T::Boolean, Literal::String(s)) if s.eq_ignore_ascii_case("false") => {
            CompValue::Boolean(false)
        }
        (T::DateTime, Literal::String(s)) => match datetime::parse(&s) {
            Some(micros) => CompValue::DateTime(micros),
            None => {
                return Err(Kind::InvalidDateTime {
                    value: clip(&s, 64),
                });
            }
        },
        (T::Integer, Literal::Number(n)) if n.is_i64() || n.is_u64() => CompValue::Number(n),
        (T::Decimal, Literal::Number(n)) => CompValue::Number(n),
        _ => return Err(mismatch()),
    })
}

/// RFC 7643 §7's name of a type, for messages.
fn type_name(ty: AttributeType) -> &'static str {
    match ty {
        AttributeType::String => "string",
        AttributeType::Boolean => "boolean",
        AttributeType::Decimal => "decimal",
        AttributeType::Integer => "integer",
        AttributeType::DateTime => "dateTime",
        AttributeType::Binary => "binary",
        AttributeType::Reference => "reference",
        AttributeType::Complex => "complex",
    }
}
