//! The lexical layer: a cursor over the input that reads one token at a
//! time, on demand. There is no token list, so memory stays constant and a
//! long input is never copied.
//!
//! Invariant: `pos` is always on a char boundary. It only moves past ASCII
//! bytes, or to positions `str::find` returned, so slicing never panics.

use super::error::{FilterError, FilterErrorKind, clip};
use serde_json::Number;

/// A value literal as written, before coercion to an attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    String(String),
    Number(Number),
    Bool(bool),
    Null,
}

pub(super) struct Cursor<'i> {
    input: &'i str,
    pos: usize,
}

/// Bytes that may start a word: ATTRNAME starts with ALPHA; `$ref` with `$`.
fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'$'
}

/// Bytes a word may contain: ATTRNAME's nameChar, plus `.` for sub-attributes
/// and `:` for URN prefixes (`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName`)
/// and `$` for `$ref`. Which of them form a valid path is schema resolution's call.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'$')
}

impl<'i> Cursor<'i> {
    pub(super) fn new(input: &'i str) -> Self {
        Cursor { input, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn error(&self, offset: usize, kind: FilterErrorKind) -> FilterError {
        FilterError::new(self.input, offset, kind)
    }

    /// Skips spaces, tabs and line breaks: clients are lenient about
    /// whitespace, so are we.
    pub(super) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    /// Consumes `b` (an ASCII byte) if it is next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        debug_assert!(b.is_ascii());
        let next = self.peek() == Some(b);
        if next {
            self.pos += 1;
        }
        next
    }

    pub(super) fn at_word(&self) -> bool {
        self.peek().is_some_and(is_word_start)
    }

    /// Reads a word (attribute path, operator or keyword) at the cursor:
    /// its offset and text. `None`, without moving, if no word starts here.
    pub(super) fn word(&mut self) -> Option<(usize, &'i str)> {
        if !self.at_word() {
            return None;
        }
        let start = self.pos;
        let len = self.input.as_bytes()[start..]
            .iter()
            .take_while(|&&b| is_word_byte(b))
            .count();
        self.pos += len;
        Some((start, &self.input[start..self.pos]))
    }

    /// Consumes the keyword `kw` (after whitespace) if the next word is
    /// exactly it, ignoring case; `order` is not `or`.
    pub(super) fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let save = self.pos;
        match self.word() {
            Some((_, w)) if w.eq_ignore_ascii_case(kw) => true,
            _ => {
                self.pos = save;
                false
            }
        }
    }

    /// The error for what stands at the cursor when the grammar wanted
    /// `expected`: the word or character found, or the end of input.
    pub(super) fn unexpected(&self, expected: &'static str) -> FilterError {
        let rest = self.input.get(self.pos..).unwrap_or("");
        let found = if rest.is_empty() {
            return self.error(
                self.input.len(),
                FilterErrorKind::UnexpectedEnd { expected },
            );
        } else if self.at_word() {
            let len = rest.bytes().take_while(|&b| is_word_byte(b)).count();
            clip(&rest[..len], 40)
        } else {
            rest.chars().next().map(String::from).unwrap_or_default()
        };
        self.error(self.pos, FilterErrorKind::Unexpected { found, expected })
    }

    /// Reads a value literal: a JSON string, a JSON number, or `true`,
    /// `false`, `null` in any letter case.
    pub(super) fn literal(&mut self) -> Result<Literal, FilterError> {
        const EXPECTED: &str = "a value (a \"string\", a number, true, false or null)";
        match self.peek() {
            Some(b'"') => self.string().map(Literal::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Literal::Number),
            Some(_) if self.at_word() => {
                let save = self.pos;
                let (_, w) = self.word().unwrap_or_default();
                if w.eq_ignore_ascii_case("true") {
                    Ok(Literal::Bool(true))
                } else if w.eq_ignore_ascii_case("false") {
                    Ok(Literal::Bool(false))
                } else if w.eq_ignore_ascii_case("null") {
                    Ok(Literal::Null)
                } else {
                    self.pos = save;
                    Err(self.unexpected(EXPECTED))
                }
            }
            _ => Err(self.unexpected(EXPECTED)),
        }
    }

    /// Reads a JSON string (RFC 8259 §7) starting at the opening quote.
    /// Raw control characters are tolerated (they are escaped when printed).
    fn string(&mut self) -> Result<String, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.input[self.pos..];
            let Some(i) = rest.find(['"', '\\']) else {
                return Err(self.error(open, FilterErrorKind::UnterminatedString));
            };
            out.push_str(&rest[..i]);
            self.pos += i;
            if self.eat(b'"') {
                return Ok(out);
            }
            out.push(self.escape()?);
        }
    }

    /// Reads one escape sequence at the backslash under the cursor.
    fn escape(&mut self) -> Result<char, FilterError> {
        let at = self.pos;
        let bad = |this: &Self, reason| this.error(at, FilterErrorKind::InvalidEscape { reason });
        let c = match self.input.as_bytes().get(at + 1) {
            None => return Err(self.error(at, FilterErrorKind::UnterminatedString)),
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let Some(hi) = self.hex4(at + 2) else {
                    return Err(bad(self, "\\u needs four hex digits"));
                };
                self.pos = at + 6;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        let lo = match self.input.get(self.pos..self.pos + 2) {
                            Some("\\u") => self.hex4(self.pos + 2),
                            _ => None,
                        };
                        match lo {
                            Some(lo @ 0xDC00..=0xDFFF) => {
                                self.pos += 6;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            }
                            _ => return Err(bad(self, "high surrogate without a low surrogate")),
                        }
                    }
                    0xDC00..=0xDFFF => {
                        return Err(bad(self, "low surrogate without a high surrogate"));
                    }
                    _ => hi,
                };
                return char::from_u32(code).ok_or_else(|| bad(self, "not a Unicode scalar value"));
            }
            Some(_) => {
                return Err(bad(
                    self,
                    "only \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX are allowed",
                ));
            }
        };
        self.pos = at + 2;
        Ok(c)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.input.get(at..at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    }

    /// Reads a JSON number (RFC 8259 §6), kept exact as a `serde_json::Number`.
    fn number(&mut self) -> Result<Number, FilterError> {
        let start = self.pos;
        let fail =
            |this: &Self, reason| this.error(this.pos, FilterErrorKind::InvalidNumber { reason });
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(fail(self, "expected a digit")),
        }
        if self.eat(b'.') {
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(fail(self, "expected a digit after '.'"));
            }
            self.digits();
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(fail(self, "expected a digit in the exponent"));
            }
            self.digits();
        }
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(fail(self, "leading zeros are not allowed"));
        }
        self.input[start..self.pos].parse::<Number>().map_err(|_| {
            self.error(
                start,
                FilterErrorKind::InvalidNumber {
                    reason: "out of range",
                },
            )
        })
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(input: &str) -> Result<Literal, FilterErrorKind> {
        let mut c = Cursor::new(input);
        let out = c.literal().map_err(|e| e.kind)?;
        assert_eq!(c.pos(), input.len(), "literal {input:?} not fully consumed");
        Ok(out)
    }

    fn string(s: &str) -> Literal {
        Literal::String(s.to_owned())
    }

    #[test]
    fn strings_decode_every_json_escape() {
        assert_eq!(lit(r#""a\"b\\c\/d""#), Ok(string("a\"b\\c/d")));
        assert_eq!(lit(r#""\b\f\n\r\t""#), Ok(string("\u{8}\u{c}\n\r\t")));
        assert_eq!(lit(r#""\u00e9\u00E9""#), Ok(string("éé")));
        assert_eq!(lit(r#""\ud83d\ude00""#), Ok(string("😀")));
        assert_eq!(lit(r#""O'Malley""#), Ok(string("O'Malley")));
        assert_eq!(lit(r#""""#), Ok(string("")));
        assert_eq!(lit("\"raw\ttab ü\""), Ok(string("raw\ttab ü")));
    }

    #[test]
    fn broken_strings_are_refused_where_they_break() {
        let err = |s: &str| Cursor::new(s).literal().unwrap_err();
        let e = err(r#""abc"#);
        assert_eq!((e.offset, e.kind), (0, FilterErrorKind::UnterminatedString));
        let e = err(r#""ab\"#);
        assert_eq!((e.offset, e.kind), (3, FilterErrorKind::UnterminatedString));
        for bad in [
            r#""a\x""#,
            r#""a\u12""#,
            r#""a\u12G4""#,
            r#""a\ud800""#,
            r#""a\ud800\u0041""#,
            r#""a\udc00""#,
        ] {
            let e = err(bad);
            assert_eq!(e.offset, 2, "{bad}");
            assert!(
                matches!(e.kind, FilterErrorKind::InvalidEscape { .. }),
                "{bad}: {:?}",
                e.kind
            );
        }
    }

    #[test]
    fn numbers_follow_json_syntax_and_stay_exact() {
        let num = |s: &str| match lit(s) {
            Ok(Literal::Number(n)) => n,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(num("0").as_u64(), Some(0));
        assert_eq!(num("-12").as_i64(), Some(-12));
        assert_eq!(num("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(num("1.5e3").as_f64(), Some(1500.0));
        assert_eq!(num("2E-2").as_f64(), Some(0.02));
        assert_eq!(num("-0.25").as_f64(), Some(-0.25));
        for bad in ["01", "-", "1.", "1e", "1e+", ".5", "-a", "1e400"] {
            assert!(
                matches!(
                    lit(bad),
                    Err(FilterErrorKind::InvalidNumber { .. })
                        | Err(FilterErrorKind::Unexpected { .. })
                ),
                "{bad}: {:?}",
                lit(bad)
            );
        }
    }

    #[test]
    fn keywords_ignore_case_but_not_word_boundaries() {
        assert_eq!(lit("TRUE"), Ok(Literal::Bool(true)));
        assert_eq!(lit("False"), Ok(Literal::Bool(false)));
        assert_eq!(lit("nUlL"), Ok(Literal::Null));
        assert!(matches!(
            lit("truely"),
            Err(FilterErrorKind::Unexpected { .. })
        ));
        let mut c = Cursor::new("  order");
        assert!(!c.keyword("or"));
        assert_eq!(c.word(), Some((2, "order")));
        let mut c = Cursor::new("\t OR(");
        assert!(c.keyword("or"));
        assert_eq!(c.peek(), Some(b'('));
    }

    #[test]
    fn words_span_urns_sub_attributes_and_refs() {
        let mut c = Cursor::new("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName[x");
        assert_eq!(
            c.word(),
            Some((
                0,
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"
            ))
        );
        assert_eq!(c.peek(), Some(b'['));
        assert_eq!(Cursor::new("$ref eq").word(), Some((0, "$ref")));
        assert_eq!(Cursor::new("9lives").word(), None);
    }

    #[test]
    fn unexpected_reports_the_whole_word_or_one_char() {
        let e = Cursor::new("bogus rest").unexpected("x");
        assert_eq!(
            e.kind,
            FilterErrorKind::Unexpected {
                found: "bogus".into(),
                expected: "x"
            }
        );
        let e = Cursor::new("é").unexpected("x");
        assert_eq!(
            e.kind,
            FilterErrorKind::Unexpected {
                found: "é".into(),
                expected: "x"
            }
        );
        let e = Cursor::new("").unexpected("x");
        assert_eq!(e.kind, FilterErrorKind::UnexpectedEnd { expected: "x" });
    }
}
