//! Grammar and evaluation of attribute types scimitar's own schemas do not
//! use yet (integer, decimal, binary, multi-valued simple attributes), on a
//! resource type made up for the purpose, so the parser and evaluator are
//! right before a schema needs them.

use serde_json::json;

use super::*;
use crate::schema::{Attribute, AttributeType, Mutability, Returned, Schema, Uniqueness};

const fn attribute(name: &'static str, ty: AttributeType, multi_valued: bool) -> Attribute {
    Attribute {
        name,
        ty,
        multi_valued,
        description: "",
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

static WIDGET_SCHEMA: Schema = Schema {
    id: "urn:example:widget",
    name: "Widget",
    description: "",
    attributes: &[
        attribute("count", AttributeType::Integer, false),
        attribute("ratio", AttributeType::Decimal, false),
        Attribute {
            case_exact: true,
            ..attribute("blob", AttributeType::Binary, false)
        },
        attribute("tags", AttributeType::String, true),
        Attribute {
            sub_attributes: &[attribute("width", AttributeType::Integer, false)],
            ..attribute("size", AttributeType::Complex, false)
        },
    ],
};

static WIDGET: ResourceType = ResourceType {
    id: "Widget",
    name: "Widget",
    endpoint: "/Widgets",
    description: "",
    schema: &WIDGET_SCHEMA,
    ignored_extensions: &[],
};

fn widget(input: &str) -> Filter {
    parse(&WIDGET, input).unwrap_or_else(|e| panic!("{input}: {e}"))
}

fn kind(input: &str) -> FilterErrorKind {
    parse(&WIDGET, input).expect_err(input).kind
}

#[test]
fn integers_keep_exact_values_and_refuse_fractions() {
    let Filter::Compare(_, CompareOp::Gt, CompValue::Number(n)) =
        widget("count gt 18446744073709551615")
    else {
        panic!()
    };
    assert_eq!(n.as_u64(), Some(u64::MAX));
    assert!(matches!(
        kind("count eq 1.5"),
        FilterErrorKind::TypeMismatch { .. }
    ));
    assert!(matches!(
        kind("count eq \"1\""),
        FilterErrorKind::TypeMismatch { .. }
    ));
    assert!(matches!(
        kind("count co 1"),
        FilterErrorKind::OperatorNotSupported { .. }
    ));
}

#[test]
fn decimals_take_any_json_number() {
    for input in [
        "ratio eq 1",
        "ratio lt -0.5",
        "ratio ge 2.5e-3",
        "ratio le 1E2",
    ] {
        let f = widget(input);
        assert_eq!(widget(&f.to_string()), f, "{input}");
    }
    assert!(matches!(
        kind("ratio eq 1e400"),
        FilterErrorKind::InvalidNumber { .. }
    ));
}

#[test]
fn binary_allows_equality_and_substrings_but_not_ordering() {
    widget(r#"blob eq "AAEC""#);
    widget(r#"blob sw "AA""#);
    assert!(matches!(
        kind(r#"blob gt "AA""#),
        FilterErrorKind::OperatorNotSupported { .. }
    ));
}

#[test]
fn complex_without_value_names_an_example_sub_attribute() {
    assert_eq!(
        kind("size eq 3"),
        FilterErrorKind::ComplexWithoutValue {
            name: "size".into(),
            example: "width"
        }
    );
    widget("size.width ge 3");
}

#[test]
fn numbers_compare_numerically_across_representations() {
    let doc = json!({"count": 10, "ratio": 0.5});
    for (input, expected) in [
        ("count eq 10", true),
        ("count gt 9", true),
        ("count gt 10", false),
        ("count ge 10", true),
        ("count lt 18446744073709551615", true),
        ("count gt -1", true),
        ("ratio gt 0.25", true),
        ("ratio lt 1", true),
        ("ratio eq 0.5", true),
        ("ratio eq 5e-1", true),
        ("ratio ne 0.5", false),
    ] {
        assert_eq!(widget(input).matches(&doc), expected, "{input}");
    }
    // A number stored as a string is not a number.
    assert!(!widget("count eq 10").matches(&json!({"count": "10"})));
}

#[test]
fn multi_valued_simple_attributes_match_any_value() {
    let doc = json!({"tags": ["red", "Green"]});
    assert!(widget(r#"tags eq "green""#).matches(&doc));
    assert!(widget(r#"tags sw "r""#).matches(&doc));
    assert!(!widget(r#"tags eq "blue""#).matches(&doc));
    assert!(widget("tags pr").matches(&doc));
    assert!(!widget("tags pr").matches(&json!({"tags": []})));
    assert!(!widget("tags pr").matches(&json!({"tags": ["", null]})));
}

#[test]
fn case_exact_strings_compare_exactly() {
    let doc = json!({"blob": "AbC="});
    assert!(widget(r#"blob eq "AbC=""#).matches(&doc));
    assert!(!widget(r#"blob eq "abc=""#).matches(&doc));
}

#[test]
fn single_valued_complex_value_path_is_one_element() {
    let f = widget("size[width gt 2]");
    assert!(f.matches(&json!({"size": {"width": 3}})));
    assert!(!f.matches(&json!({"size": {"width": 2}})));
    assert!(!f.matches(&json!({})));
}
