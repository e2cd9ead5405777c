//! The harness of the end-to-end tests: the real `scimitar` binary, started
//! on `127.0.0.1:0` over a throw-away database, driven over a socket the way
//! identity providers drive it, and administered through its CLI.
//!
//! Every wait is bounded, so a hung server fails a test instead of hanging
//! the suite; a server is killed when its handle is dropped, and a failing
//! test prints the tail of that server's log.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use scimitar_core::testing::Backend;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_scimitar");

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Fails the test when `fut` takes longer than `secs`.
pub async fn bounded<F: Future>(secs: u64, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not finish within {secs} s"),
    }
}

/// A throw-away database: a SQLite file in a temporary folder, or a fresh
/// database on the test PostgreSQL server, dropped with this value.
pub struct TestDb {
    url: String,
    dir: Option<tempfile::TempDir>,
    backend: Option<Backend>,
}

impl TestDb {
    /// A SQLite file nobody has opened yet: the binary creates and
    /// migrates it.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("scimitar.db").display());
        TestDb {
            url,
            dir: Some(dir),
            backend: None,
        }
    }

    /// `None`, after a loud note, when no PostgreSQL answers (outside CI).
    pub async fn postgres() -> Option<TestDb> {
        let backend = Backend::postgres().await?;
        Some(TestDb {
            url: backend.url().to_owned(),
            dir: None,
            backend: Some(backend),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_postgres(&self) -> bool {
        self.backend.is_some()
    }

    /// The SQLite file, for tests that lock it from outside.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("scimitar.db"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Dropping the PostgreSQL database needs async IO, and this may run
        // inside the test's runtime (where blocking on it is not allowed) or
        // while unwinding: do it on a thread of its own.
        if let Some(backend) = self.backend.take() {
            let dropper = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(async {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(20), backend.finish()).await;
                    });
                }
            });
            let _ = dropper.join();
        }
    }
}

/// A running `scimitar serve`, killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(database: &str) -> Server {
        Self::start_with(database, &[]).await
    }

    /// Starts the server with extra `serve` arguments and waits for its
    /// `listening on ADDR` line.
    pub async fn start_with(database: &str, extra: &[&str]) -> Server {
        Self::start_logging(database, extra, "info,sqlx=warn").await
    }

    /// As [`Server::start_with`], logging at `rust_log` (e.g. `debug`, to
    /// see each accepted connection).
    pub async fn start_logging(database: &str, extra: &[&str], rust_log: &str) -> Server {
        let log_dir = tempfile::tempdir().expect("tempdir");
        let log = log_dir.path().join("server.log");
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .args(extra)
            .env_remove("SCIMITAR_DATABASE_URL")
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .expect("start scimitar serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                let _ = child.start_kill();
                panic!(
                    "scimitar serve printed no address ({other:?}); its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line on stdout: {line:?}"));
        // Nothing else is expected on stdout; keep the pipe drained anyway
        // so a stray line could never block or kill the server.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            child: Some(child),
            addr,
            log,
            _log_dir: log_dir,
        }
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A SCIM client of this server with the default base path.
    pub fn scim(&self, key: &str) -> Scim {
        Scim::new(&self.url("/scim/v2"), key)
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("server is running")
    }

    /// What the server wrote on stderr (its JSON logs).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 20 s) until the log holds `n` lines containing
    /// `text`: an event to wait for instead of a guessed sleep.
    pub async fn logged(&self, text: &str, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.logs().matches(text).count() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never logged {n}× {text:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL: no chance to flush or finish anything.
    pub async fn kill9(&mut self) {
        let mut child = self.child.take().expect("server is running");
        child.kill().await.expect("kill -9");
    }

    /// Sends SIGTERM and returns at once.
    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Sends a signal (`TERM`, `INT`, …) and returns at once.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (bounded) for the process to exit by itself.
    pub async fn wait(&mut self, secs: u64) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        match tokio::time::timeout(Duration::from_secs(secs), child.wait()).await {
            Ok(status) => status.expect("wait for server"),
            Err(_) => {
                let _ = child.start_kill();
                panic!(
                    "server did not exit within {secs} s; its log:\n{}",
                    self.logs()
                )
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
        }
        if std::thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(40).collect();
            eprintln!("--- last lines of the server log ({}) ---", self.addr);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Runs `scimitar ARGS --database DB`; bounded.
pub async fn cli_output(database: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("SCIMITAR_DATABASE_URL")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    bounded(60, "a CLI command", cmd.output())
        .await
        .expect("run scimitar")
}

/// Runs a CLI command that must succeed and print exactly one JSON value
/// on one line of stdout, and returns that value.
pub async fn cli(database: &str, args: &[&str]) -> Value {
    let out = cli_output(Some(database), args, &[]).await;
    parse_cli(args, &out)
}

pub fn parse_cli(args: &[&str], out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scimitar {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "scimitar {args:?} must print one line of JSON, printed {stdout:?}"
    );
    serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("scimitar {args:?} printed no JSON ({e}): {stdout:?}"))
}

/// A tenant made through the CLI, with an API key.
pub struct TenantSetup {
    pub id: String,
    pub key: String,
}

pub async fn tenant_with_key(database: &str, name: &str) -> TenantSetup {
    let tenant = cli(
        database,
        &["tenant", "create", "--name", name, "--region", "eu"],
    )
    .await;
    let id = str_of(&tenant, "id");
    let key = cli(
        database,
        &["apikey", "create", "--tenant", &id, "--label", "e2e"],
    )
    .await;
    TenantSetup {
        id,
        key: str_of(&key, "key"),
    }
}

/// A group made through the CLI; returns its id.
pub async fn group(database: &str, tenant: &str, name: &str, external_id: &str) -> String {
    let g = cli(
        database,
        &[
            "group",
            "create",
            "--tenant",
            tenant,
            "--name",
            name,
            "--external-id",
            external_id,
        ],
    )
    .await;
    str_of(&g, "id")
}

pub fn str_of(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string '{field}' in {value}"))
        .to_owned()
}

/// An HTTP answer: status, headers, and the body parsed as JSON (`Null`
/// when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it is another.
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "unexpected answer: {}", self.body);
        self
    }
}

/// A SCIM client as an identity provider is one: a base URL and a bearer
/// key.
#[derive(Clone)]
pub struct Scim {
    http: reqwest::Client,
    pub base: String,
    key: String,
}

impl Scim {
    pub fn new(base: &str, key: &str) -> Scim {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        Scim {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
        }
    }

    /// Sends one request; a transport error is an `Err` (the server may
    /// have been killed on purpose).
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Result<Reply> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let what = format!("{method} {path}");
        self.try_send(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// `GET /Users?filter=userName eq "NAME"`: the matching users.
    pub async fn find_user(&self, user_name: &str) -> Vec<Value> {
        let filter = format!("userName eq \"{user_name}\"");
        let reply = self
            .get(&format!("/Users?filter={}", encode(&filter)))
            .await
            .expect(200);
        reply.body["Resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The member ids of a group, sorted.
    pub async fn member_ids(&self, group: &str) -> Vec<String> {
        let reply = self.get(&format!("/Groups/{group}")).await.expect(200);
        let mut ids: Vec<String> = reply.body["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }
}

/// Percent-encodes a query parameter value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A minimal valid user, the way Okta and Entra send one.
pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "displayName": format!("User {user_name}"),
        "active": true,
    })
}

/// A PatchOp request with these operations.
pub fn patch_body(operations: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
}

/// `{op: add, path: members, value: [{value: id}...]}`.
pub fn members_op(op: &str, ids: &[&str]) -> Value {
    let values: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"op": op, "path": "members", "value": values})
}

/// Asserts that an answer is a SCIM error object with this status.
pub fn assert_scim_error(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "unexpected answer: {}", reply.body);
    assert_eq!(
        reply.body["schemas"],
        json!([ERROR_SCHEMA]),
        "not a SCIM error: {}",
        reply.body
    );
    assert_eq!(reply.body["status"], json!(status.to_string()));
    assert!(
        reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "a SCIM error needs a detail: {}",
        reply.body
    );
}

/// A fresh userName nobody else uses (userName is unique across tenants,
/// and tests share PostgreSQL servers but not databases; still, be safe).
pub fn unique_user_name(prefix: &str) -> String {
    format!("{prefix}.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Polls the provisioning log (it is written off the request path) until
/// `ready` holds; bounded.
pub async fn wait_for_log(url: &str, tenant: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let log = cli(url, &["log", "--tenant", tenant, "--limit", "1000"]).await;
        let entries = log.as_array().cloned().expect("the log is a list");
        if ready(&entries) {
            return entries;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the provisioning log never showed the requests: {entries:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The application token the end-to-end servers are started with where a
/// test follows the feed.
pub const APP_TOKEN: &str = "app-token-for-the-cli-tests-0123456789ab";

/// A webhook receiver on 127.0.0.1: records the sequence number of every
/// event POSTed to it and answers 204.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<i64>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let got: std::sync::Arc<std::sync::Mutex<Vec<i64>>> = std::sync::Arc::default();
        let seen = got.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let event: Value = serde_json::from_slice(&body).expect("a JSON event");
                let seq = event["seq"].as_i64().expect("seq");
                seen.lock().expect("lock").push(seq);
                axum::http::StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got }
    }

    /// The sequence numbers received, in arrival order.
    pub fn seqs(&self) -> Vec<i64> {
        self.got.lock().expect("lock").clone()
    }

    /// Registers this receiver as an endpoint of every event, through the
    /// CLI, allowing plain HTTP to loopback.
    pub async fn register(&self, database: &str) -> Value {
        let args = ["webhook", "create", "--url", &self.url];
        let out = cli_output(
            Some(database),
            &args,
            &[("SCIMITAR_WEBHOOK_ALLOW_HTTP", "127.0.0.1")],
        )
        .await;
        parse_cli(&args, &out)
    }

    /// Waits until every one of `seqs` arrived at least once.
    pub async fn wait_for_all(&self, seqs: &[i64], secs: u64) {
        bounded(secs, "every event delivered by webhook", async {
            loop {
                let got: std::collections::BTreeSet<i64> = self.seqs().into_iter().collect();
                if seqs.iter().all(|s| got.contains(s)) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }
}

/// Every sequence number in the outbox, through the CLI, a page at a
/// time.
pub async fn all_event_seqs(database: &str) -> Vec<i64> {
    let mut all = Vec::new();
    loop {
        let after = all.last().copied().unwrap_or(0).to_string();
        let page = cli(database, &["events", "--after", &after, "--limit", "1000"]).await;
        let page = page.as_array().expect("events");
        if page.is_empty() {
            return all;
        }
        all.extend(page.iter().map(|e| e["seq"].as_i64().expect("seq")));
    }
}
