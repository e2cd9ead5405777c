//! RFC 7644 §3.4.2.2 filters: a hand-written parser, a typed AST, a printer
//! and an in-memory evaluator.
//!
//! The AST is typed against the schema: every attribute path is resolved to
//! its static definition, so the storage layer can translate it to SQL
//! without knowing any SCIM names, and the evaluator knows `caseExact`.

// API contract (bodies are filled in by the parser/evaluator work):
//   pub fn parse(rt: &'static ResourceType, input: &str) -> Result<Filter, FilterError>
//   impl Display for Filter   (prints a filter that parses back to the same AST)
//   impl Filter { pub fn matches(&self, resource: &serde_json::Value) -> bool }

use crate::schema::ResolvedAttr;

/// A parsed, schema-typed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr pr`
    Present(ResolvedAttr),
    /// `attr op value`
    Compare(ResolvedAttr, CompareOp, CompValue),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[inner]`: `inner` holds full paths (`emails.type`, not `type`),
    /// all of them sub-attributes of `attr`, evaluated on one element.
    ValuePath(ResolvedAttr, Box<Filter>),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison value, already coerced to the attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    String(String),
    Number(serde_json::Number),
    Boolean(bool),
    /// Microseconds since the Unix epoch, UTC.
    DateTime(i64),
    Null,
}
