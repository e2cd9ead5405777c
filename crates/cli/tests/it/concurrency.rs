//! Many requests at once against the real binary: two `serve` processes on
//! one PostgreSQL database, and one process on SQLite. Nothing a race can
//! do may lose a membership, resurrect a deprovisioned user, leave an
//! orphan membership, let a userName exist twice, or answer 500.
//!
//! Loops are bounded and in-flight requests capped, so the tests stay fast
//! on a small machine; every request goes over loopback.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Requests in flight at once, over all servers.
const IN_FLIGHT: usize = 24;

/// A batch of concurrent requests.
struct Burst {
    gate: Arc<Semaphore>,
    tasks: Vec<(String, JoinHandle<Reply>)>,
}

impl Burst {
    fn new() -> Burst {
        Burst {
            gate: Arc::new(Semaphore::new(IN_FLIGHT)),
            tasks: Vec::new(),
        }
    }

    fn spawn(
        &mut self,
        label: String,
        scim: &Scim,
        method: Method,
        path: String,
        body: Option<Value>,
    ) {
        let gate = self.gate.clone();
        let scim = scim.clone();
        self.tasks.push((
            label,
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.expect("semaphore");
                scim.send(method, &path, body.as_ref()).await
            }),
        ));
    }

    /// Waits for every request; no answer may be a server error.
    async fn join(self) -> Vec<(String, Reply)> {
        let mut out = Vec::new();
        for (label, task) in self.tasks {
            let reply = task.await.expect("request task");
            assert!(
                reply.status < 500,
                "{label}: server error {} {}",
                reply.status,
                reply.body
            );
            out.push((label, reply));
        }
        out
    }
}

/// The deployment under test: one or more servers on one database.
struct Deployment {
    // Fields drop in order: the servers go before their database.
    servers: Vec<Server>,
    db: TestDb,
    a: TenantSetup,
    b: TenantSetup,
    /// A webhook endpoint of every event, which every server delivers to.
    receiver: Receiver,
}

impl Deployment {
    async fn start(db: TestDb, processes: usize) -> Deployment {
        let receiver = Receiver::start().await;
        receiver.register(db.url()).await;
        let a = tenant_with_key(db.url(), "Tenant A").await;
        let b = tenant_with_key(db.url(), "Tenant B").await;
        let mut servers = Vec::new();
        for _ in 0..processes {
            let flags = [
                "--app-token",
                APP_TOKEN,
                "--webhook-allow-http",
                "127.0.0.1",
            ];
            servers.push(Server::start_with(db.url(), &flags).await);
        }
        Deployment {
            servers,
            db,
            a,
            b,
            receiver,
        }
    }

    /// Tenant A's client of server `i` (round robin).
    fn a(&self, i: usize) -> Scim {
        self.servers[i % self.servers.len()].scim(&self.a.key)
    }

    fn b(&self, i: usize) -> Scim {
        self.servers[i % self.servers.len()].scim(&self.b.key)
    }

    async fn users(&self, n: usize, prefix: &str) -> Vec<String> {
        let mut burst = Burst::new();
        for i in 0..n {
            burst.spawn(
                format!("create {i}"),
                &self.a(i),
                Method::POST,
                "/Users".into(),
                Some(user_body(&unique_user_name(&format!("{prefix}{i}")))),
            );
        }
        burst
            .join()
            .await
            .into_iter()
            .map(|(_, r)| str_of(&r.expect(201).body, "id"))
            .collect()
    }
}

/// Concurrent PATCHes of one group (and of a second group over the same
/// users), some adding, some removing, some both: every membership change
/// is applied, none lost.
async fn membership_churn_loses_nothing(d: &Deployment) {
    let g1 = group(d.db.url(), &d.a.id, "Churn one", "churn-1").await;
    let g2 = group(d.db.url(), &d.a.id, "Churn two", "churn-2").await;
    let users = d.users(40, "churn").await;
    let (first, second) = users.split_at(20);

    // Start with the first half in both groups.
    for g in [&g1, &g2] {
        d.a(0)
            .patch(
                &format!("/Groups/{g}"),
                &patch_body(json!([members_op("add", &ids(first))])),
            )
            .await
            .expect(204);
    }

    // Two rounds: move the members from the first half to the second, then
    // back, one member per request, across all servers at once.
    for (from, to) in [(first, second), (second, first)] {
        let mut burst = Burst::new();
        for (i, (out, inn)) in from.iter().zip(to).enumerate() {
            for (j, g) in [&g1, &g2].into_iter().enumerate() {
                let path = format!("/Groups/{g}");
                if i % 3 == 0 {
                    // Both in one request, in Entra's letter case.
                    burst.spawn(
                        format!("swap {i} in group {j}"),
                        &d.a(i + j),
                        Method::PATCH,
                        path,
                        Some(patch_body(json!([
                            members_op("Add", &[inn.as_str()]),
                            members_op("Remove", &[out.as_str()]),
                        ]))),
                    );
                } else {
                    burst.spawn(
                        format!("add {i} to group {j}"),
                        &d.a(i + j),
                        Method::PATCH,
                        path.clone(),
                        Some(patch_body(json!([members_op("add", &[inn.as_str()])]))),
                    );
                    // Okta's form: remove with a value filter in the path.
                    burst.spawn(
                        format!("remove {i} from group {j}"),
                        &d.a(i + j + 1),
                        Method::PATCH,
                        path,
                        Some(patch_body(json!([{
                            "op": "remove",
                            "path": format!("members[value eq \"{out}\"]"),
                        }]))),
                    );
                }
            }
        }
        for (label, reply) in burst.join().await {
            assert_eq!(reply.status, 204, "{label}: {}", reply.body);
        }
        let expected: Vec<String> = to
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for g in [&g1, &g2] {
            assert_eq!(d.a(1).member_ids(g).await, expected, "members of {g}");
        }
    }

    // The outbox tells the same story: replaying it gives the final set.
    let events = cli(
        d.db.url(),
        &["events", "--tenant", &d.a.id, "--limit", "100000"],
    )
    .await;
    let mut replayed: BTreeSet<String> = BTreeSet::new();
    for e in events.as_array().expect("events") {
        if e["resourceId"] != json!(g1) {
            continue;
        }
        let members = e["payload"]["members"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let members = members.iter().filter_map(Value::as_str).map(str::to_owned);
        match e["kind"].as_str() {
            Some("group.members_added") => replayed.extend(members),
            Some("group.members_removed") => {
                for m in members {
                    replayed.remove(&m);
                }
            }
            _ => {}
        }
    }
    assert_eq!(replayed, first.iter().cloned().collect::<BTreeSet<_>>());
}

/// The same userName created at once in two tenants, through every server,
/// in different letter cases: exactly one 201, every other a 409
/// `uniqueness` that names no tenant.
async fn one_user_name_wins_across_tenants(d: &Deployment) {
    let mut burst = Burst::new();
    let names: Vec<String> = (0..12)
        .map(|k| unique_user_name(&format!("race{k}")))
        .collect();
    for (k, name) in names.iter().enumerate() {
        for attempt in 0..4 {
            let scim = if attempt % 2 == 0 {
                d.a(attempt / 2)
            } else {
                d.b(attempt / 2 + 1)
            };
            let spelled = if attempt == 3 {
                name.to_uppercase()
            } else {
                name.clone()
            };
            burst.spawn(
                format!("{k}/{attempt}"),
                &scim,
                Method::POST,
                "/Users".into(),
                Some(user_body(&spelled)),
            );
        }
    }
    let mut by_name: HashMap<String, Vec<Reply>> = HashMap::new();
    for (label, reply) in burst.join().await {
        let k = label.split('/').next().unwrap_or_default().to_owned();
        by_name.entry(k).or_default().push(reply);
    }
    for (k, replies) in by_name {
        let created = replies.iter().filter(|r| r.status == 201).count();
        assert_eq!(
            created,
            1,
            "name {k}: {:?}",
            replies.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        for r in replies.iter().filter(|r| r.status != 201) {
            assert_scim_error(r, 409);
            assert_eq!(r.body["scimType"], json!("uniqueness"), "{}", r.body);
            let detail = r.body["detail"].as_str().unwrap_or_default();
            assert!(
                !detail.contains(&d.a.id) && !detail.contains(&d.b.id),
                "a clash never says which tenant holds the name: {detail}"
            );
        }
    }
    for name in &names {
        let in_a = d.a(0).find_user(name).await.len();
        let in_b = d.b(0).find_user(name).await.len();
        assert_eq!(in_a + in_b, 1, "{name} exists once in the deployment");
    }
}

/// Deprovisioning (PATCH active "False", DELETE) racing updates (PATCH,
/// PUT) and group adds of the same users: afterwards every user is gone for
/// good — no resurrection, no orphan membership, one event each.
async fn deprovision_races_updates(d: &Deployment) {
    let g1 = group(d.db.url(), &d.a.id, "Race one", "race-1").await;
    let g2 = group(d.db.url(), &d.a.id, "Race two", "race-2").await;
    let users = d.users(12, "doomed").await;
    let all: Vec<&str> = users.iter().map(String::as_str).collect();
    d.a(0)
        .patch(
            &format!("/Groups/{g1}"),
            &patch_body(json!([members_op("add", &all)])),
        )
        .await
        .expect(204);

    let mut burst = Burst::new();
    for (i, id) in users.iter().enumerate() {
        let user_path = format!("/Users/{id}");
        burst.spawn(
            format!("deprovision {i}"),
            &d.a(i),
            Method::PATCH,
            user_path.clone(),
            Some(patch_body(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        );
        burst.spawn(
            format!("retitle {i}"),
            &d.a(i + 1),
            Method::PATCH,
            user_path.clone(),
            Some(patch_body(
                json!([{"op": "Replace", "path": "title", "value": format!("T{i}")}]),
            )),
        );
        let mut put = user_body(&format!("renamed.{i}.{}", unique_user_name("put")));
        put["displayName"] = json!("Renamed");
        burst.spawn(
            format!("put {i}"),
            &d.a(i + 1),
            Method::PUT,
            user_path.clone(),
            Some(put),
        );
        // Group adds naming the doomed user beside others, in both orders,
        // so membership locks are taken in different orders.
        let neighbour = &users[(i + 1) % users.len()];
        burst.spawn(
            format!("add {i} to group 2"),
            &d.a(i),
            Method::PATCH,
            format!("/Groups/{g2}"),
            Some(patch_body(json!([members_op(
                "add",
                &[id.as_str(), neighbour.as_str()]
            )]))),
        );
        burst.spawn(
            format!("re-add {i} to group 1"),
            &d.a(i + 1),
            Method::PATCH,
            format!("/Groups/{g1}"),
            Some(patch_body(json!([members_op(
                "add",
                &[neighbour.as_str(), id.as_str()]
            )]))),
        );
        if i % 2 == 0 {
            burst.spawn(
                format!("delete {i}"),
                &d.a(i + 1),
                Method::DELETE,
                user_path,
                None,
            );
        }
    }
    for (label, reply) in burst.join().await {
        let allowed: &[u16] = match label.split(' ').next() {
            Some("deprovision" | "retitle" | "put") => &[200, 404],
            Some("delete") => &[204, 404],
            // A group add that names a user deprovisioned meanwhile is an
            // invalid member: nothing of it is applied.
            Some("add" | "re-add") => &[204, 400],
            _ => unreachable!("{label}"),
        };
        assert!(
            allowed.contains(&reply.status),
            "{label}: {} {}",
            reply.status,
            reply.body
        );
        if reply.status == 400 {
            assert_eq!(
                reply.body["scimType"],
                json!("invalidValue"),
                "{label}: {}",
                reply.body
            );
        }
    }

    for id in &users {
        assert_scim_error(&d.a(0).get(&format!("/Users/{id}")).await, 404);
    }
    let left = d
        .a(1)
        .get("/Users?count=1000&filter=userName%20sw%20%22doomed%22")
        .await
        .expect(200);
    assert_eq!(left.body["totalResults"], json!(0), "{}", left.body);
    let renamed = d
        .a(1)
        .get("/Users?count=1000&filter=userName%20sw%20%22renamed%22")
        .await
        .expect(200);
    assert_eq!(
        renamed.body["totalResults"],
        json!(0),
        "no resurrected user: {}",
        renamed.body
    );
    for g in [&g1, &g2] {
        assert_eq!(
            d.a(0).member_ids(g).await,
            Vec::<String>::new(),
            "orphan members in {g}"
        );
    }
    let events = cli(
        d.db.url(),
        &["events", "--tenant", &d.a.id, "--limit", "100000"],
    )
    .await;
    for id in &users {
        let n = events
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == json!("user.deprovisioned") && e["resourceId"] == json!(id))
            .count();
        assert_eq!(n, 1, "one user.deprovisioned event for {id}");
    }
}

fn ids(s: &[String]) -> Vec<&str> {
    s.iter().map(String::as_str).collect()
}

/// Follows the event outbox the way the host application does — "events
/// after the last one I saw" — until told to stop; returns every sequence
/// number seen. A follower must never skip an event: one committed late
/// with a sequence number below one already seen would be lost to it.
fn follow_outbox(url: &str, stop: Arc<AtomicBool>) -> JoinHandle<Vec<i64>> {
    let url = url.to_owned();
    tokio::spawn(async move {
        let store = scimitar_core::open(&url).await.expect("open the database");
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            // Read the flag first: the last pass then starts after every
            // write has been answered.
            let last_pass = stop.load(Ordering::SeqCst);
            let batch = store.events(None, &[], after, 500).await.expect("events");
            if let Some(e) = batch.last() {
                after = e.seq;
            }
            let got = batch.len();
            seen.extend(batch.into_iter().map(|e| e.seq));
            if last_pass && got == 0 {
                return seen;
            }
            if got == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    })
}

/// Follows the feed over HTTP as the host application does, long-polling
/// (`wait`) the last server while the others write; returns every
/// sequence number it was given.
fn follow_feed(server: &Server, stop: Arc<AtomicBool>) -> JoinHandle<Vec<i64>> {
    let feed = Scim::new(&server.url("/app/v1"), APP_TOKEN);
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let last_pass = stop.load(Ordering::SeqCst);
            let wait = if last_pass { 0 } else { 5 };
            let page = feed
                .get(&format!("/events?after={after}&limit=500&wait={wait}"))
                .await
                .expect(200);
            let events = page.body["events"].as_array().expect("events").clone();
            after = page.body["next"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .expect("next");
            seen.extend(events.iter().map(|e| e["seq"].as_i64().expect("seq")));
            if last_pass && events.is_empty() {
                return seen;
            }
        }
    })
}

async fn all_races(d: &Deployment) {
    let stop = Arc::new(AtomicBool::new(false));
    let follower = follow_outbox(d.db.url(), stop.clone());
    let feed = follow_feed(d.servers.last().expect("a server"), stop.clone());
    membership_churn_loses_nothing(d).await;
    one_user_name_wins_across_tenants(d).await;
    deprovision_races_updates(d).await;
    stop.store(true, Ordering::SeqCst);
    let followed = follower.await.expect("follower");
    let store = scimitar_core::open(d.db.url()).await.expect("open");
    let all: Vec<i64> = store
        .events(None, &[], 0, u32::MAX)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.seq)
        .collect();
    let missed: Vec<&i64> = all.iter().filter(|s| !followed.contains(s)).collect();
    assert!(
        missed.is_empty(),
        "a follower of the outbox missed {} of {} events: {missed:?}",
        missed.len(),
        all.len()
    );
    let fed = feed.await.expect("feed follower");
    assert_eq!(fed, all, "the feed gave every event exactly once, in order");
    // Each event to the endpoint once, in order, whichever process sent it.
    d.receiver.wait_for_all(&all, 120).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        d.receiver.seqs(),
        all,
        "each event delivered once, in order"
    );
}

/// Issue "PostgreSQL": two `serve` processes on one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_database() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let d = Deployment::start(db, 2).await;
    bounded(300, "the PostgreSQL races", all_races(&d)).await;
}

/// One process on SQLite under many concurrent requests: a busy database
/// is waited for inside, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_on_sqlite_under_concurrent_requests() {
    let d = Deployment::start(TestDb::sqlite(), 1).await;
    bounded(300, "the SQLite races", all_races(&d)).await;
}
