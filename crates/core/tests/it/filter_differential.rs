//! The SQL translation of filters agrees with the in-memory evaluator,
//! which is the executable definition of what a filter means.
//!
//! Each case stores random users and groups under a fresh tenant of one
//! database per backend, then asks the store to list them with random
//! filters and compares the ids it returns with the ids
//! [`Filter::matches`](scimitar_proto::filter::Filter::matches) picks from
//! the same resources as a client reads them (rendered from the store's
//! listing). Stored strings come from a small mixed-case alphabet that
//! includes `LIKE` wildcards and a backslash, and most comparison values are
//! cut from the stored data itself, so that `eq`, `sw`, `ew`, `co`, `gt` and
//! `lt` hit often and case folding matters. A filter that names an attribute
//! the database does not store must be refused with `invalidFilter`: an
//! answer of "no match" would make an identity provider create duplicates.
//!
//! `PROPTEST_CASES` raises the number of cases for a deeper run.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use scimitar_core::CoreError;
use scimitar_core::model::{GroupChange, ListQuery, NewGroup};
use scimitar_core::store::Store;
use scimitar_core::testing::Backend;
use scimitar_proto::ScimType;
use scimitar_proto::datetime;
use scimitar_proto::filter::{self, CompareOp};
use scimitar_proto::patch::MemberOp;
use scimitar_proto::resource::{
    GroupRef, MemberRef, Meta, parse_group, parse_user, render_group, render_user,
};
use scimitar_proto::schema::{GROUP, USER};
use serde_json::{Value, json};
use tokio::runtime::Handle;

/// Cases per backend unless `PROPTEST_CASES` says otherwise: each stores a
/// dozen rows and runs a dozen filters, a few seconds per backend in all.
const CASES: u32 = 96;

// ---------------------------------------------------------------------------
// The attributes a filter can name.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    Time,
    /// Named without a sub-attribute: only `pr` applies.
    Complex,
}

/// An attribute path as written in a filter.
struct Attr {
    /// The full path; inside a value filter, the part after the outer
    /// attribute's name is written.
    name: &'static str,
    /// The rendered values comparison operands are cut from.
    pool: &'static str,
    kind: Kind,
    /// `false` for what the database does not store: filters naming it must
    /// be refused.
    stored: bool,
}

impl fmt::Debug for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

const fn at(name: &'static str, pool: &'static str, kind: Kind) -> Attr {
    Attr {
        name,
        pool,
        kind,
        stored: true,
    }
}

const fn text(name: &'static str) -> Attr {
    at(name, name, Kind::Text)
}

const fn boolean(name: &'static str) -> Attr {
    at(name, name, Kind::Bool)
}

const fn time(name: &'static str) -> Attr {
    at(name, name, Kind::Time)
}

const fn complex(name: &'static str) -> Attr {
    at(name, name, Kind::Complex)
}

const fn unstored(attr: Attr) -> Attr {
    Attr {
        stored: false,
        ..attr
    }
}

static USER_ATTRS: &[Attr] = &[
    text("id"),
    text("externalId"),
    text("userName"),
    at(
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "userName",
        Kind::Text,
    ),
    text("displayName"),
    text("title"),
    boolean("active"),
    complex("name"),
    text("name.formatted"),
    text("name.familyName"),
    text("name.givenName"),
    text("name.middleName"),
    text("name.honorificPrefix"),
    text("name.honorificSuffix"),
    complex("emails"),
    // A complex attribute compared without a sub-attribute means `value`.
    at("emails", "emails.value", Kind::Text),
    text("emails.value"),
    text("emails.type"),
    boolean("emails.primary"),
    complex("phoneNumbers"),
    at("phoneNumbers", "phoneNumbers.value", Kind::Text),
    text("phoneNumbers.value"),
    text("phoneNumbers.type"),
    boolean("phoneNumbers.primary"),
    complex("groups"),
    at("groups", "groups.value", Kind::Text),
    text("groups.value"),
    text("groups.display"),
    text("groups.type"),
    complex("meta"),
    time("meta.created"),
    time("meta.lastModified"),
    text("meta.resourceType"),
    // Not stored: filters naming these must be refused.
    unstored(text("groups.$ref")),
    unstored(text("meta.location")),
    unstored(text("meta.version")),
    unstored(at(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "department",
        Kind::Text,
    )),
    unstored(at(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "manager",
        Kind::Complex,
    )),
    unstored(at(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "manager.value",
        Kind::Text,
    )),
];

static GROUP_ATTRS: &[Attr] = &[
    text("id"),
    text("externalId"),
    text("displayName"),
    at(
        "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
        "displayName",
        Kind::Text,
    ),
    complex("members"),
    at("members", "members.value", Kind::Text),
    text("members.value"),
    text("members.display"),
    text("members.type"),
    complex("meta"),
    time("meta.created"),
    time("meta.lastModified"),
    text("meta.resourceType"),
    unstored(text("members.$ref")),
    unstored(text("meta.location")),
    unstored(text("meta.version")),
];

/// The complex attributes a value filter `outer[...]` can name; its
/// sub-attributes are the catalog's entries under `outer.`.
static USER_PATHS: &[&str] = &[
    "emails",
    "phoneNumbers",
    "groups",
    "name",
    "meta",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
];

static GROUP_PATHS: &[&str] = &["members", "meta"];

// ---------------------------------------------------------------------------
// Filters, with comparison values that are resolved against the stored data.

/// A comparison value. `Pick` and `Instant` name a value of the stored
/// data (the `index`-th of the attribute's pool), so that they hit.
#[derive(Debug, Clone)]
enum Operand {
    Null,
    Word(&'static str),
    Pick {
        index: usize,
        cut: Cut,
        case: Recase,
    },
    Bool(bool),
    /// A boolean written as a string, as Entra does.
    BoolText(&'static str),
    Instant {
        index: usize,
        delta_micros: i64,
    },
    Date(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Cut {
    Whole,
    Prefix(usize),
    Suffix(usize),
    /// Without the first and the last character.
    Middle,
}

#[derive(Debug, Clone, Copy)]
enum Recase {
    Keep,
    Upper,
    Lower,
    Swap,
}

#[derive(Debug, Clone)]
enum Term {
    Present(&'static Attr),
    Compare(&'static Attr, CompareOp, Operand),
    And(Box<Term>, Box<Term>),
    Or(Box<Term>, Box<Term>),
    Not(Box<Term>),
    /// `outer[inner]`, or `outer[inner].sub op value` with `then`.
    ValuePath {
        outer: &'static str,
        inner: Box<Term>,
        then: Option<Box<Term>>,
    },
    /// A filter on stored attributes, as written (never generated).
    Written(&'static str),
}

impl Term {
    /// Whether the filter names an attribute that is not stored anywhere.
    fn refused(&self) -> bool {
        match self {
            Term::Present(a) | Term::Compare(a, ..) => !a.stored,
            Term::And(l, r) | Term::Or(l, r) => l.refused() || r.refused(),
            Term::Not(t) => t.refused(),
            Term::Written(_) => false,
            Term::ValuePath { inner, then, .. } => {
                inner.refused() || then.as_ref().is_some_and(|t| t.refused())
            }
        }
    }

    /// Writes the filter; `outer` names the value filter it is inside of.
    fn write(&self, out: &mut String, pools: &Pools, outer: Option<&str>) {
        let name = |a: &'static Attr| {
            outer
                .and_then(|o| a.name.strip_prefix(o)?.strip_prefix('.'))
                .unwrap_or(a.name)
        };
        match self {
            Term::Written(text) => out.push_str(text),
            Term::Present(a) => {
                out.push_str(name(a));
                out.push_str(" pr");
            }
            Term::Compare(a, op, value) => {
                out.push_str(name(a));
                out.push(' ');
                out.push_str(op.as_str());
                out.push(' ');
                out.push_str(&pools.literal(a, value));
            }
            Term::And(l, r) | Term::Or(l, r) => {
                out.push('(');
                l.write(out, pools, outer);
                out.push_str(if matches!(self, Term::And(..)) {
                    " and "
                } else {
                    " or "
                });
                r.write(out, pools, outer);
                out.push(')');
            }
            Term::Not(t) => {
                out.push_str("not (");
                t.write(out, pools, outer);
                out.push(')');
            }
            Term::ValuePath {
                outer: path,
                inner,
                then,
            } => {
                out.push_str(path);
                out.push('[');
                inner.write(out, pools, Some(path));
                out.push(']');
                if let Some(then) = then {
                    out.push('.');
                    then.write(out, pools, Some(path));
                }
            }
        }
    }
}

/// Literal comparison values: some hit stored constants (`work`, `User`,
/// `direct`), some are LIKE wildcards that must match literally.
const WORDS: &[&str] = &[
    "", "a", "A", "b", "ab", "Ab", "é", "É", "_", "%", "\\", "work", "Work", "cell", "User",
    "user", "Group", "direct", "+4", "1", "@", ".", "a.b",
];

const DATES: &[&str] = &["2000-01-01T00:00:00Z", "2999-12-31T23:59:59Z"];

fn operand(kind: Kind) -> BoxedStrategy<Operand> {
    match kind {
        Kind::Text => {
            let cut = prop_oneof![
                3 => Just(Cut::Whole),
                1 => (1usize..4).prop_map(Cut::Prefix),
                1 => (1usize..4).prop_map(Cut::Suffix),
                1 => Just(Cut::Middle),
            ];
            let case = prop_oneof![
                3 => Just(Recase::Keep),
                1 => Just(Recase::Upper),
                1 => Just(Recase::Lower),
                1 => Just(Recase::Swap),
            ];
            prop_oneof![
                3 => (any::<usize>(), cut, case)
                    .prop_map(|(index, cut, case)| Operand::Pick { index, cut, case }),
                2 => select(WORDS).prop_map(Operand::Word),
            ]
            .boxed()
        }
        Kind::Bool => prop_oneof![
            3 => any::<bool>().prop_map(Operand::Bool),
            1 => select(&["True", "false", "FALSE"][..]).prop_map(Operand::BoolText),
        ]
        .boxed(),
        Kind::Time => prop_oneof![
            4 => (any::<usize>(), select(&[-1_000_000, -1, 0, 0, 1, 1_000_000][..]))
                .prop_map(|(index, delta_micros)| Operand::Instant { index, delta_micros }),
            1 => select(DATES).prop_map(Operand::Date),
        ]
        .boxed(),
        Kind::Complex => Just(Operand::Null).boxed(),
    }
}

fn operators(kind: Kind) -> Vec<CompareOp> {
    use CompareOp::*;
    match kind {
        Kind::Text => CompareOp::ALL.to_vec(),
        Kind::Bool => vec![Eq, Ne],
        Kind::Time => vec![Eq, Ne, Gt, Ge, Lt, Le],
        Kind::Complex => vec![],
    }
}

/// `attr pr`, `attr eq null`, `attr ne null` or `attr op value`.
fn leaf(attr: &'static Attr) -> BoxedStrategy<Term> {
    if attr.kind == Kind::Complex {
        return Just(Term::Present(attr)).boxed();
    }
    prop_oneof![
        1 => Just(Term::Present(attr)),
        1 => select(vec![CompareOp::Eq, CompareOp::Ne])
            .prop_map(move |op| Term::Compare(attr, op, Operand::Null)),
        6 => (select(operators(attr.kind)), operand(attr.kind))
            .prop_map(move |(op, value)| Term::Compare(attr, op, value)),
    ]
    .boxed()
}

/// A leaf over `attrs`, naming an unstored attribute now and then.
fn leaves(attrs: Vec<&'static Attr>) -> BoxedStrategy<Term> {
    let (stored, not_stored): (Vec<&'static Attr>, Vec<_>) =
        attrs.into_iter().partition(|a| a.stored);
    if stored.is_empty() {
        return select(not_stored).prop_flat_map(leaf).boxed();
    }
    if not_stored.is_empty() {
        return select(stored).prop_flat_map(leaf).boxed();
    }
    prop_oneof![
        40 => select(stored).prop_flat_map(leaf),
        1 => select(not_stored).prop_flat_map(leaf),
    ]
    .boxed()
}

fn tree(leaves: BoxedStrategy<Term>, depth: u32, size: u32) -> impl Strategy<Value = Term> + Clone {
    leaves.prop_recursive(depth, size, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Term::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Term::Or(Box::new(l), Box::new(r))),
            inner.prop_map(|t| Term::Not(Box::new(t))),
        ]
    })
}

fn value_path(attrs: &'static [Attr], outers: &'static [&'static str]) -> BoxedStrategy<Term> {
    select(outers)
        .prop_flat_map(move |outer| {
            let subs = attrs
                .iter()
                .filter(|a| {
                    a.name
                        .strip_prefix(outer)
                        .is_some_and(|s| s.starts_with('.'))
                })
                .collect();
            let subs = leaves(subs);
            let condition = subs.clone().prop_filter("one condition", |t| {
                matches!(t, Term::Present(_) | Term::Compare(..))
            });
            (tree(subs, 2, 4), option::weighted(0.25, condition)).prop_map(move |(inner, then)| {
                Term::ValuePath {
                    outer,
                    inner: Box::new(inner),
                    then: then.map(Box::new),
                }
            })
        })
        .boxed()
}

/// A filter: and/or/not over attribute leaves and value paths.
fn filter_term(
    attrs: &'static [Attr],
    paths: &'static [&'static str],
) -> impl Strategy<Value = Term> {
    let base = prop_oneof![
        4 => leaves(attrs.iter().collect()),
        1 => value_path(attrs, paths),
    ]
    .boxed();
    tree(base, 3, 10)
}

// ---------------------------------------------------------------------------
// Users and groups, as a client would send them.

const NAME_CHARS: &[char] = &['a', 'A', 'b', 'B', 'é', 'É', '_', '%', '\\', ' '];
const LETTERS: &[char] = &['a', 'A', 'b', 'B', 'é', 'É'];
const LOCAL_CHARS: &[char] = &['a', 'A', 'b', 'B', 'é', '_', '%', '+'];
const LABELS: &[&str] = &["a", "b", "ab", "Ab", "B", "bA"];
const PHONE_TYPES: &[Option<&str>] = &[
    None,
    Some("work"),
    Some("Work"),
    Some("mobile"),
    Some("Cell"),
    Some("cELL"),
    Some(""),
];

fn chars(set: &'static [char], len: std::ops::RangeInclusive<usize>) -> BoxedStrategy<String> {
    proptest::collection::vec(select(set), len)
        .prop_map(String::from_iter)
        .boxed()
}

/// A string that may be blank (and so absent once trimmed).
fn maybe_text() -> BoxedStrategy<Option<String>> {
    option::of(chars(NAME_CHARS, 0..=4)).boxed()
}

/// A string that is never blank.
fn word() -> BoxedStrategy<String> {
    (select(LETTERS), chars(NAME_CHARS, 0..=3))
        .prop_map(|(first, rest)| format!("{first}{rest}"))
        .boxed()
}

/// A user's POST body. Its userName gets a tag before the `@` when it is
/// stored, so that userNames stay unique across the whole database, as the
/// product requires.
fn user() -> impl Strategy<Value = Value> {
    let name = (maybe_text(), maybe_text(), maybe_text(), maybe_text()).prop_map(|parts| {
        let (given, family, formatted, middle) = parts;
        let parts = [
            ("givenName", given),
            ("familyName", family),
            ("formatted", formatted),
            ("middleName", middle),
        ];
        Value::Object(
            parts
                .into_iter()
                .filter_map(|(key, part)| Some((key.to_owned(), Value::from(part?))))
                .collect(),
        )
    });
    let phone = (
        chars(&['1', '2'], 7..=9),
        any::<bool>(),
        select(PHONE_TYPES),
    )
        .prop_map(|(digits, spaced, kind)| {
            let space = if spaced { " " } else { "" };
            let mut number = json!({"value": format!("+4{space}{digits}")});
            if let Some(kind) = kind {
                number["type"] = json!(kind);
            }
            json!([number])
        });
    (
        (chars(LOCAL_CHARS, 1..=3), select(LABELS), select(LABELS)),
        word(),
        name,
        (
            maybe_text(),
            maybe_text(),
            option::of(phone),
            option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |((local, d1, d2), display_name, name, (title, external_id, phone, active))| {
                let mut body = json!({
                    "userName": format!("{local}@{d1}.{d2}"),
                    "displayName": display_name,
                    "name": name,
                });
                for (key, value) in [
                    ("title", title.map(Value::from)),
                    ("externalId", external_id.map(Value::from)),
                    ("phoneNumbers", phone),
                    // Stored as sent: true, false, or unassigned.
                    ("active", active.map(Value::from)),
                ] {
                    if let Some(value) = value {
                        body[key] = value;
                    }
                }
                body
            },
        )
}

/// A group's body, and its members as indices into the case's users
/// (modulo their number).
fn group() -> impl Strategy<Value = (Value, Vec<usize>)> {
    (
        word(),
        maybe_text(),
        proptest::collection::vec(0usize..8, 0..=4),
    )
        .prop_map(|(display_name, external_id, members)| {
            let mut body = json!({"displayName": display_name});
            if let Some(e) = external_id {
                body["externalId"] = json!(e);
            }
            (body, members)
        })
}

#[derive(Debug, Clone)]
struct Case {
    users: Vec<Value>,
    groups: Vec<(Value, Vec<usize>)>,
    user_filters: Vec<Term>,
    group_filters: Vec<Term>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(user(), 0..=6),
        proptest::collection::vec(group(), 0..=4),
        proptest::collection::vec(filter_term(USER_ATTRS, USER_PATHS), 1..=6),
        proptest::collection::vec(filter_term(GROUP_ATTRS, GROUP_PATHS), 1..=6),
    )
        .prop_map(|(users, groups, user_filters, group_filters)| Case {
            users,
            groups,
            user_filters,
            group_filters,
        })
}

// ---------------------------------------------------------------------------
// Storing a case and reading it back as a client sees it.

/// The resources of one case, rendered from the store's listing, in the
/// order the case generated them.
struct World {
    tenant: scimitar_core::ids::TenantId,
    users: Vec<(String, Value)>,
    groups: Vec<(String, Value)>,
    /// The generated position of every user and group id.
    position: HashMap<String, usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Users,
    Groups,
}

fn meta(stamp: &scimitar_core::model::Stamp) -> Meta {
    Meta {
        created: stamp.created,
        last_modified: stamp.last_modified,
        version: stamp.etag(),
    }
}

fn everything() -> ListQuery {
    ListQuery {
        limit: 1000,
        ..Default::default()
    }
}

impl World {
    async fn store(store: &dyn Store, case: &Case, tag: usize) -> World {
        let tenant = store
            .create_tenant(&format!("case {tag}"), None)
            .await
            .expect("create tenant")
            .id;
        let mut user_ids = Vec::new();
        for (i, body) in case.users.iter().enumerate() {
            let mut body = body.clone();
            let user_name = body["userName"].as_str().unwrap_or_default();
            if let Some((local, domain)) = user_name.split_once('@') {
                body["userName"] = json!(format!("{local}.{tag}-{i}@{domain}"));
            }
            let attrs = parse_user(&body)
                .unwrap_or_else(|e| panic!("generated user {body} is refused: {e:?}"))
                .value;
            let user = store
                .create_user(&tenant, attrs)
                .await
                .expect("create user");
            user_ids.push(user.id);
        }
        let mut external_ids = HashSet::new();
        let mut group_ids = Vec::new();
        for (body, members) in &case.groups {
            let parsed = parse_group(body)
                .unwrap_or_else(|e| panic!("generated group {body} is refused: {e:?}"))
                .value;
            // externalId is unique per tenant.
            let external_id = parsed
                .external_id
                .filter(|e| external_ids.insert(e.clone()));
            let group = store
                .create_group(
                    &tenant,
                    NewGroup {
                        display_name: parsed.display_name,
                        external_id,
                        ..Default::default()
                    },
                )
                .await
                .expect("create group");
            if !user_ids.is_empty() && !members.is_empty() {
                let mut members: Vec<String> = members
                    .iter()
                    .map(|i| user_ids[i % user_ids.len()].to_string())
                    .collect();
                members.sort();
                members.dedup();
                let change = GroupChange {
                    members: vec![MemberOp::Add(members)],
                    ..Default::default()
                };
                store
                    .change_group_scim(&tenant, &group.id, change, None)
                    .await
                    .expect("add members");
            }
            group_ids.push(group.id);
        }

        let mut position: HashMap<String, usize> = HashMap::new();
        for (i, id) in user_ids.iter().enumerate() {
            position.insert(id.to_string(), i);
        }
        for (i, id) in group_ids.iter().enumerate() {
            position.insert(id.to_string(), i);
        }

        let mut listed = store
            .list_users(&tenant, &everything())
            .await
            .expect("list users")
            .items;
        listed.sort_by_key(|u| position[u.id.as_str()]);
        let ids: Vec<_> = listed.iter().map(|u| u.id.clone()).collect();
        let mut groups_of = store.groups_of(&tenant, &ids).await.expect("groups of");
        let users = listed
            .iter()
            .map(|u| {
                let refs: Vec<GroupRef> = groups_of
                    .remove(&u.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| GroupRef {
                        id: m.group_id.to_string(),
                        display: m.display,
                    })
                    .collect();
                let json = render_user("", u.id.as_str(), &u.attrs, &meta(&u.stamp), Some(&refs));
                (u.id.to_string(), json)
            })
            .collect();

        let mut listed = store
            .list_groups(&tenant, &everything())
            .await
            .expect("list groups")
            .items;
        listed.sort_by_key(|g| position[g.id.as_str()]);
        let ids: Vec<_> = listed.iter().map(|g| g.id.clone()).collect();
        let mut members_of = store.members_of(&tenant, &ids).await.expect("members of");
        let groups = listed
            .iter()
            .map(|g| {
                let refs: Vec<MemberRef> = members_of
                    .remove(&g.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| MemberRef {
                        id: m.user_id.to_string(),
                        display: m.display,
                    })
                    .collect();
                let json = render_group(
                    "",
                    g.id.as_str(),
                    &g.display_name,
                    g.external_id.as_deref(),
                    Some(&refs),
                    &meta(&g.stamp),
                );
                (g.id.to_string(), json)
            })
            .collect();
        World {
            tenant,
            users,
            groups,
            position,
        }
    }

    fn resources(&self, resource: Resource) -> &[(String, Value)] {
        match resource {
            Resource::Users => &self.users,
            Resource::Groups => &self.groups,
        }
    }

    /// Lists with `term` through the store and compares with the evaluator.
    async fn check(
        &self,
        store: &dyn Store,
        resource: Resource,
        term: &Term,
    ) -> Result<(), TestCaseError> {
        let pools = Pools {
            world: self,
            resources: self.resources(resource),
        };
        let mut text = String::new();
        term.write(&mut text, &pools, None);
        let rt = match resource {
            Resource::Users => &USER,
            Resource::Groups => &GROUP,
        };
        let parsed = filter::parse(rt, &text).map_err(|e| {
            TestCaseError::fail(format!("the generated filter {text} does not parse: {e}"))
        })?;
        let query = ListQuery {
            filter: Some(parsed.clone()),
            ..everything()
        };
        let answer = match resource {
            Resource::Users => store.list_users(&self.tenant, &query).await.map(|p| {
                (
                    p.total,
                    p.items
                        .into_iter()
                        .map(|u| u.id.to_string())
                        .collect::<Vec<_>>(),
                )
            }),
            Resource::Groups => store.list_groups(&self.tenant, &query).await.map(|p| {
                (
                    p.total,
                    p.items.into_iter().map(|g| g.id.to_string()).collect(),
                )
            }),
        };
        let ids: Vec<String> = match (term.refused(), answer) {
            (true, Err(CoreError::Rejected(e))) if e.scim_type == Some(ScimType::InvalidFilter) => {
                return Ok(());
            }
            (true, other) => {
                return Err(TestCaseError::fail(format!(
                    "{text} names an attribute that is not stored, so it must be refused \
                     with invalidFilter; the store answered {other:?}"
                )));
            }
            (false, Err(e)) => {
                return Err(TestCaseError::fail(format!(
                    "{text} is refused by the store: {e:?}"
                )));
            }
            (false, Ok((total, ids))) => {
                prop_assert_eq!(
                    total,
                    ids.len() as u64,
                    "{}: the count disagrees with the rows",
                    text
                );
                ids
            }
        };
        let resources = self.resources(resource);
        let by_sql: BTreeSet<usize> = ids.iter().map(|id| self.position[id]).collect();
        let by_evaluator: BTreeSet<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, (_, json))| parsed.matches(json))
            .map(|(i, _)| i)
            .collect();
        if by_sql != by_evaluator {
            let differing: Vec<&Value> = by_sql
                .symmetric_difference(&by_evaluator)
                .map(|&i| &resources[i].1)
                .collect();
            return Err(TestCaseError::fail(format!(
                "{resource:?} filtered by {text}\n  SQL matches      {by_sql:?}\n  \
                 evaluator matches {by_evaluator:?}\n  resources on which they differ: {}",
                serde_json::to_string_pretty(&differing).unwrap_or_default()
            )));
        }
        Ok(())
    }
}

/// The stored values a comparison operand is cut from.
struct Pools<'w> {
    world: &'w World,
    resources: &'w [(String, Value)],
}

impl Pools<'_> {
    /// Every string at `path` over the resources, in generated order (the
    /// elements of `members` and `groups` by the position of their value),
    /// so that an index names the same value on every run.
    fn strings(&self, path: &str) -> Vec<String> {
        let (top, sub) = match path.split_once('.') {
            Some((top, sub)) => (top, Some(sub)),
            None => (path, None),
        };
        let mut out = Vec::new();
        for (_, json) in self.resources {
            let mut elements: Vec<&Value> = match json.get(top) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(other) => vec![other],
                None => continue,
            };
            elements.sort_by_key(|e| {
                e.get("value")
                    .and_then(Value::as_str)
                    .and_then(|id| self.world.position.get(id))
                    .copied()
            });
            for e in elements {
                let leaf = match sub {
                    Some(sub) => e.get(sub),
                    None => Some(e),
                };
                if let Some(Value::String(s)) = leaf {
                    out.push(s.clone());
                }
            }
        }
        out
    }

    /// The operand as written in the filter.
    fn literal(&self, attr: &Attr, operand: &Operand) -> String {
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
        match operand {
            Operand::Null => "null".to_owned(),
            Operand::Word(w) => quote(w),
            Operand::Bool(b) => b.to_string(),
            Operand::BoolText(s) => quote(s),
            Operand::Date(d) => quote(d),
            Operand::Pick { index, cut, case } => {
                let pool = self.strings(attr.pool);
                let Some(picked) = pool.get(index % pool.len().max(1)) else {
                    return quote("a");
                };
                quote(&recase(&cut_str(picked, *cut), *case))
            }
            Operand::Instant {
                index,
                delta_micros,
            } => {
                let pool: Vec<i64> = self
                    .strings(attr.pool)
                    .iter()
                    .filter_map(|s| datetime::parse(s))
                    .collect();
                let Some(at) = pool.get(index % pool.len().max(1)) else {
                    return quote(DATES[0]);
                };
                quote(&datetime::format(at + delta_micros))
            }
        }
    }
}

fn cut_str(s: &str, cut: Cut) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let range = match cut {
        Cut::Whole => 0..n,
        Cut::Prefix(k) => 0..k.min(n),
        Cut::Suffix(k) => n.saturating_sub(k)..n,
        Cut::Middle if n >= 2 => 1..n - 1,
        Cut::Middle => 0..n,
    };
    chars[range].iter().collect()
}

fn recase(s: &str, case: Recase) -> String {
    match case {
        Recase::Keep => s.to_owned(),
        Recase::Upper => s.to_uppercase(),
        Recase::Lower => s.to_lowercase(),
        Recase::Swap => s
            .chars()
            .flat_map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().collect::<Vec<_>>()
                } else {
                    c.to_uppercase().collect()
                }
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------
// The runs.

async fn check(store: &dyn Store, case: &Case, tag: usize) -> Result<(), TestCaseError> {
    let world = World::store(store, case, tag).await;
    for term in &case.user_filters {
        world.check(store, Resource::Users, term).await?;
    }
    for term in &case.group_filters {
        world.check(store, Resource::Groups, term).await?;
    }
    Ok(())
}

scimitar_core::on_every_backend!(
    blocking;
    answers_filters_as_the_evaluator_does,
    found_differences_stay_fixed,
);

/// proptest's runner is synchronous: the test runs on a blocking thread
/// and drives the store through the test's runtime.
async fn blocking(backend: Backend, test: fn(&Handle, &dyn Store) -> Result<(), String>) {
    let store = Arc::clone(&backend.store);
    let handle = Handle::current();
    let outcome = tokio::task::spawn_blocking(move || test(&handle, &*store)).await;
    backend.finish().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(why)) => panic!("{why}"),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("{e}"),
    }
}

/// Every case on one database; a fresh tenant per case keeps them apart.
fn answers_filters_as_the_evaluator_does(rt: &Handle, store: &dyn Store) -> Result<(), String> {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 4096,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    });
    let tag = Cell::new(0);
    let outcome = runner.run(&case(), |case| {
        tag.set(tag.get() + 1);
        rt.block_on(check(store, &case, tag.get()))
    });
    match outcome {
        Ok(()) => Ok(()),
        Err(TestError::Fail(why, case)) => Err(format!("{why}\nminimal case: {case:#?}")),
        Err(TestError::Abort(why)) => Err(why.to_string()),
    }
}

/// The minimal cases of the differences this test found in the SQL
/// translation, each on the resources that tell the two apart.
fn found_differences_stay_fixed(rt: &Handle, store: &dyn Store) -> Result<(), String> {
    let case = Case {
        users: vec![
            // No name, no phone number, no group.
            json!({"userName": "bare@a.b", "displayName": "Bare"}),
            // A name without familyName, a number without a type, a group.
            json!({
                "userName": "ann@a.b",
                "displayName": "Ann",
                "name": {"givenName": "Ann"},
                "phoneNumbers": [{"value": "+41212121"}],
            }),
            // Deactivated, and one whose active is unassigned.
            json!({"userName": "off@a.b", "displayName": "Off", "active": false}),
            json!({"userName": "unset@a.b", "displayName": "Unset", "active": null}),
        ],
        groups: vec![
            (json!({"displayName": "Sales"}), vec![1]),
            (json!({"displayName": "Empty"}), vec![]),
        ],
        user_filters: vec![
            // meta.resourceType is caseExact, like the constant it is.
            Term::Written(r#"meta.resourceType eq "user""#),
            // No group at all is no value and a different value.
            Term::Written("groups.value eq null"),
            Term::Written(r#"groups.value ne "x""#),
            // No number at all is a different `primary`.
            Term::Written("phoneNumbers.primary ne true"),
            // A number stored without a type reads as `work`.
            Term::Written(r#"phoneNumbers.type eq "work""#),
            Term::Written(r#"phoneNumbers[type eq "work"]"#),
            // Without a name there is no element to match.
            Term::Written("name[not (familyName pr)]"),
            // Unassigned is neither true nor false.
            Term::Written("active eq false"),
            Term::Written("active ne true"),
            Term::Written("not (active pr)"),
            Term::Written("active eq true or active eq false"),
        ],
        group_filters: vec![
            Term::Written(r#"meta.resourceType co "ROU""#),
            Term::Written("members eq null"),
            Term::Written(r#"members.display ne "x""#),
        ],
    };
    rt.block_on(async {
        let world = World::store(store, &case, 0).await;
        let mut failures = Vec::new();
        for (resource, terms) in [
            (Resource::Users, &case.user_filters),
            (Resource::Groups, &case.group_filters),
        ] {
            for term in terms {
                if let Err(e) = world.check(store, resource, term).await {
                    failures.push(e.to_string());
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n"))
        }
    })
}
