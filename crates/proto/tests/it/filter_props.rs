//! Properties of the filter module over generated input:
//! printing is the parser's inverse, the evaluator agrees with a naive
//! reference written independently below, and no input makes the parser
//! panic or report an offset that is not a char boundary.

use proptest::prelude::*;
use proptest::sample::select;
use scimitar_proto::datetime;
use scimitar_proto::filter::{self, CompValue, CompareOp, Filter, MAX_FILTER_LEN};
use scimitar_proto::schema::{
    AttributeType, COMMON_ATTRIBUTES, GROUP, Origin, ResolvedAttr, ResourceType, USER,
};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------
// Generating well-typed filters, the way the parser would build them.

/// Every attribute of `rt` a filter can name: top-level attributes, and
/// each sub-attribute of complex ones; core, common and extension.
fn attributes(rt: &'static ResourceType) -> Vec<ResolvedAttr> {
    let mut out = Vec::new();
    let mut add = |origin: Origin, attrs: &'static [scimitar_proto::schema::Attribute]| {
        for attr in attrs {
            out.push(ResolvedAttr {
                origin,
                attr,
                sub: None,
            });
            for sub in attr.sub_attributes {
                out.push(ResolvedAttr {
                    origin,
                    attr,
                    sub: Some(sub),
                });
            }
        }
    };
    add(Origin::Core, rt.schema.attributes);
    add(Origin::Core, COMMON_ATTRIBUTES);
    for ext in rt.ignored_extensions {
        add(Origin::IgnoredExtension(ext), ext.attributes);
    }
    out
}

fn ops_for(ty: AttributeType) -> Vec<CompareOp> {
    use CompareOp::*;
    match ty {
        AttributeType::String | AttributeType::Reference => CompareOp::ALL.to_vec(),
        AttributeType::Binary => vec![Eq, Ne, Co, Sw, Ew],
        AttributeType::Boolean => vec![Eq, Ne],
        AttributeType::DateTime | AttributeType::Integer | AttributeType::Decimal => {
            vec![Eq, Ne, Gt, Ge, Lt, Le]
        }
        AttributeType::Complex => vec![],
    }
}

/// Where generated values come from: anything for round trips, a small
/// vocabulary for evaluation (so values collide and comparisons matter).
#[derive(Clone, Copy)]
enum Values {
    Arbitrary,
    Small,
}

const SMALL_STRINGS: &[&str] = &["", "a", "A", "b", "ab", "Ab", "ba", "é", "É", "a@x"];
const SMALL_DATES: &[&str] = &[
    "2011-05-13T04:42:34Z",
    "2011-05-13T06:42:34+02:00",
    "2011-05-13T04:42:35Z",
    "2020-01-01T00:00:00.5Z",
];

fn string_value(values: Values) -> BoxedStrategy<String> {
    match values {
        Values::Arbitrary => proptest::collection::vec(any::<char>(), 0..8)
            .prop_map(String::from_iter)
            .boxed(),
        Values::Small => select(SMALL_STRINGS).prop_map(str::to_owned).boxed(),
    }
}

fn date_value(values: Values) -> BoxedStrategy<i64> {
    match values {
        Values::Arbitrary => {
            let min = datetime::parse("0000-01-01T00:00:00Z").unwrap();
            let max = datetime::parse("9999-12-31T23:59:59.999999Z").unwrap();
            (min..=max).boxed()
        }
        Values::Small => select(SMALL_DATES)
            .prop_map(|d| datetime::parse(d).unwrap())
            .boxed(),
    }
}

/// `attr pr` or `attr op value` with an operator and value the attribute's
/// type allows.
fn leaf(attr: ResolvedAttr, values: Values) -> BoxedStrategy<Filter> {
    let ty = attr.target().ty;
    if ty == AttributeType::Complex {
        return Just(Filter::Present(attr)).boxed();
    }
    let value = match ty {
        AttributeType::Boolean => any::<bool>().prop_map(CompValue::Boolean).boxed(),
        AttributeType::DateTime => date_value(values).prop_map(CompValue::DateTime).boxed(),
        _ => string_value(values).prop_map(CompValue::String).boxed(),
    };
    prop_oneof![
        1 => Just(Filter::Present(attr)),
        1 => select(vec![CompareOp::Eq, CompareOp::Ne])
            .prop_map(move |op| Filter::Compare(attr, op, CompValue::Null)),
        6 => (select(ops_for(ty)), value).prop_map(move |(op, v)| Filter::Compare(attr, op, v)),
    ]
    .boxed()
}

/// `and`/`or`/`not` trees over `leaves`.
fn tree(leaves: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaves
        .prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                (inner.clone(), inner.clone())
                    .prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
        .boxed()
}

fn value_path(rt: &'static ResourceType, values: Values) -> BoxedStrategy<Filter> {
    let complex: Vec<ResolvedAttr> = attributes(rt)
        .into_iter()
        .filter(|a| a.sub.is_none() && a.attr.ty == AttributeType::Complex)
        .collect();
    select(complex)
        .prop_flat_map(move |outer| {
            let subs: Vec<ResolvedAttr> = outer
                .attr
                .sub_attributes
                .iter()
                .map(|sub| ResolvedAttr {
                    sub: Some(sub),
                    ..outer
                })
                .collect();
            let leaves = select(subs).prop_flat_map(move |a| leaf(a, values)).boxed();
            tree(leaves).prop_map(move |inner| Filter::ValuePath(outer, Box::new(inner)))
        })
        .boxed()
}

fn filters(rt: &'static ResourceType, values: Values) -> BoxedStrategy<Filter> {
    let attrs = attributes(rt);
    let leaves = prop_oneof![
        4 => select(attrs).prop_flat_map(move |a| leaf(a, values)),
        1 => value_path(rt, values),
    ]
    .boxed();
    tree(leaves)
}

// ---------------------------------------------------------------------------
// A naive reference evaluator: flattens the resource into facts, then
// answers each leaf by scanning them.

/// One scalar in a resource: its lowercased path (`emails.value`,
/// `urn:…:user:manager.value`), the element of a complex attribute it
/// belongs to (attribute path and index), and the value.
struct Fact<'v> {
    path: String,
    element: Option<(String, usize)>,
    value: &'v Value,
}

fn facts(resource: &Value) -> Vec<Fact<'_>> {
    fn attribute<'v>(out: &mut Vec<Fact<'v>>, path: String, value: &'v Value) {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::Object(members) => {
                    // Marks the element itself, so an empty one still counts.
                    out.push(Fact {
                        path: format!("{path}#element"),
                        element: Some((path.clone(), i)),
                        value: item,
                    });
                    for (k, v) in members {
                        out.push(Fact {
                            path: format!("{path}.{}", k.to_lowercase()),
                            element: Some((path.clone(), i)),
                            value: v,
                        });
                    }
                }
                scalar => out.push(Fact {
                    path: path.clone(),
                    element: None,
                    value: scalar,
                }),
            }
        }
    }
    let mut out = Vec::new();
    let Some(top) = resource.as_object() else {
        return out;
    };
    for (k, v) in top {
        let k = k.to_lowercase();
        match (k.starts_with("urn:"), v.as_object()) {
            (true, Some(ext)) => {
                for (ek, ev) in ext {
                    attribute(&mut out, format!("{k}:{}", ek.to_lowercase()), ev);
                }
            }
            _ => attribute(&mut out, k, v),
        }
    }
    out
}

fn fact_path(attr: &ResolvedAttr) -> String {
    let prefix = match attr.origin {
        Origin::Core => String::new(),
        Origin::IgnoredExtension(schema) => format!("{}:", schema.id),
    };
    format!("{prefix}{}", attr.dotted()).to_lowercase()
}

fn non_empty(v: &Value) -> bool {
    !(v.is_null() || v.as_str() == Some(""))
}

fn reference(filter: &Filter, facts: &[&Fact<'_>]) -> bool {
    match filter {
        Filter::And(l, r) => reference(l, facts) && reference(r, facts),
        Filter::Or(l, r) => reference(l, facts) || reference(r, facts),
        Filter::Not(f) => !reference(f, facts),
        Filter::ValuePath(attr, inner) => {
            let outer = fact_path(attr);
            let mut elements: Vec<usize> = facts
                .iter()
                .filter_map(|f| {
                    f.element
                        .as_ref()
                        .filter(|(p, _)| *p == outer)
                        .map(|(_, i)| *i)
                })
                .collect();
            elements.dedup();
            elements.into_iter().any(|i| {
                let mine: Vec<&Fact> = facts
                    .iter()
                    .copied()
                    .filter(|f| f.element.as_ref() == Some(&(outer.clone(), i)))
                    .collect();
                reference(inner, &mine)
            })
        }
        Filter::Present(attr) => {
            let path = fact_path(attr);
            let whole = format!("{path}.");
            facts
                .iter()
                .filter(|f| f.path == path || (attr.sub.is_none() && f.path.starts_with(&whole)))
                .any(|f| non_empty(f.value))
        }
        Filter::Compare(attr, op, operand) => {
            let path = fact_path(attr);
            let values: Vec<&Value> = facts
                .iter()
                .filter(|f| f.path == path && !f.value.is_null())
                .map(|f| f.value)
                .collect();
            let fold = |s: &str| {
                if attr.target().case_exact {
                    s.to_owned()
                } else {
                    s.to_lowercase()
                }
            };
            let holds = |v: &Value, op: CompareOp| -> bool {
                let ord = match operand {
                    CompValue::String(s) => match v.as_str() {
                        Some(actual) => {
                            let (a, b) = (fold(actual), fold(s));
                            match op {
                                CompareOp::Co => return a.contains(&b),
                                CompareOp::Sw => return a.starts_with(&b),
                                CompareOp::Ew => return a.ends_with(&b),
                                _ => a.cmp(&b),
                            }
                        }
                        None => return false,
                    },
                    CompValue::Boolean(b) => return v.as_bool() == Some(*b) && op == CompareOp::Eq,
                    CompValue::DateTime(t) => match v.as_str().and_then(datetime::parse) {
                        Some(actual) => actual.cmp(t),
                        None => return false,
                    },
                    CompValue::Number(_) | CompValue::Null => unreachable!("not generated"),
                };
                match op {
                    CompareOp::Eq => ord.is_eq(),
                    CompareOp::Gt => ord.is_gt(),
                    CompareOp::Ge => ord.is_ge(),
                    CompareOp::Lt => ord.is_lt(),
                    CompareOp::Le => ord.is_le(),
                    _ => unreachable!("handled above"),
                }
            };
            match (op, operand) {
                (CompareOp::Eq, CompValue::Null) => !values.iter().any(|v| non_empty(v)),
                (CompareOp::Ne, CompValue::Null) => values.iter().any(|v| non_empty(v)),
                (CompareOp::Ne, _) => {
                    values.is_empty() || values.iter().any(|v| !holds(v, CompareOp::Eq))
                }
                (op, _) => values.iter().any(|v| holds(v, *op)),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Generating resources over the same small vocabulary.

/// A key as written by some client: canonical, or in another letter case.
fn key(name: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![3 => Just(name.to_owned()), 1 => Just(name.to_uppercase())]
}

fn small_string_or_null() -> BoxedStrategy<Value> {
    prop_oneof![6 => select(SMALL_STRINGS).prop_map(|s| json!(s)), 1 => Just(Value::Null)].boxed()
}

/// An object with some of the given members.
fn object(members: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let parts: Vec<_> = members
        .into_iter()
        .map(|(name, value)| proptest::option::of((key(name), value)))
        .collect();
    parts
        .prop_map(|parts| Value::Object(parts.into_iter().flatten().collect::<Map<_, _>>()))
        .boxed()
}

fn multi(element: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    proptest::collection::vec(element, 0..3)
        .prop_map(Value::Array)
        .boxed()
}

fn date() -> BoxedStrategy<Value> {
    prop_oneof![4 => select(SMALL_DATES).prop_map(|d| json!(d)), 1 => Just(json!("not a date"))]
        .boxed()
}

fn boolean() -> BoxedStrategy<Value> {
    any::<bool>().prop_map(Value::Bool).boxed()
}

fn meta() -> BoxedStrategy<Value> {
    object(vec![
        ("resourceType", small_string_or_null()),
        ("created", date()),
        ("lastModified", date()),
        ("version", small_string_or_null()),
    ])
}

fn user() -> BoxedStrategy<Value> {
    let s = small_string_or_null;
    let email = object(vec![("value", s()), ("type", s()), ("primary", boolean())]);
    let group = object(vec![("value", s()), ("display", s()), ("$ref", s())]);
    let name = object(vec![
        ("givenName", s()),
        ("familyName", s()),
        ("formatted", s()),
    ]);
    let enterprise = object(vec![
        ("department", s()),
        (
            "manager",
            object(vec![("value", s()), ("displayName", s())]),
        ),
    ]);
    object(vec![
        ("id", s()),
        ("externalId", s()),
        ("userName", s()),
        ("displayName", s()),
        ("title", s()),
        ("active", boolean()),
        ("name", name),
        ("emails", multi(email)),
        (
            "phoneNumbers",
            multi(object(vec![("value", s()), ("type", s())])),
        ),
        ("groups", multi(group)),
        ("meta", meta()),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            enterprise,
        ),
    ])
}

fn group() -> BoxedStrategy<Value> {
    let s = small_string_or_null;
    let member = object(vec![("value", s()), ("display", s()), ("type", s())]);
    object(vec![
        ("id", s()),
        ("externalId", s()),
        ("displayName", s()),
        ("members", multi(member)),
        ("meta", meta()),
    ])
}

// ---------------------------------------------------------------------------
// Inputs for the robustness property: arbitrary text, and soups of the
// grammar's own tokens, which reach far deeper into the parser.

fn token_soup() -> impl Strategy<Value = String> {
    let tokens = select(vec![
        "userName",
        "emails",
        "members",
        "name.givenName",
        "active",
        "meta.created",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "type",
        "value",
        "$ref",
        ".",
        " eq ",
        " CO ",
        " gt ",
        " pr",
        " and ",
        " OR ",
        "not ",
        "not(",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "\"x\"",
        "\\",
        "\\u",
        "d83d",
        "\\ude00",
        "true",
        "null",
        "-",
        "0",
        "1e9",
        "2011-05-13T04:42:34Z",
        " ",
        "\t",
        "é",
        "😀",
        "\u{0}",
    ]);
    proptest::collection::vec(tokens, 0..30).prop_map(|t| t.concat())
}

fn check_total(rt: &'static ResourceType, input: &str) -> Result<(), TestCaseError> {
    match filter::parse(rt, input) {
        Ok(f) => prop_assert_eq!(filter::parse(rt, &f.to_string()), Ok(f)),
        Err(e) => {
            prop_assert!(e.offset <= e.input.len(), "{e:?}");
            prop_assert!(input.is_char_boundary(e.offset), "{e:?}");
        }
    }
    match filter::parse_path(rt, input) {
        Ok(p) => prop_assert_eq!(filter::parse_path(rt, &p.to_string()), Ok(p)),
        Err(e) => prop_assert!(input.is_char_boundary(e.offset), "{e:?}"),
    }
    Ok(())
}

proptest! {
    // 512 cases by default; `PROPTEST_CASES` asks for more (or fewer).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn printed_user_filters_parse_back_to_the_same_ast(f in filters(&USER, Values::Arbitrary)) {
        let text = f.to_string();
        prop_assume!(text.len() <= MAX_FILTER_LEN);
        prop_assert_eq!(filter::parse(&USER, &text), Ok(f), "{}", text);
    }

    #[test]
    fn printed_group_filters_parse_back_to_the_same_ast(f in filters(&GROUP, Values::Arbitrary)) {
        let text = f.to_string();
        prop_assume!(text.len() <= MAX_FILTER_LEN);
        prop_assert_eq!(filter::parse(&GROUP, &text), Ok(f), "{}", text);
    }

    #[test]
    fn evaluator_agrees_with_reference_on_users(f in filters(&USER, Values::Small), u in user()) {
        let all = facts(&u);
        let refs: Vec<&Fact> = all.iter().collect();
        prop_assert_eq!(f.matches(&u), reference(&f, &refs), "{} on {}", f, u);
    }

    #[test]
    fn evaluator_agrees_with_reference_on_groups(f in filters(&GROUP, Values::Small), g in group()) {
        let all = facts(&g);
        let refs: Vec<&Fact> = all.iter().collect();
        prop_assert_eq!(f.matches(&g), reference(&f, &refs), "{} on {}", f, g);
    }

    #[test]
    fn parser_is_total_on_arbitrary_text(input in any::<String>()) {
        check_total(&USER, &input)?;
        check_total(&GROUP, &input)?;
    }

    /// Regression: a date-time value with a multi-byte character where its
    /// offset starts made the date-time parser panic.
    #[test]
    fn parser_is_total_on_date_values_with_any_tail(tail in any::<String>()) {
        let tail = tail.replace(['"', '\\'], "");
        let input = format!("meta.created gt \"2026-01-01T00:00:00{tail}\"");
        check_total(&USER, &input)?;
        check_total(&GROUP, &input)?;
    }

    #[test]
    fn parser_is_total_on_token_soup(input in token_soup()) {
        check_total(&USER, &input)?;
        check_total(&GROUP, &input)?;
    }
}
