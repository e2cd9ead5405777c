//! The database goes away and comes back: requests get `503` SCIM errors
//! with `Retry-After`, `/readyz` fails, and the same server recovers by
//! itself once the database answers again.
//!
//! The machine's PostgreSQL is shared with other tests, so it is never
//! stopped: the server reaches it through a small TCP proxy inside this test
//! that can be cut (every connection dropped, new ones refused) and
//! restored.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// How the database goes away.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// Nothing listens: connections are refused (the server is down).
    Refused,
    /// Connections are accepted and closed at once (a load balancer in
    /// front of a dead server, a server that is restarting).
    Reset,
}

/// A loopback TCP proxy to one upstream address, on a fixed local port.
struct Proxy {
    addr: SocketAddr,
    upstream: String,
    acceptor: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    resetting: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let mut proxy = Proxy {
            addr: listener.local_addr().expect("proxy address"),
            upstream: upstream.to_owned(),
            acceptor: None,
            connections: Arc::default(),
            resetting: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let connections = self.connections.clone();
        let resetting = self.resetting.clone();
        self.acceptor = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if resetting.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().expect("lock").push(task.abort_handle());
            }
        }));
    }

    /// The database "goes down": every open connection is dropped, and new
    /// ones are refused or reset.
    async fn cut(&mut self, outage: Outage) {
        match outage {
            Outage::Refused => {
                if let Some(acceptor) = self.acceptor.take() {
                    acceptor.abort();
                    let _ = acceptor.await;
                }
            }
            Outage::Reset => self.resetting.store(true, Ordering::SeqCst),
        }
        for conn in self.connections.lock().expect("lock").drain(..) {
            conn.abort();
        }
    }

    /// The database is back, on the same address.
    async fn restore(&mut self) {
        self.resetting.store(false, Ordering::SeqCst);
        if self.acceptor.is_none() {
            let listener = TcpListener::bind(self.addr).await.expect("rebind proxy");
            self.serve(listener);
        }
    }
}

/// `(host:port of the server, the URL with the proxy in its place)`.
fn through_proxy(url: &str, proxy: SocketAddr) -> (String, String) {
    let after_scheme = url.find("://").expect("a URL") + 3;
    let rest = &url[after_scheme..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let (credentials, host_port) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let upstream = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let proxied = format!(
        "{}{credentials}{proxy}{}",
        &url[..after_scheme],
        &rest[authority_end..]
    );
    (upstream, proxied)
}

async fn readyz(server: &Server) -> u16 {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
        .get(server.url("/readyz"))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// Asserts a `503` SCIM error with a `Retry-After` in seconds.
fn assert_unavailable(reply: &Reply, what: &str) {
    assert_scim_error(reply, 503);
    let retry_after = reply.header("retry-after").unwrap_or_default();
    assert!(
        retry_after.parse::<u32>().is_ok_and(|s| s > 0),
        "{what}: a 503 says when to retry, got Retry-After {retry_after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_and_the_server_recovers() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    bounded(240, "the outage drill", async {
        let t = tenant_with_key(db.url(), "Acme").await;
        let (upstream, _) = through_proxy(db.url(), "127.0.0.1:1".parse().expect("addr"));
        let mut proxy = Proxy::start(&upstream).await;
        let (_, proxied) = through_proxy(db.url(), proxy.addr);
        let server = Server::start(&proxied).await;
        let scim = server.scim(&t.key);

        let first = scim
            .post("/Users", &user_body(&unique_user_name("before")))
            .await
            .expect(201);
        let first_id = str_of(&first.body, "id");
        assert_eq!(readyz(&server).await, 200);

        // Two outages in a row: recovering once is not enough.
        for (round, outage) in [Outage::Refused, Outage::Reset].into_iter().enumerate() {
            proxy.cut(outage).await;

            let lost_name = unique_user_name("during");
            let patch = patch_body(serde_json::json!([
                {"op": "replace", "path": "title", "value": "x"}
            ]));
            let requests = [
                ("list", reqwest::Method::GET, "/Users".to_owned(), None),
                (
                    "read",
                    reqwest::Method::GET,
                    format!("/Users/{first_id}"),
                    None,
                ),
                (
                    "create",
                    reqwest::Method::POST,
                    "/Users".to_owned(),
                    Some(user_body(&lost_name)),
                ),
                (
                    "patch",
                    reqwest::Method::PATCH,
                    format!("/Users/{first_id}"),
                    Some(patch),
                ),
            ];
            // The second time, one request is enough to show the same.
            let requests = requests
                .into_iter()
                .filter(|r| round == 0 || r.0 == "create");
            for (what, method, path, body) in requests {
                let started = Instant::now();
                let reply = scim.send(method, &path, body.as_ref()).await;
                assert_unavailable(&reply, &format!("{outage:?}, {what}"));
                // Failing fast matters: identity providers time requests
                // out, and a waiting request holds a slot.
                assert!(
                    started.elapsed() < Duration::from_secs(8),
                    "{outage:?}, {what}: the 503 took {:?}",
                    started.elapsed()
                );
            }
            assert_eq!(
                readyz(&server).await,
                503,
                "readyz while the database is down"
            );
            let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
            assert_eq!(health.status().as_u16(), 200, "the process itself is alive");

            proxy.restore().await;
            let deadline = Instant::now() + Duration::from_secs(30);
            while readyz(&server).await != 200 {
                assert!(Instant::now() < deadline, "no recovery within 30 s");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            // Back to normal, without a restart.
            scim.get(&format!("/Users/{first_id}")).await.expect(200);
            assert!(
                scim.find_user(&lost_name).await.is_empty(),
                "a request answered 503 changed nothing"
            );
            scim.post("/Users", &user_body(&unique_user_name("after")))
                .await
                .expect(201);
        }
        assert!(
            !server.logs().contains("panicked"),
            "the server panicked: {}",
            server.logs()
        );
        drop(server);
        proxy.cut(Outage::Refused).await;
    })
    .await;
}

#[test]
fn proxy_url_rewriting() {
    let proxy: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
    assert_eq!(
        through_proxy("postgres://postgres@127.0.0.1:5432/db_1", proxy),
        (
            "127.0.0.1:5432".to_owned(),
            "postgres://postgres@127.0.0.1:4000/db_1".to_owned()
        )
    );
    assert_eq!(
        through_proxy("postgresql://u:p@localhost/db?sslmode=disable", proxy),
        (
            "localhost:5432".to_owned(),
            "postgresql://u:p@127.0.0.1:4000/db?sslmode=disable".to_owned()
        )
    );
}

/// A session that holds a lock and never lets go (a stuck migration, an
/// operator's forgotten `BEGIN`) makes the requests that need the lock
/// 503 after a bounded wait; they never hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stuck_lock_holder_is_503_not_a_hang() {
    use sqlx::Connection;

    let Some(db) = TestDb::postgres().await else {
        return;
    };
    bounded(120, "the stuck lock drill", async {
        let t = tenant_with_key(db.url(), "Acme").await;
        let server = Server::start(db.url()).await;
        let scim = server.scim(&t.key);
        scim.get("/Users").await.expect(200);

        // Every new user of the tenant needs a share lock on its row.
        let mut stuck = sqlx::PgConnection::connect(db.url())
            .await
            .expect("connect");
        sqlx::query("BEGIN")
            .execute(&mut stuck)
            .await
            .expect("begin");
        sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
            .bind(&t.id)
            .execute(&mut stuck)
            .await
            .expect("lock the tenant");

        let started = Instant::now();
        let name = unique_user_name("stuck");
        let reply = scim.post("/Users", &user_body(&name)).await;
        assert_unavailable(&reply, "create behind a stuck lock");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
        // Reads do not wait for the lock.
        scim.get("/Users").await.expect(200);

        sqlx::query("ROLLBACK")
            .execute(&mut stuck)
            .await
            .expect("rollback");
        scim.post("/Users", &user_body(&name)).await.expect(201);
    })
    .await;
}
