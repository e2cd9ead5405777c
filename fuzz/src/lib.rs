//! The checks behind scimitar-proto's fuzz targets, one function per target.
//!
//! Each takes the raw bytes AFL hands over and panics when a property of the
//! protocol core does not hold; a panic inside `crates/proto` itself is the
//! other thing we look for. They live in a library so that the afl.rs harness
//! and the stdin replayer (see [`replay`]) run exactly the same code, and so
//! that `cargo test` can run every seed through them.
//!
//! The properties are the ones the crate documents:
//! * filters and PATCH paths print to text that parses back to the same AST
//!   (`filter/print.rs`), as long as that text fits in [`MAX_FILTER_LEN`];
//! * the evaluator is total on any JSON (`filter/eval.rs`);
//! * a PATCH that fails leaves the resource exactly as it was, and a group's
//!   `members` never reach the JSON (`patch/mod.rs`);
//! * a patched view goes back through `parse_user` / `parse_group`, and what
//!   they accept renders to a view that parses and renders to itself.

use std::io::Read;
use std::sync::OnceLock;

use scimitar_proto::filter::{self, FilterError, FilterErrorKind, MAX_FILTER_LEN};
use scimitar_proto::patch::{self, PatchRequest};
use scimitar_proto::resource::{
    self, Email, Meta, Name, Phone, UserAttributes, parse_group, parse_user, render_group,
    render_user,
};
use scimitar_proto::schema::{GROUP, ResourceType, USER};
use serde_json::{Value, json};

const BASE: &str = "https://scim.example.com/scim/v2";

/// A fuzz target's checks: panics when a property does not hold.
pub type Check = fn(&[u8]);

/// Runs `check` on standard input, or on each file named on the command
/// line: the default (non-AFL) build of every target, for replaying crashes
/// and hangs (`target/debug/filter out/filter/default/crashes/id:*`).
pub fn replay(check: Check) {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .expect("read standard input");
        check(&data);
        return;
    }
    for file in files {
        let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        eprintln!("{file}");
        check(&data);
    }
}

/// `filter`: parse as a filter on Users and on Groups; a parsed filter must
/// print and parse back to itself and evaluate on any resource.
pub fn filter(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for rt in [&USER, &GROUP] {
        let parsed = match filter::parse(rt, input) {
            Ok(f) => f,
            Err(e) => {
                check_error(input, &e);
                continue;
            }
        };
        let printed = parsed.to_string();
        match filter::parse(rt, &printed) {
            Ok(again) => {
                assert_eq!(again, parsed, "{input:?} printed as {printed:?}");
                assert_eq!(again.to_string(), printed, "printing is not stable");
            }
            Err(e) => round_trip_failed(input, &printed, &e),
        }
        for resource in samples() {
            let _ = parsed.matches(resource);
        }
    }
}

/// `path`: parse as a PATCH path on Users and on Groups; a parsed path must
/// print and parse back to itself.
pub fn path(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for rt in [&USER, &GROUP] {
        let parsed = match filter::parse_path(rt, input) {
            Ok(p) => p,
            Err(e) => {
                check_error(input, &e);
                let _ = e.is_unknown_attribute();
                let _ = e.into_path_error().to_json();
                continue;
            }
        };
        let printed = parsed.to_string();
        match filter::parse_path(rt, &printed) {
            Ok(again) => {
                assert_eq!(again, parsed, "{input:?} printed as {printed:?}");
                assert_eq!(again.to_string(), printed, "printing is not stable");
            }
            Err(e) => round_trip_failed(input, &printed, &e),
        }
        if let Some(f) = &parsed.filter {
            for resource in samples() {
                for element in resource["emails"].as_array().into_iter().flatten() {
                    let _ = f.matches_element(element);
                }
            }
        }
    }
}

/// `patch`: a JSON body through `parse_patch`, then applied to users and a
/// group. A failed PATCH leaves the resource untouched; a successful one
/// yields a view `parse_user` / `parse_group` can read without panicking.
pub fn patch(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let request = match patch::parse_patch(&body) {
        Ok(r) => r,
        Err(e) => {
            let _ = e.to_json();
            return;
        }
    };
    for view in [user_view(false), user_view(true)] {
        if let Some(Ok(parsed)) = apply(&USER, &view, &request).map(|p| parse_user(&p)) {
            user_round_trip(&parsed.value);
        }
    }
    let view = group_view();
    if let Some(patched) = apply(&GROUP, &view, &request) {
        let members = patched
            .as_object()
            .into_iter()
            .flat_map(|o| o.keys())
            .find(|k| k.eq_ignore_ascii_case("members"));
        assert!(members.is_none(), "members reached the group's JSON");
        if let Ok(parsed) = parse_group(&patched) {
            let g = parsed.value;
            let rendered = render_group(
                BASE,
                "g-1",
                &g.display_name,
                g.external_id.as_deref(),
                None,
                &meta(),
            );
            let again = parse_group(&rendered).expect("a rendered group parses");
            assert_eq!(again.value.display_name, g.display_name);
            assert_eq!(again.value.external_id, g.external_id);
        }
    }
}

/// Applies `request` to a copy of `view`: `None` (and `view` untouched) when
/// it fails.
fn apply(rt: &'static ResourceType, view: &Value, request: &PatchRequest) -> Option<Value> {
    let mut doc = view.clone();
    match patch::apply(rt, &mut doc, request) {
        Ok(outcome) => {
            assert!(outcome.ignored.len() <= resource::MAX_IGNORED_NOTED);
            Some(doc)
        }
        Err(e) => {
            assert_eq!(&doc, view, "a failed PATCH changed the resource: {e:?}");
            let _ = e.to_json();
            None
        }
    }
}

/// What `parse_user` accepted renders to a view that parses back to the
/// same view. (Not to the same attributes: a phone without a type is
/// rendered as `work`, which then reads back as `Some("work")`.)
fn user_round_trip(attrs: &UserAttributes) {
    let rendered = render_user(BASE, "u-1", attrs, &meta(), None);
    let again = parse_user(&rendered)
        .unwrap_or_else(|e| panic!("rendered user {rendered} does not parse: {e:?}"));
    let rendered_again = render_user(BASE, "u-1", &again.value, &meta(), None);
    assert_eq!(rendered_again, rendered, "render/parse changed the user");
}

/// Error data must point into the input, on a character boundary.
fn check_error(input: &str, e: &FilterError) {
    assert!(e.offset <= e.input.len(), "{e:?}");
    assert!(e.input.is_char_boundary(e.offset), "{e:?}");
    assert!(input.starts_with(&e.input), "{e:?}");
    let _ = e.to_string();
}

/// The canonical text may be longer than what was parsed (spaces around
/// operators, `members` spelled `members.value`, escapes), so a filter near
/// the length limit can print to text over it. That is the only acceptable
/// reason for the printed form not to parse.
fn round_trip_failed(input: &str, printed: &str, e: &FilterError) {
    let too_long = matches!(e.kind, FilterErrorKind::TooLong { .. });
    assert!(
        too_long && printed.len() > MAX_FILTER_LEN,
        "{input:?} printed as {printed:?}, which does not parse: {e}"
    );
}

fn meta() -> Meta {
    Meta {
        created: 1_795_000_000_000_000,
        last_modified: 1_795_000_000_000_001,
        version: "W/\"1\"".into(),
    }
}

/// A rendered user, with every optional attribute or with none.
fn user_view(full: bool) -> Value {
    let attrs = if full {
        UserAttributes {
            user_name: "Ada.Lovelace@example.com".into(),
            display_name: "Ada Lovelace".into(),
            name: Name {
                formatted: Some("Ada King, Countess of Lovelace".into()),
                family_name: Some("Lovelace".into()),
                given_name: Some("Ada".into()),
                middle_name: Some("Augusta".into()),
                honorific_prefix: Some("Countess".into()),
                honorific_suffix: Some("FRS".into()),
            },
            title: Some("Analyst".into()),
            phone: Some(Phone {
                value: "+46701234567".into(),
                kind: Some("mobile".into()),
            }),
            external_id: Some("e-1".into()),
            email: Some(Email::of_user_name("Ada.Lovelace@example.com")),
            active: Some(true),
        }
    } else {
        UserAttributes {
            user_name: "bob@example.com".into(),
            display_name: "Bob".into(),
            name: Name::default(),
            title: None,
            phone: None,
            external_id: None,
            email: Some(Email::of_user_name("bob@example.com")),
            active: None,
        }
    };
    render_user(BASE, "u-1", &attrs, &meta(), None)
}

fn group_view() -> Value {
    render_group(BASE, "g-1", "Staff", Some("obj-1"), None, &meta())
}

/// Resources to evaluate filters on: well-formed views, and one whose
/// attributes have every wrong JSON type, since the evaluator must be total.
fn samples() -> &'static [Value; 3] {
    static SAMPLES: OnceLock<[Value; 3]> = OnceLock::new();
    SAMPLES.get_or_init(build_samples)
}

fn build_samples() -> [Value; 3] {
    let mut user = user_view(true);
    user["groups"] = json!([{"value": "g-1", "display": "Staff", "type": "direct"}]);
    user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
        json!({"employeeNumber": "42", "manager": {"value": "u-2"}});
    let mut group = render_group(
        BASE,
        "g-1",
        "Staff",
        Some("obj-1"),
        Some(&[resource::MemberRef {
            id: "u-1".into(),
            display: "Ada".into(),
        }]),
        &meta(),
    );
    if let Some(members) = group["members"].as_array_mut() {
        members.push(Value::Null);
    }
    let odd = json!({
        "id": 7,
        "USERNAME": ["a", null, 3],
        "name": "not an object",
        "displayName": {"value": "x"},
        "active": "True",
        "emails": [null, 1, "x", {"value": null, "type": ["work"], "primary": "yes"}],
        "phoneNumbers": {"value": 46701234567i64},
        "members": [[], {}, {"value": 1.5e300}],
        "meta": {"created": "yesterday", "lastModified": 12, "resourceType": null},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": [1, 2],
    });
    [user, group, odd]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every seed passes its target's checks: a seed that crashes would
    /// make AFL refuse to start.
    #[test]
    fn seeds_pass() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let targets: [(&str, super::Check); 3] = [
            ("filter", super::filter),
            ("path", super::path),
            ("patch", super::patch),
        ];
        for (name, check) in targets {
            let mut n = 0;
            for entry in std::fs::read_dir(dir.join(name)).expect("seed folder") {
                let file = entry.expect("seed").path();
                let data = std::fs::read(&file).expect("read seed");
                println!("{}", file.display());
                check(&data);
                n += 1;
            }
            assert!(n > 0, "no seeds for {name}");
        }
    }
}
