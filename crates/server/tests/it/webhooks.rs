//! Webhooks: a real receiver over a loopback socket, signatures checked by
//! the `standardwebhooks` crate (an implementation we did not write), the
//! deliverer on a manual clock so that a day of retries takes no day.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use scimitar_core::clock::Clock;
use scimitar_core::domain::{OutboundPolicy, Service};
use scimitar_server::webhooks::{self, Settings};
use serde_json::{Value, json};

use scimitar_core::testing::Backend;

use crate::common::*;
use crate::interop;

/// What the receiver answers one request.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    retry_after: Option<&'static str>,
    location: Option<String>,
    delay: Duration,
}

impl Answer {
    fn status(status: u16) -> Answer {
        Answer {
            status,
            retry_after: None,
            location: None,
            delay: Duration::ZERO,
        }
    }
}

#[derive(Default)]
struct Script {
    /// Answers to give, in order; then `otherwise`.
    next: VecDeque<Answer>,
    otherwise: Option<Answer>,
    got: Vec<(HeaderMap, Vec<u8>)>,
}

/// An HTTP server on 127.0.0.1 that records every request and answers as
/// scripted (204 unless told otherwise).
#[derive(Clone)]
struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, script }
    }

    fn then(&self, answer: Answer) {
        self.script.lock().unwrap().next.push_back(answer);
    }

    fn otherwise(&self, answer: Answer) {
        self.script.lock().unwrap().otherwise = Some(answer);
    }

    fn got(&self) -> Vec<(HeaderMap, Vec<u8>)> {
        self.script.lock().unwrap().got.clone()
    }

    /// The bodies received, as JSON.
    fn bodies(&self) -> Vec<Value> {
        self.got()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    }

    fn seqs(&self) -> Vec<i64> {
        self.bodies()
            .iter()
            .map(|b| b["seq"].as_i64().unwrap())
            .collect()
    }

    /// Waits (bounded) until `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Vec<u8>)> {
        eventually(&format!("{n} webhook requests"), || {
            let got = self.got();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

async fn receive(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let answer = {
        let mut script = script.lock().unwrap();
        script.got.push((headers, body.to_vec()));
        let otherwise = script.otherwise.clone();
        script
            .next
            .pop_front()
            .or(otherwise)
            .unwrap_or(Answer::status(204))
    };
    tokio::time::sleep(answer.delay).await;
    let mut response = StatusCode::from_u16(answer.status).unwrap().into_response();
    if let Some(after) = answer.retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    if let Some(location) = answer.location {
        response
            .headers_mut()
            .insert("location", location.parse().unwrap());
    }
    response
}

/// Polls `check` until it answers, for at most 15 s.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..750 {
        if let Some(found) = check() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not within 15 s");
}

/// Test settings: a quick poll, a short timeout.
fn settings() -> Settings {
    Settings {
        poll: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
        ..Settings::default()
    }
}

/// The configuration of these tests: a manual clock, loopback allowed.
fn config() -> ServerConfig {
    ServerConfig {
        clock: Clock::manual(),
        outbound: OutboundPolicy::allowing("127.0.0.1").unwrap(),
        ..test_config()
    }
}

/// A deliverer over the app's store, on its clock.
fn deliverer(app: &TestApp, settings: Settings) -> webhooks::Delivering {
    let service = Service::with_clock(app.store.clone(), app.config.clock.clone())
        .with_outbound(app.config.outbound.clone());
    webhooks::start(service, settings).unwrap()
}

/// Registers an endpoint; its id and secret.
async fn register(app: &TestApp, body: Value) -> (String, String) {
    let res = admin(app, "POST", "/admin/v1/webhook-endpoints", Some(body)).await;
    assert_eq!(res.status, 201, "{}", res.text);
    (
        res.body["id"].as_str().unwrap().to_owned(),
        res.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn endpoint(app: &TestApp, id: &str) -> Value {
    let res = admin(
        app,
        "GET",
        &format!("/admin/v1/webhook-endpoints/{id}"),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body
}

/// The endpoint once `done` says so of it (waiting at most 10 s).
async fn endpoint_when(
    app: &TestApp,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let state = endpoint(app, id).await;
        if done(&state) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 10 s: {}", endpoint(app, id).await);
}

/// The attempt log once it holds `n` attempts (waiting at most 10 s).
async fn attempts_when(app: &TestApp, id: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let log = attempts(app, id).await;
        if log.len() >= n {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{n} attempts: not within 10 s: {:?}",
        attempts(app, id).await
    );
}

async fn attempts(app: &TestApp, id: &str) -> Vec<Value> {
    let path = format!("/admin/v1/webhook-endpoints/{id}/attempts?limit=1000");
    let res = admin(app, "GET", &path, None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let mut all = res.body["attempts"].as_array().unwrap().clone();
    all.reverse();
    all
}

/// The feed's events after `after`, as the feed shows them.
async fn feed_after(app: &TestApp, after: i64) -> Vec<Value> {
    let auth = format!("Bearer {APP_TOKEN}");
    let res = app
        .request_with(
            "GET",
            &format!("/app/v1/events?after={after}&limit=1000"),
            None,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["events"].as_array().unwrap().clone()
}

/// The newest sequence number now.
async fn newest(app: &TestApp) -> i64 {
    feed_after(app, 0)
        .await
        .last()
        .map_or(0, |e| e["seq"].as_i64().unwrap())
}

/// Checks every message with `secret` through the `standardwebhooks`
/// crate, and that `webhook-id` is the body's id.
fn verify(got: &[(HeaderMap, Vec<u8>)], secret: &str) {
    let verifier = standardwebhooks::Webhook::new(secret).unwrap();
    for (headers, body) in got {
        verifier
            .verify(body, headers)
            .unwrap_or_else(|e| panic!("signature refused: {e:?}"));
        let id = headers["webhook-id"].to_str().unwrap();
        let json: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(json["id"], id);
        assert_eq!(headers["content-type"], "application/json");
    }
}

/// Every event of replayed identity-provider conversations reaches the
/// endpoint once, in order, as the feed shows it, correctly signed.
pub(super) async fn every_event_of_a_replayed_conversation_arrives_once_in_order(backend: Backend) {
    let mut kinds = std::collections::BTreeSet::new();
    let files = [
        "entra/member_adds_in_batches",
        "entra/member_removal_with_path_filter",
        "entra/disable_with_boolean",
        "entra/user_principal_name_change",
        "entra/group_matching_by_external_id",
        "entra/hard_delete",
    ];
    let kind = backend.kind();
    let mut first = Some(backend);
    for file in files {
        let backend = match first.take() {
            Some(backend) => backend,
            None => Backend::of(kind).await.unwrap(),
        };
        let app = TestApp::with_config(backend, interop::config_for(file, config())).await;
        let receiver = Receiver::start().await;
        let (_, secret) = register(&app, json!({"url": receiver.url})).await;
        let start = newest(&app).await;
        let delivering = deliverer(&app, settings());
        interop::replay(&app, file).await;
        let expected = feed_after(&app, start).await;
        assert!(!expected.is_empty(), "{file} made no events");
        let got = receiver.wait_for(expected.len()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(receiver.bodies(), expected, "{file}: once each, in order");
        verify(&got, &secret);
        kinds.extend(
            expected
                .iter()
                .map(|e| e["type"].as_str().unwrap().to_owned()),
        );
        delivering.abort();
        app.finish().await;
    }
    for kind in [
        "user.created",
        "user.updated",
        "user.deprovisioned",
        "group.members_added",
        "group.members_removed",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
}

/// The rest of the types, from the admin API and the application API:
/// filtered by tenant and type where the endpoint says so.
async fn endpoints_get_only_the_tenants_and_types_they_asked_for(app: &TestApp) {
    let all = Receiver::start().await;
    let keys = Receiver::start().await;
    let theirs = Receiver::start().await;
    let start = newest(app).await;
    let (_, all_secret) = register(app, json!({"url": all.url})).await;
    register(
        app,
        json!({"url": keys.url, "tenantId": app.tenant.as_str(),
               "types": ["apikey.issued", "apikey.revoked"]}),
    )
    .await;
    let (other, _) = app.other_tenant().await;
    register(app, json!({"url": theirs.url, "tenantId": other.as_str()})).await;
    let delivering = deliverer(app, settings());

    let tenant = app.tenant.as_str();
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/apikeys"),
        Some(json!({"label": "second"})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let key = res.body["id"].as_str().unwrap().to_owned();
    admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/apikeys/{key}/revoke"),
        None,
    )
    .await;
    let group = app.create_group("Staff", Some("g-1")).await;
    let user = app.create_user("ann@example.com").await;
    let auth = format!("Bearer {APP_TOKEN}");
    let res = app
        .request_with(
            "POST",
            "/app/v1/sessions",
            Some(json!({"userId": user})),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    app.request("DELETE", &app.scim(&format!("/Users/{user}")), None)
        .await;
    let res = admin(
        app,
        "DELETE",
        &format!("/admin/v1/tenants/{tenant}/groups/{group}"),
        None,
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.text);

    let expected = feed_after(app, start).await;
    let kinds: Vec<&str> = expected
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for kind in [
        "apikey.issued",
        "apikey.revoked",
        "group.created",
        "user.created",
        "user.deprovisioned",
        "sessions.revoked",
        "group.deleted",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let got = all.wait_for(expected.len()).await;
    verify(&got, &all_secret);
    keys.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(all.bodies(), expected);
    let key_kinds: Vec<Value> = keys.bodies().iter().map(|b| b["type"].clone()).collect();
    assert_eq!(key_kinds, [json!("apikey.issued"), json!("apikey.revoked")]);
    assert!(
        theirs.got().is_empty(),
        "another tenant's endpoint got ours"
    );
    delivering.abort();
}

/// A failing endpoint is retried, in order, after its back-off; another
/// endpoint meanwhile gets everything at once.
async fn a_failing_endpoint_holds_back_only_its_own_events(app: &TestApp) {
    let failing = Receiver::start().await;
    let healthy = Receiver::start().await;
    let (failing_id, _) = register(app, json!({"url": failing.url})).await;
    register(app, json!({"url": healthy.url})).await;
    failing.then(Answer::status(500));
    let delivering = deliverer(app, settings());
    let start = newest(app).await;
    for n in 0..3 {
        app.create_user(&format!("u{n}@example.com")).await;
    }
    healthy.wait_for(3).await;
    failing.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(failing.got().len(), 1, "held back until its retry is due");
    let state = endpoint(app, &failing_id).await;
    assert_eq!(state["failures"], 1);
    assert_eq!(state["deliveredThrough"], start);
    assert!(state["failingSince"].is_string());

    app.config.clock.advance(Duration::from_secs(7));
    failing.wait_for(4).await;
    let first = start + 1;
    assert_eq!(failing.seqs(), [first, first, first + 1, first + 2]);
    // The receiver answers before the deliverer records the attempt.
    let log: Vec<(Value, Value)> = attempts_when(app, &failing_id, 4)
        .await
        .iter()
        .map(|a| (a["eventSeq"].clone(), a["status"].clone()))
        .collect();
    assert_eq!(
        log,
        [
            (json!(first), json!(500)),
            (json!(first), json!(204)),
            (json!(first + 1), json!(204)),
            (json!(first + 2), json!(204)),
        ]
    );
    let state = endpoint(app, &failing_id).await;
    assert_eq!(state["failures"], 0);
    assert_eq!(state["failingSince"], Value::Null);
    assert_eq!(state["deliveredThrough"], first + 2);
    delivering.abort();
}

/// Down for a simulated day: retried with growing delays, delivered when
/// it is back; down for three days: disabled, and says why; enabled
/// again: delivered where it stopped.
async fn an_endpoint_down_for_a_day_gets_its_events_when_it_is_back(app: &TestApp) {
    let receiver = Receiver::start().await;
    receiver.otherwise(Answer::status(503));
    let (id, _) = register(app, json!({"url": receiver.url})).await;
    let delivering = deliverer(app, settings());
    app.create_user("ann@example.com").await;
    receiver.wait_for(1).await;
    for _ in 0..24 {
        app.config.clock.advance(Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let tries = eventually("the retries", || {
        let n = receiver.got().len();
        (n >= 10).then_some(n)
    })
    .await;
    assert!(tries < 40, "backed off: {tries} attempts in a day");
    assert!(endpoint(app, &id).await["disabled"].is_null());
    receiver.otherwise(Answer::status(200));
    app.config.clock.advance(Duration::from_secs(5 * 3600));
    let now = endpoint_when(app, &id, "caught up after the day", |e| e["failures"] == 0).await;
    let seen = receiver.seqs();
    assert_eq!(now["deliveredThrough"], *seen.last().unwrap());
    assert!(seen.len() > tries);

    // Three days without a success disable it.
    receiver.otherwise(Answer::status(500));
    app.create_user("bob@example.com").await;
    let before = receiver.got().len();
    receiver.wait_for(before + 1).await;
    for _ in 0..(3 * 24 + 5) {
        app.config.clock.advance(Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let state = endpoint_when(app, &id, "disabled", |e| !e["disabled"].is_null()).await;
    let reason = state["disabledReason"].as_str().unwrap();
    assert!(
        reason.contains("3 days") && reason.contains("500"),
        "{reason}"
    );
    let attempts_then = receiver.got().len();
    app.config.clock.advance(Duration::from_secs(86_400));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.got().len(),
        attempts_then,
        "a disabled endpoint is left alone"
    );

    receiver.otherwise(Answer::status(204));
    let res = admin(
        app,
        "PATCH",
        &format!("/admin/v1/webhook-endpoints/{id}"),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body["disabled"].is_null());
    receiver.wait_for(attempts_then + 1).await;
    let last = receiver.bodies().last().unwrap().clone();
    assert_eq!(last["data"]["userName"], "bob@example.com");
    delivering.abort();
}

/// 410 disables at once; 429 and 503 are retried when `Retry-After`
/// says; a redirect is not followed; an answer slower than the timeout is
/// a failure.
async fn gone_retry_after_redirects_and_timeouts(app: &TestApp) {
    let receiver = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    let (id, _) = register(app, json!({"url": receiver.url})).await;
    receiver.then(Answer {
        retry_after: Some("120"),
        ..Answer::status(429)
    });
    receiver.then(Answer {
        location: Some(elsewhere.url.clone()),
        ..Answer::status(307)
    });
    receiver.then(Answer {
        delay: Duration::from_secs(3),
        ..Answer::status(204)
    });
    receiver.then(Answer::status(410));
    let delivering = deliverer(
        app,
        Settings {
            timeout: Duration::from_millis(500),
            ..settings()
        },
    );
    app.create_user("ann@example.com").await;
    attempts_when(app, &id, 1).await;
    app.config.clock.advance(Duration::from_secs(100));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.got().len(), 1, "Retry-After: 120 is waited for");
    app.config.clock.advance(Duration::from_secs(21));
    attempts_when(app, &id, 2).await;
    app.config.clock.advance(Duration::from_secs(60));
    attempts_when(app, &id, 3).await;
    app.config.clock.advance(Duration::from_secs(60));
    attempts_when(app, &id, 4).await;
    let state = endpoint_when(app, &id, "disabled by 410", |e| !e["disabled"].is_null()).await;
    assert_eq!(state["disabledReason"], "the endpoint answered 410 Gone");
    let log = attempts(app, &id).await;
    assert_eq!(log[0]["status"], 429);
    assert_eq!(log[1]["status"], 307);
    let redirect = log[1]["error"].as_str().unwrap();
    assert!(
        redirect.contains("redirects are not followed"),
        "{redirect}"
    );
    assert!(elsewhere.got().is_empty(), "the redirect was followed");
    assert_eq!(log[2]["status"], Value::Null);
    let slow = log[2]["error"].as_str().unwrap();
    assert!(
        slow.contains("timeout") || slow.contains("timed out"),
        "{slow}"
    );
    assert_eq!(log[3]["status"], 410);
    app.config.clock.advance(Duration::from_secs(86_400));
    app.create_user("bob@example.com").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.got().len(), 4, "nothing after 410");
    delivering.abort();
}

/// During a rotation every message carries both signatures; each secret
/// alone verifies it.
async fn a_rotated_secret_signs_beside_the_old_one(app: &TestApp) {
    let receiver = Receiver::start().await;
    let (id, old) = register(app, json!({"url": receiver.url})).await;
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/webhook-endpoints/{id}/rotate-secret"),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let new = res.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with("whsec_"));
    assert!(res.body["previousSecretUntil"].is_string());
    let delivering = deliverer(app, settings());
    app.create_user("ann@example.com").await;
    let got = receiver.wait_for(1).await;
    let signatures = got[0].0["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    verify(&got, &old);
    verify(&got, &new);

    // A day later only the new one signs.
    app.config.clock.advance(Duration::from_secs(86_401));
    app.create_user("bob@example.com").await;
    let got = receiver.wait_for(2).await;
    let signatures = got[1].0["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 1, "{signatures}");
    verify(&got[1..], &new);
    delivering.abort();
}

/// An operator replays an endpoint from an event on; what retention
/// deleted cannot be replayed.
async fn an_endpoint_is_replayed_from_an_event(app: &TestApp) {
    let receiver = Receiver::start().await;
    let (id, _) = register(app, json!({"url": receiver.url})).await;
    let delivering = deliverer(app, settings());
    for n in 0..3 {
        app.create_user(&format!("u{n}@example.com")).await;
    }
    receiver.wait_for(3).await;
    let seqs = receiver.seqs();
    let path = format!("/admin/v1/webhook-endpoints/{id}/replay");
    let res = admin(
        app,
        "POST",
        &path,
        Some(json!({"from": format!("evt_{}", seqs[1])})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    receiver.wait_for(5).await;
    assert_eq!(
        receiver.seqs(),
        [seqs[0], seqs[1], seqs[2], seqs[1], seqs[2]]
    );
    for (from, why) in [
        (json!("evt_0"), "an event id"),
        (json!("42"), "an event id"),
        (json!(42), "string"),
    ] {
        let res = admin(app, "POST", &path, Some(json!({"from": from}))).await;
        assert_eq!(res.status, 400, "{}", res.text);
        assert!(res.detail().contains(why), "{}", res.detail());
    }
    let res = admin(
        app,
        "POST",
        "/admin/v1/webhook-endpoints/00000000-0000-4000-8000-000000000000/replay",
        Some(json!({"from": "evt_1"})),
    )
    .await;
    assert_eq!(res.status, 404, "{}", res.text);
    delivering.abort();
}

/// Two deliverers on one database (two processes, in effect) never send
/// one event to one endpoint twice.
async fn two_deliverers_deliver_each_event_once(app: &TestApp) {
    let receiver = Receiver::start().await;
    register(app, json!({"url": receiver.url})).await;
    let start = newest(app).await;
    let one = deliverer(app, settings());
    let two = deliverer(app, settings());
    let write = async |w: usize| {
        for n in 0..25 {
            app.create_user(&format!("w{w}-{n}@example.com")).await;
        }
    };
    tokio::join!(write(0), write(1), write(2), write(3));
    let expected: Vec<i64> = feed_after(app, start)
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(expected.len(), 100);
    receiver.wait_for(100).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.seqs(), expected, "each once, in order");
    one.abort();
    two.abort();
}

/// A deliverer that stops gives its lease back, so another process goes
/// on at once: on a clock that never moves, a lease left to run out would
/// keep the second deliverer away for good. The attempt it dropped
/// unanswered is made again, with the same `webhook-id`.
async fn a_stopped_deliverer_gives_its_lease_back(app: &TestApp) {
    let receiver = Receiver::start().await;
    receiver.then(Answer {
        delay: Duration::from_secs(60),
        ..Answer::status(204)
    });
    let (id, _) = register(app, json!({"url": receiver.url})).await;
    let start = newest(app).await;
    let one = deliverer(
        app,
        Settings {
            timeout: Duration::from_secs(120),
            ..settings()
        },
    );
    app.create_user("stopping@example.com").await;
    receiver.wait_for(1).await;
    tokio::time::timeout(Duration::from_secs(10), one.stop(Duration::from_secs(5)))
        .await
        .expect("a stop does not wait for an answer");
    let stopped = endpoint(app, &id).await;
    assert_eq!(
        stopped["deliveredThrough"], start,
        "not delivered: {stopped}"
    );
    assert!(attempts(app, &id).await.is_empty(), "no answer, no attempt");

    let two = deliverer(app, settings());
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].0["webhook-id"], got[1].0["webhook-id"]);
    let through = newest(app).await;
    endpoint_when(app, &id, "delivered by the second deliverer", |e| {
        e["deliveredThrough"] == through
    })
    .await;
    two.abort();
}

/// Changes one after another, each made once the last was delivered: a
/// run that has just caught up must leave the endpoint claimable at once.
/// On a clock that never moves, an endpoint claimed but left unused would
/// never be delivered to again.
async fn an_endpoint_caught_up_is_claimed_again_at_once(app: &TestApp) {
    let receiver = Receiver::start().await;
    register(app, json!({"url": receiver.url})).await;
    let delivering = deliverer(app, settings());
    for n in 0..150 {
        app.create_user(&format!("one-by-one-{n}@example.com"))
            .await;
        receiver.wait_for(n + 1).await;
    }
    delivering.abort();
}

/// Endpoints that may not be registered, and bodies that are not right,
/// are refused in words; nothing is registered.
async fn bad_endpoints_are_refused_in_words(app: &TestApp) {
    let long = format!("https://example.com/{}", "a".repeat(2100));
    for (body, status, says) in [
        (json!({"url": "http://example.com/hook"}), 400, "https://"),
        (json!({"url": "ftp://example.com/hook"}), 400, "https://"),
        (json!({"url": "https://127.0.0.2/hook"}), 400, "private"),
        (json!({"url": "https://169.254.169.254/"}), 400, "private"),
        (json!({"url": "https://[::1]/"}), 400, "private"),
        (json!({"url": "https://10.0.0.1/"}), 400, "private"),
        (json!({"url": "https://u:p@example.com/"}), 400, "password"),
        (json!({"url": "not a url"}), 400, "not a URL"),
        (json!({"url": long}), 400, "longer"),
        (json!({"url": 7}), 400, "url"),
        (json!({}), 400, "url"),
        (
            json!({"url": "https://example.com/", "types": ["user.exploded"]}),
            400,
            "not an event type",
        ),
        (
            json!({"url": "https://example.com/", "types": "user.created"}),
            400,
            "types",
        ),
        (
            json!({"url": "https://example.com/", "colour": "red"}),
            400,
            "colour",
        ),
        (
            json!({"url": "https://example.com/", "tenantId": "00000000-0000-4000-8000-000000000000"}),
            404,
            "tenant",
        ),
        (
            json!({"url": "https://example.com/", "tenantId": "nope"}),
            404,
            "tenant",
        ),
    ] {
        let res = admin(
            app,
            "POST",
            "/admin/v1/webhook-endpoints",
            Some(body.clone()),
        )
        .await;
        assert_eq!(res.status, status, "{body}: {}", res.text);
        assert!(
            res.detail().contains(says),
            "{body}: '{}' should say {says}",
            res.detail()
        );
    }
    let res = admin(app, "GET", "/admin/v1/webhook-endpoints", None).await;
    assert_eq!(res.body, json!([]), "nothing was registered");
    let res = app
        .request_with("GET", "/admin/v1/webhook-endpoints", None, &[])
        .await;
    assert_eq!(res.status, 401);

    // Registered, then changed badly: refused, unchanged.
    let (id, _) = register(app, json!({"url": "https://hooks.example.com/a"})).await;
    let path = format!("/admin/v1/webhook-endpoints/{id}");
    for body in [
        json!({"url": "http://hooks.example.com/a"}),
        json!({"types": ["nope"]}),
        json!({"enabled": "yes"}),
        json!({"url": null}),
    ] {
        let res = admin(app, "PATCH", &path, Some(body.clone())).await;
        assert_eq!(res.status, 400, "{body}: {}", res.text);
    }
    let now = endpoint(app, &id).await;
    assert_eq!(now["url"], "https://hooks.example.com/a");
    assert_eq!(now["types"], json!([]));
    assert!(now.get("secret").is_none(), "the secret is shown once only");
    let res = admin(app, "DELETE", &path, None).await;
    assert_eq!(res.status, 204);
    let res = admin(app, "GET", &path, None).await;
    assert_eq!(res.status, 404);
    let res = admin(app, "GET", "/admin/v1/webhook-endpoints/nope", None).await;
    assert_eq!(res.status, 404);
}

/// A name that resolves to a loopback address is refused at delivery
/// unless the operator allowed the host, whatever the URL looked like.
async fn names_resolving_to_private_addresses_are_not_called(app: &TestApp) {
    let receiver = Receiver::start().await;
    // `localhost` resolves to 127.0.0.1, where the receiver listens; the
    // policy allows the address 127.0.0.1, not the name `localhost`, so
    // the name's loopback addresses are dropped at resolution.
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let url = format!("https://localhost:{port}/hooks");
    let (id, _) = register(app, json!({"url": url})).await;
    let delivering = deliverer(app, settings());
    app.create_user("ann@example.com").await;
    let log = {
        let mut log = Vec::new();
        for _ in 0..200 {
            log = attempts(app, &id).await;
            if !log.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        log
    };
    let error = log[0]["error"].as_str().unwrap();
    assert!(error.contains("private, loopback"), "{error}");
    assert!(receiver.got().is_empty());
    delivering.abort();
}

backends!(
    config = config();
    endpoints_get_only_the_tenants_and_types_they_asked_for,
    a_failing_endpoint_holds_back_only_its_own_events,
    an_endpoint_down_for_a_day_gets_its_events_when_it_is_back,
    gone_retry_after_redirects_and_timeouts,
    a_rotated_secret_signs_beside_the_old_one,
    an_endpoint_is_replayed_from_an_event,
    two_deliverers_deliver_each_event_once,
    a_stopped_deliverer_gives_its_lease_back,
    an_endpoint_caught_up_is_claimed_again_at_once,
    bad_endpoints_are_refused_in_words,
    names_resolving_to_private_addresses_are_not_called,
);

mod replayed {
    use super::*;

    scimitar_core::on_every_backend!(
        scimitar_core::testing::with_backend;
        every_event_of_a_replayed_conversation_arrives_once_in_order
    );
}
