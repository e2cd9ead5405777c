//! Interoperability: replays what identity providers send, as their public
//! documentation describes it, against the real router on SQLite and on
//! PostgreSQL.
//!
//! Each file under `tests/data/conversations/<provider>/<name>.json` is one
//! conversation: the tenant URL the administrator typed (with Entra's
//! `?aadOptscim062020` or without it), the groups an administrator created
//! beforehand (`setup`), then the requests in the order the provider sends
//! them, each with the status, `scimType` and body parts we must answer,
//! and the values later steps reuse (`capture`). A final `state` is checked
//! in the store itself, not through SCIM, so a response that looks right
//! cannot hide a change that did not happen (or one that should not have).
//!
//! The format, in brief (all keys but `steps` optional where it makes sense):
//!
//! ```json
//! {"provider": "entra", "name": "<file stem>", "description": "…",
//!  "source": ["https://… the public page the requests come from"],
//!  "tenantUrl": "/scim/v2?aadOptscim062020",
//!  "generate": {"probe": "uuid"},
//!  "setup": {"policy": {"groupCreation": "scim"},
//!            "groups": [{"displayName": "…", "externalId": "…", "as": "group_id"}]},
//!  "steps": [{"note": "…",
//!     "request": {"method": "GET", "path": "/Users?filter=userName eq \"${probe}\"",
//!                 "headers": {…}, "body": {…}},
//!     "expect": {"status": 200, "scimType": "uniqueness",
//!                "body": {…a subset…}, "pointers": {"/totalResults": 0},
//!                "lengths": {"/Resources": 0}, "present": ["/id"], "absent": ["/members"],
//!                "differs": {"/id": "${old_id}"}},
//!     "capture": {"user_id": "/id"}}],
//!  "state": {"users": [{"userName": "…", "exists": false}],
//!            "groups": [{"id": "${group_id}", "members": ["${user_id}"]}],
//!            "events": {"user.deprovisioned": 1}}}
//! ```
//!
//! `${name}` is replaced in paths, headers, bodies and expectations; a JSON
//! string that is exactly `"${name}"` becomes the captured value itself.
//! Query strings are percent-encoded as a client would.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::common::{self, TestApp, test_config};
use scimitar_core::ids::GroupId;
use scimitar_core::model::ListQuery;
use scimitar_core::testing::Backend;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Conversation {
    provider: String,
    name: String,
    description: String,
    source: Vec<String>,
    /// Path and query of the tenant URL, e.g. `/scim/v2?aadOptscim062020`;
    /// the server's base path is configured from it.
    tenant_url: String,
    #[serde(default)]
    generate: BTreeMap<String, Generator>,
    #[serde(default)]
    setup: Setup,
    steps: Vec<Step>,
    #[serde(default)]
    state: Option<State>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Generator {
    /// A fresh random GUID, as Entra's Test Connection uses.
    Uuid,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    /// The tenant's policies, as `PATCH /admin/v1/tenants/{t}/policy`
    /// takes them; the defaults when absent.
    #[serde(default)]
    policy: Option<Value>,
    #[serde(default)]
    groups: Vec<SetupGroup>,
}

/// A group an administrator created before provisioning started.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SetupGroup {
    display_name: String,
    external_id: Option<String>,
    /// The variable that receives the group's id.
    #[serde(rename = "as")]
    var: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    note: String,
    request: StepRequest,
    expect: Expect,
    #[serde(default)]
    capture: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRequest {
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expect {
    status: u16,
    /// Absent: not checked; `null`: the error must have no scimType.
    #[serde(default, deserialize_with = "explicit")]
    scim_type: Option<Value>,
    /// A subset the body must contain (arrays: every expected element
    /// matches a distinct actual one, in any order).
    body: Option<Value>,
    /// JSON pointers and their exact values.
    #[serde(default)]
    pointers: BTreeMap<String, Value>,
    /// JSON pointers to arrays and their lengths.
    #[serde(default)]
    lengths: BTreeMap<String, usize>,
    #[serde(default)]
    present: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    /// JSON pointers whose values must differ from these.
    #[serde(default)]
    differs: BTreeMap<String, Value>,
}

/// Keeps an explicit `null` apart from a missing key.
fn explicit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default)]
    users: Vec<UserState>,
    #[serde(default)]
    groups: Vec<GroupState>,
    /// Event kinds and how many of each the tenant's outbox holds.
    #[serde(default)]
    events: BTreeMap<String, usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UserState {
    user_name: String,
    exists: bool,
    /// When it exists: its id.
    id: Option<String>,
    /// When it exists: its stored `active` (`null`: unassigned).
    #[serde(default, deserialize_with = "explicit")]
    active: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GroupState {
    id: String,
    /// The exact member set, in any order.
    members: Option<Vec<String>>,
    display_name: Option<String>,
    /// A string, or `null` for none.
    #[serde(default, deserialize_with = "explicit")]
    external_id: Option<Value>,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/conversations")
}

/// Reads and checks one conversation file (`provider/name`, no extension).
fn load(file: &str) -> Conversation {
    let path = corpus_dir().join(format!("{file}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let conversation: Conversation = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a conversation: {e}", path.display()));
    let (provider, name) = file.split_once('/').expect("provider/name");
    assert_eq!(conversation.provider, provider, "{file}: provider");
    assert_eq!(conversation.name, name, "{file}: name");
    assert!(
        !conversation.description.trim().is_empty(),
        "{file}: a description"
    );
    assert!(
        !conversation.source.is_empty()
            && conversation
                .source
                .iter()
                .all(|s| s.starts_with("https://")),
        "{file}: every conversation cites the public page it replays"
    );
    assert!(!conversation.steps.is_empty(), "{file}: steps");
    conversation
}

async fn replay_on(backend: Backend, file: &str) {
    let app = TestApp::with_config(backend, config_for(file, test_config())).await;
    replay(&app, file).await;
    app.finish().await;
}

/// `config` with the SCIM base path conversation `file` talks to.
pub fn config_for(file: &str, config: common::ServerConfig) -> common::ServerConfig {
    let conversation = load(file);
    let (base_path, _) = split_query(&conversation.tenant_url);
    common::ServerConfig {
        scim_base_path: base_path.to_owned(),
        ..config
    }
}

/// Replays conversation `file` against `app` (configured by
/// [`config_for`]), checking every answer and the state it ends in.
pub async fn replay(app: &TestApp, file: &str) {
    let conversation = load(file);
    Replay::new(app, file, &conversation).run().await;
}

struct Replay<'a> {
    app: &'a TestApp,
    file: &'a str,
    conversation: &'a Conversation,
    vars: HashMap<String, Value>,
}

impl<'a> Replay<'a> {
    fn new(app: &'a TestApp, file: &'a str, conversation: &'a Conversation) -> Self {
        Replay {
            app,
            file,
            conversation,
            vars: HashMap::new(),
        }
    }

    async fn run(mut self) {
        for (name, generator) in &self.conversation.generate {
            let value = match generator {
                Generator::Uuid => uuid::Uuid::new_v4().to_string(),
            };
            self.vars.insert(name.clone(), Value::String(value));
        }
        if let Some(policy) = &self.conversation.setup.policy {
            let path = format!("/admin/v1/tenants/{}/policy", self.app.tenant);
            let res = common::admin(self.app, "PATCH", &path, Some(policy.clone())).await;
            assert_eq!(res.status, 200, "{}: the policy: {}", self.file, res.text);
        }
        for group in &self.conversation.setup.groups {
            let id = self
                .app
                .create_group(&group.display_name, group.external_id.as_deref())
                .await;
            self.vars.insert(group.var.clone(), Value::String(id));
        }
        for (index, step) in self.conversation.steps.iter().enumerate() {
            let at = format!("{} step {} ({})", self.file, index + 1, step.note);
            self.step(&at, step).await;
        }
        if let Some(state) = &self.conversation.state {
            self.check_state(state).await;
        }
    }

    async fn step(&mut self, at: &str, step: &Step) {
        let request = &step.request;
        let path = self.text(at, &request.path);
        let url = join_url(&self.conversation.tenant_url, &path);
        let body = request.body.as_ref().map(|b| self.value(at, b));
        let headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), self.text(at, v)))
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = self
            .app
            .request_with(&request.method, &url, body, &headers)
            .await;
        let at = format!("{at}: {} {url}", request.method);
        self.check(&at, &step.expect, &res);
        for (name, pointer) in &step.capture {
            let value = res
                .body
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{at}: nothing at {pointer} to capture: {}", res.text));
            self.vars.insert(name.clone(), value.clone());
        }
    }

    fn check(&self, at: &str, expect: &Expect, res: &common::TestResponse) {
        assert_eq!(
            res.status, expect.status,
            "{at}: status; body: {}",
            res.text
        );
        if res.status == 204 || res.status == 304 {
            assert!(res.text.is_empty(), "{at}: {} has no body", res.status);
        } else {
            let content_type = res.header("content-type").unwrap_or_default();
            assert!(
                content_type.starts_with("application/scim+json"),
                "{at}: content type {content_type:?}"
            );
        }
        if res.status >= 400 {
            assert_eq!(
                res.body["schemas"],
                serde_json::json!([ERROR_URN]),
                "{at}: a SCIM error object: {}",
                res.text
            );
            assert_eq!(
                res.body["status"],
                Value::String(res.status.to_string()),
                "{at}: the error's status: {}",
                res.text
            );
            assert!(
                res.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{at}: an error detail a person can act on: {}",
                res.text
            );
        }
        if res.status == 201 {
            assert!(
                res.header("location").is_some()
                    && res.header("location") == res.body["meta"]["location"].as_str(),
                "{at}: Location is meta.location: {:?} / {}",
                res.header("location"),
                res.text
            );
        }
        if let Some(expected) = &expect.scim_type {
            let expected = self.value(at, expected);
            let actual = res.body.get("scimType").cloned().unwrap_or(Value::Null);
            assert_eq!(actual, expected, "{at}: scimType; body: {}", res.text);
        }
        if let Some(expected) = &expect.body {
            let expected = self.value(at, expected);
            if let Err(why) = subset(&expected, &res.body, "") {
                panic!("{at}: body: {why}\nbody: {}", res.text);
            }
        }
        for (pointer, expected) in &expect.pointers {
            let expected = self.value(at, expected);
            assert_eq!(
                res.body.pointer(pointer),
                Some(&expected),
                "{at}: {pointer}; body: {}",
                res.text
            );
        }
        for (pointer, length) in &expect.lengths {
            let actual = res
                .body
                .pointer(pointer)
                .and_then(Value::as_array)
                .map(Vec::len);
            assert_eq!(
                actual,
                Some(*length),
                "{at}: length of {pointer}; body: {}",
                res.text
            );
        }
        for pointer in &expect.present {
            assert!(
                res.body.pointer(pointer).is_some(),
                "{at}: {pointer} is present; body: {}",
                res.text
            );
        }
        for pointer in &expect.absent {
            assert!(
                res.body.pointer(pointer).is_none(),
                "{at}: {pointer} is absent; body: {}",
                res.text
            );
        }
        for (pointer, other) in &expect.differs {
            let other = self.value(at, other);
            let actual = res.body.pointer(pointer);
            assert!(
                actual.is_some() && actual != Some(&other),
                "{at}: {pointer} differs from {other}; body: {}",
                res.text
            );
        }
    }

    async fn check_state(&self, state: &State) {
        let at = format!("{} final state", self.file);
        let store = &self.app.store;
        let tenant = &self.app.tenant;
        for user in &state.users {
            let user_name = self.text(&at, &user.user_name);
            let filter = format!("userName eq {}", Value::String(user_name.clone()));
            let filter = scimitar_proto::filter::parse(&scimitar_proto::schema::USER, &filter)
                .expect("a userName filter");
            let page = store
                .list_users(
                    tenant,
                    &ListQuery {
                        filter: Some(filter),
                        limit: 10,
                        ..ListQuery::default()
                    },
                )
                .await
                .expect("list users");
            assert_eq!(
                !page.items.is_empty(),
                user.exists,
                "{at}: whether user {user_name} exists"
            );
            if let Some(id) = &user.id {
                let id = self.text(&at, id);
                assert_eq!(page.items[0].id.as_str(), id, "{at}: id of {user_name}");
            }
            if let Some(active) = &user.active {
                let stored = page.items[0].attrs.active.map_or(Value::Null, Value::Bool);
                assert_eq!(&stored, active, "{at}: active of {user_name}");
            }
        }
        for group in &state.groups {
            let id = GroupId::from(self.text(&at, &group.id));
            let stored = store
                .get_group(tenant, &id)
                .await
                .expect("the group exists");
            if let Some(name) = &group.display_name {
                assert_eq!(&stored.display_name, name, "{at}: displayName of {id:?}");
            }
            if let Some(external) = &group.external_id {
                let expected = self.value(&at, external);
                assert_eq!(
                    stored.external_id.map_or(Value::Null, Value::String),
                    expected,
                    "{at}: externalId of {id:?}"
                );
            }
            if let Some(members) = &group.members {
                let mut expected: Vec<String> = members.iter().map(|m| self.text(&at, m)).collect();
                let mut actual: Vec<String> = store
                    .members_of(tenant, std::slice::from_ref(&id))
                    .await
                    .expect("members")
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| m.user_id.to_string())
                    .collect();
                expected.sort();
                actual.sort();
                assert_eq!(actual, expected, "{at}: members of {id:?}");
            }
        }
        if !state.events.is_empty() {
            let events = store
                .events(Some(tenant), &[], 0, 100_000)
                .await
                .expect("events");
            for (kind, count) in &state.events {
                let actual = events.iter().filter(|e| &e.kind == kind).count();
                assert_eq!(actual, *count, "{at}: number of {kind} events");
            }
        }
    }

    /// `${name}` replaced by the variable's value inside a string.
    fn text(&self, at: &str, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .unwrap_or_else(|| panic!("{at}: unclosed ${{ in {template:?}"));
            let name = &after[..end];
            match self.vars.get(name) {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => panic!("{at}: no variable {name:?} (captured or generated so far)"),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Substitutes variables throughout a JSON value.
    fn value(&self, at: &str, template: &Value) -> Value {
        match template {
            Value::String(s) => {
                let whole = s
                    .strip_prefix("${")
                    .and_then(|r| r.strip_suffix('}'))
                    .filter(|name| !name.contains(['$', '{', '}']));
                match whole.and_then(|name| self.vars.get(name)) {
                    Some(v) => v.clone(),
                    None => Value::String(self.text(at, s)),
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(at, v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.text(at, k), self.value(at, v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// `expected` is contained in `actual`.
fn subset(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let here = format!("{at}/{key}");
                let av = a.get(key).ok_or_else(|| format!("{here} is missing"))?;
                subset(ev, av, &here)?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            let mut used = vec![false; a.len()];
            for (i, ev) in e.iter().enumerate() {
                let found = a
                    .iter()
                    .enumerate()
                    .find(|(j, av)| !used[*j] && subset(ev, av, "").is_ok())
                    .map(|(j, _)| j)
                    .ok_or_else(|| format!("{at}/{i}: no element matches {ev}"))?;
                used[found] = true;
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{at} is {actual}, expected {expected}")),
    }
}

fn split_query(url: &str) -> (&str, Option<&str>) {
    match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url, None),
    }
}

/// The tenant URL's path, then the step's path, then the tenant URL's
/// query (Entra keeps its flag first) and the step's, percent-encoded.
fn join_url(tenant_url: &str, step_path: &str) -> String {
    let (base, base_query) = split_query(tenant_url);
    let (path, query) = split_query(step_path);
    let mut url = format!("{}{path}", base.trim_end_matches('/'));
    let queries: Vec<String> = [base_query, query]
        .into_iter()
        .flatten()
        .filter(|q| !q.is_empty())
        .map(encode_query)
        .collect();
    if !queries.is_empty() {
        url.push('?');
        url.push_str(&queries.join("&"));
    }
    url
}

/// Percent-encodes a query as clients do: `=` and `&` stay structure,
/// spaces, quotes, `+` and brackets are escaped.
fn encode_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len() * 2);
    for byte in query.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"=&-._~:/@,;!$'()*".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One test per conversation, named after the client whose behaviour it
/// replays, on each backend; `CORPUS` lists them so that a file nobody
/// replays fails `every_conversation_file_is_replayed`.
macro_rules! conversations {
    ($($test:ident => $file:literal,)*) => {
        const CORPUS: &[&str] = &[$($file),*];
        $(
            async fn $test(backend: Backend) {
                replay_on(backend, $file).await;
            }
        )*
        scimitar_core::on_every_backend!(
            scimitar_core::testing::with_backend;
            $($test),*
        );
    };
}

conversations! {
    entra_create_user_with_enterprise_extension => "entra/create_user_with_enterprise_extension",
    entra_disable_with_boolean => "entra/disable_with_boolean",
    entra_disable_keeps_the_user => "entra/disable_keeps_the_user",
    entra_disable_with_string_false => "entra/disable_with_string_false",
    entra_group_create => "entra/group_create",
    entra_group_create_refused => "entra/group_create_refused",
    entra_group_matching_by_display_name => "entra/group_matching_by_display_name",
    entra_group_matching_by_external_id => "entra/group_matching_by_external_id",
    entra_hard_delete => "entra/hard_delete",
    entra_member_adds_in_batches => "entra/member_adds_in_batches",
    entra_member_removal_legacy_value_list => "entra/member_removal_legacy_value_list",
    entra_member_removal_with_path_filter => "entra/member_removal_with_path_filter",
    entra_multi_attribute_replace_legacy => "entra/multi_attribute_replace_legacy",
    entra_multi_attribute_replace_without_path => "entra/multi_attribute_replace_without_path",
    entra_phone_number_set_at_creation => "entra/phone_number_set_at_creation",
    entra_reenable_after_deprovision => "entra/reenable_after_deprovision",
    entra_test_connection => "entra/test_connection",
    entra_user_matching_by_external_id => "entra/user_matching_by_external_id",
    entra_user_matching_by_user_name => "entra/user_matching_by_user_name",
    entra_user_principal_name_change => "entra/user_principal_name_change",
    jumpcloud_value_list_member_patch => "jumpcloud/value_list_member_patch",
    okta_create_user_with_password_groups_locale => "okta/create_user_with_password_groups_locale",
    okta_group_linking => "okta/group_linking",
    okta_group_put_membership => "okta/group_put_membership",
    okta_group_push_creates => "okta/group_push_creates",
    okta_group_push_refused => "okta/group_push_refused",
    okta_lookup_with_paging => "okta/lookup_with_paging",
    okta_patch_deactivate_without_path => "okta/patch_deactivate_without_path",
    okta_put_deactivates => "okta/put_deactivates",
    okta_put_deactivates_and_keeps => "okta/put_deactivates_and_keeps",
    okta_put_profile_change => "okta/put_profile_change",
    onelogin_provisioning_lifecycle => "onelogin/provisioning_lifecycle",
}

#[test]
fn every_conversation_file_is_replayed() {
    let mut found = Vec::new();
    for provider in std::fs::read_dir(corpus_dir()).expect("corpus directory") {
        let provider = provider.expect("entry").path();
        for file in std::fs::read_dir(&provider).expect("provider directory") {
            let file = file.expect("entry").path();
            assert_eq!(
                file.extension().and_then(|e| e.to_str()),
                Some("json"),
                "{}: only conversation files belong here",
                file.display()
            );
            let provider = provider.file_name().and_then(|n| n.to_str()).expect("name");
            let stem = file.file_stem().and_then(|n| n.to_str()).expect("name");
            found.push(format!("{provider}/{stem}"));
        }
    }
    found.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(found, listed, "the corpus and the replayed list differ");
    for file in CORPUS {
        load(file);
    }
}

#[test]
fn urls_are_joined_and_encoded_as_clients_send_them() {
    assert_eq!(
        join_url(
            "/scim/v2?aadOptscim062020",
            "/Users?filter=userName eq \"a+b@x.com\""
        ),
        "/scim/v2/Users?aadOptscim062020&filter=userName%20eq%20%22a%2Bb@x.com%22"
    );
    assert_eq!(
        join_url("/core/v1/scim/v2/", "/Groups/7"),
        "/core/v1/scim/v2/Groups/7"
    );
    assert!(
        subset(
            &serde_json::json!({"a": [2]}),
            &serde_json::json!({"a": [1, 2], "b": 0}),
            ""
        )
        .is_ok()
    );
    assert!(
        subset(
            &serde_json::json!({"a": [2, 2]}),
            &serde_json::json!({"a": [2]}),
            ""
        )
        .is_err()
    );
}
