//! Connection limits of the real binary: slow or idle clients are
//! disconnected, connections are capped, and SIGTERM ends within its grace
//! period even while clients hold connections open.

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// Regression (hardening): a client that never finished its headers kept
/// its connection (and a file descriptor) for ever.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let db = TestDb::sqlite();
    let server = Server::start_with(db.url(), &["--header-read-timeout-secs", "1"]).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    bounded(
        15,
        "the half-sent request to be cut off",
        until_closed(&mut slow),
    )
    .await;
}

/// Regression (hardening): an idle keep-alive connection stayed open for
/// ever.
#[tokio::test]
async fn an_idle_connection_is_closed() {
    let db = TestDb::sqlite();
    let server = Server::start_with(db.url(), &["--header-read-timeout-secs", "1"]).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let seen = bounded(
        15,
        "the idle connection to be closed",
        until_closed(&mut idle),
    )
    .await;
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "the request was answered first: {text}"
    );
}

/// Regression (hardening): connections were not capped. With a cap of two,
/// a third client is served only once one of the two first ones is gone.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let db = TestDb::sqlite();
    let server = Server::start_logging(
        db.url(),
        &["--max-connections", "2", "--header-read-timeout-secs", "2"],
        "info,scimitar_server::serve=debug",
    )
    .await;
    let (events, mut order) = tokio::sync::mpsc::unbounded_channel();
    let mut held = Vec::new();
    for i in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        let events = events.clone();
        held.push(tokio::spawn(async move {
            until_closed(&mut stream).await;
            let _ = events.send(format!("held {i} closed"));
        }));
    }
    // Both slots are taken: the server accepted both. It then answers
    // nothing on a third connection until a held one is cut off by the
    // header timeout.
    server.logged("connection accepted", 2).await;
    let addr = server.addr;
    let third = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let reply = until_closed(&mut stream).await;
        let _ = events.send("third answered".to_owned());
        reply
    });
    let reply = bounded(20, "the third client to be served", third)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 200"));
    let first = order.recv().await.unwrap();
    assert!(
        first.starts_with("held"),
        "a slot freed before the third was served: {first}"
    );
    for h in held {
        h.await.unwrap();
    }
}

/// Regression (hardening): SIGTERM waited for ever for clients that held
/// connections open.
#[tokio::test]
async fn sigterm_ends_within_the_grace_period_despite_open_connections() {
    let db = TestDb::sqlite();
    let mut server = Server::start_logging(
        db.url(),
        &[
            "--header-read-timeout-secs",
            "120",
            "--shutdown-grace-secs",
            "1",
        ],
        "info,scimitar_server::serve=debug",
    )
    .await;
    let mut open = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost")
            .await
            .unwrap();
        open.push(stream);
    }
    server.logged("connection accepted", 20).await;
    server.sigterm();
    let status = server.wait(20).await;
    assert!(status.success(), "{status:?}\n{}", server.logs());
    assert!(
        server.logs().contains("scimitar stopped"),
        "{}",
        server.logs()
    );
}

/// The operator token of earlier releases still opens both APIs, with a
/// warning; a short token is refused at start.
#[tokio::test]
async fn tokens_are_checked_at_start_and_the_operator_token_is_deprecated() {
    let db = TestDb::sqlite();
    let short = cli_output(
        Some(db.url()),
        &["serve", "--listen", "127.0.0.1:0", "--admin-token", "short"],
        &[],
    )
    .await;
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 32 characters"));

    let token = "an-operator-token-of-forty-characters-00";
    let server = Server::start_with(db.url(), &["--operator-token", token]).await;
    let client = reqwest::Client::new();
    let admin = client
        .get(server.url("/admin/v1/tenants"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    let app = client
        .post(server.url("/app/v1/sessions/introspect"))
        .bearer_auth(token)
        .json(&serde_json::json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(app.status(), 200);
    assert!(server.logs().contains("deprecated"), "{}", server.logs());
}

/// Tokens come from files, so they stay out of the process list.
#[tokio::test]
async fn tokens_can_be_read_from_files() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-token");
    std::fs::write(&file, "admin-token-from-a-file-0123456789abcdef\n").unwrap();
    let server =
        Server::start_with(db.url(), &["--admin-token-file", file.to_str().unwrap()]).await;
    let res = reqwest::Client::new()
        .get(server.url("/admin/v1/tenants"))
        .bearer_auth("admin-token-from-a-file-0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
