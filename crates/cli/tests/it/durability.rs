//! An acknowledged write survives a killed process, and a stopped server
//! finishes what it was doing: the real binary, SIGKILL and SIGTERM.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};
use sqlx::Connection;

/// Users acknowledged (201) before a `kill -9` are all there after a
/// restart on the same database, though writes were in flight at the kill.
async fn acknowledged_writes_survive_kill9(db: &TestDb) {
    let t = tenant_with_key(db.url(), "Acme").await;
    let mut server = Server::start(db.url()).await;
    let scim = server.scim(&t.key);

    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut writers = Vec::new();
    for writer in 0..4 {
        let scim = scim.clone();
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            // Bounded: the kill ends the loop long before this.
            for i in 0..500 {
                let user_name = unique_user_name(&format!("kill9-{writer}-{i}"));
                let Ok(reply) = scim
                    .try_send(
                        reqwest::Method::POST,
                        "/Users",
                        Some(&user_body(&user_name)),
                    )
                    .await
                else {
                    return; // the server is gone
                };
                assert_eq!(reply.status, 201, "{}", reply.body);
                let id = str_of(&reply.body, "id");
                acknowledged.lock().expect("lock").push((id, user_name));
            }
        }));
    }
    // Kill while the writers are busy.
    bounded(60, "40 acknowledged creates", async {
        while acknowledged.lock().expect("lock").len() < 40 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    server.kill9().await;
    for w in writers {
        w.await.expect("writer task");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();

    let server = Server::start(db.url()).await;
    let scim = server.scim(&t.key);
    for (id, user_name) in &acknowledged {
        let user = scim.get(&format!("/Users/{id}")).await.expect(200);
        assert_eq!(user.body["userName"], json!(user_name));
    }
    // Nothing is half-written: every stored user reads back whole.
    let all = scim.get("/Users?count=1000").await.expect(200);
    let total = all.body["totalResults"].as_u64().unwrap_or(0);
    assert!(total >= acknowledged.len() as u64);
    assert!(
        total <= acknowledged.len() as u64 + 4,
        "at most one unacknowledged create per writer"
    );
    // The server that took over works.
    scim.post("/Users", &user_body(&unique_user_name("after")))
        .await
        .expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill9_sqlite() {
    let db = TestDb::sqlite();
    bounded(
        180,
        "kill -9 on SQLite",
        acknowledged_writes_survive_kill9(&db),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill9_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    bounded(
        180,
        "kill -9 on PostgreSQL",
        acknowledged_writes_survive_kill9(&db),
    )
    .await;
}

/// A lock taken from outside the server, so that its writes wait: SQLite's
/// write lock, or on PostgreSQL the tenant row's lock that every new user
/// of the tenant needs (its foreign key).
enum Blocker {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Blocker {
    async fn hold(db: &TestDb, tenant: &str) -> Blocker {
        if db.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect");
            sqlx::query("BEGIN")
                .execute(&mut conn)
                .await
                .expect("begin");
            sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
                .bind(tenant)
                .execute(&mut conn)
                .await
                .expect("lock the tenant");
            Blocker::Postgres(conn)
        } else {
            let path = db.sqlite_path().expect("a SQLite file");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("connect");
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .expect("take the write lock");
            Blocker::Sqlite(conn)
        }
    }

    async fn release(self) {
        match self {
            Blocker::Sqlite(mut c) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut c)
                    .await
                    .expect("rollback");
            }
            Blocker::Postgres(mut c) => {
                sqlx::query("ROLLBACK")
                    .execute(&mut c)
                    .await
                    .expect("rollback");
            }
        }
    }
}

/// SIGTERM while requests wait on the database: they complete, the
/// process exits 0, and their provisioning log entries are written.
async fn sigterm_finishes_requests_in_flight(db: &TestDb) {
    let t = tenant_with_key(db.url(), "Acme").await;
    let mut server = Server::start_logging(db.url(), &[], "info,sqlx=warn,tower_http=debug").await;
    let scim = server.scim(&t.key);
    // Warm up: the key works, and the log writer is idle again (its entry
    // is in the database).
    scim.get("/Users").await.expect(200);
    wait_for_log(db.url(), &t.id, |entries| !entries.is_empty()).await;

    let blocker = Blocker::hold(db, &t.id).await;
    let mut slow = Vec::new();
    for i in 0..5 {
        let scim = scim.clone();
        slow.push(tokio::spawn(async move {
            let user_name = unique_user_name(&format!("slow-{i}"));
            let reply = scim.post("/Users", &user_body(&user_name)).await;
            (user_name, reply)
        }));
    }
    // The requests reached the server (and block on the lock); then it is
    // told to stop, and says so.
    server.logged("started processing request", 1 + 5).await;
    server.sigterm();
    server
        .logged("shutting down: finishing requests in flight", 1)
        .await;
    // Still stopping: new connections are no longer served.
    let late = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client")
        .get(server.url("/healthz"))
        .send()
        .await;
    assert!(
        late.is_err(),
        "a stopping server accepted a new request: {late:?}"
    );
    blocker.release().await;

    let mut created = Vec::new();
    for task in slow {
        let (user_name, reply) = bounded(60, "a slow request", task)
            .await
            .expect("request task");
        assert_eq!(reply.status, 201, "in-flight request: {}", reply.body);
        created.push(user_name);
    }
    let status = server.wait(60).await;
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    // The provisioning log was flushed before the exit.
    let log = cli(db.url(), &["log", "--tenant", &t.id, "--limit", "100"]).await;
    let posts: Vec<&Value> = log
        .as_array()
        .expect("log")
        .iter()
        .filter(|e| e["method"] == json!("POST") && e["status"] == json!(201))
        .collect();
    assert_eq!(posts.len(), created.len(), "log: {log}");

    // And the users are there.
    let server = Server::start(db.url()).await;
    let scim = server.scim(&t.key);
    for user_name in &created {
        assert_eq!(scim.find_user(user_name).await.len(), 1, "{user_name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_sqlite() {
    let db = TestDb::sqlite();
    bounded(
        180,
        "graceful shutdown on SQLite",
        sigterm_finishes_requests_in_flight(&db),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    bounded(
        180,
        "graceful shutdown on PostgreSQL",
        sigterm_finishes_requests_in_flight(&db),
    )
    .await;
}

/// Ctrl-C (SIGINT) stops the server as SIGTERM does, and what it logs on
/// stderr is JSON, one object a line, with the fields an operator's log
/// pipeline reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_cleanly_and_the_log_is_json() {
    bounded(120, "SIGINT and the JSON log", async {
        let db = TestDb::sqlite();
        let t = tenant_with_key(db.url(), "Acme").await;
        let mut server = Server::start(db.url()).await;
        server.scim(&t.key).get("/Users").await.expect(200);
        server.signal("INT");
        assert!(server.wait(30).await.success(), "{}", server.logs());
        let logs = server.logs();
        let lines: Vec<serde_json::Value> = logs
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        for line in &lines {
            assert!(
                line["timestamp"].is_string() && line["level"].is_string(),
                "{line}"
            );
        }
        let message = |m: &str| lines.iter().find(|l| l["fields"]["message"] == m).cloned();
        let serving = message("scimitar is serving").unwrap_or_else(|| panic!("{logs}"));
        assert!(serving["fields"]["address"].is_string(), "{serving}");
        assert!(
            !serving.to_string().contains(&t.key),
            "no secret in the log"
        );
        assert!(message("scimitar stopped").is_some(), "{logs}");
    })
    .await;
}
