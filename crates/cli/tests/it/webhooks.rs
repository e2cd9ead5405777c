//! Webhooks from the real binary: delivery survives `kill -9` in the middle
//! of a burst of changes, with nothing missing after the restart. (Two
//! processes on one PostgreSQL database delivering each event once is in
//! `concurrency.rs`, beside the other two-process races.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;

/// A burst of 1,000 changes, the server killed in the middle of it and
/// started again: every event of the outbox reaches the endpoint at least
/// once, and the first arrival of each is in sequence order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_after_kill9_in_the_middle_of_a_burst() {
    let db = TestDb::sqlite();
    let t = tenant_with_key(db.url(), "Acme").await;
    let receiver = Receiver::start().await;
    let endpoint = receiver.register(db.url()).await;
    // It is sent what commits after it was registered.
    let registered = endpoint["deliveredThrough"]
        .as_i64()
        .expect("deliveredThrough");
    let allow = [
        "--webhook-allow-http",
        "127.0.0.1",
        "--rate-limit-per-second",
        "0",
    ];
    let mut server = Server::start_with(db.url(), &allow).await;

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let burst = |scim: Scim, from: usize, to: usize| {
        let acknowledged = acknowledged.clone();
        (0..8)
            .map(|w| {
                let (scim, acknowledged) = (scim.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    for i in (from + w..to).step_by(8) {
                        let body = user_body(&unique_user_name(&format!("burst-{i}")));
                        let Ok(reply) = scim
                            .try_send(reqwest::Method::POST, "/Users", Some(&body))
                            .await
                        else {
                            return; // the server is gone
                        };
                        assert_eq!(reply.status, 201, "{}", reply.body);
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    let writers = burst(server.scim(&t.key), 0, 1000);
    bounded(60, "300 acknowledged changes", async {
        while acknowledged.load(Ordering::SeqCst) < 300 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let delivered_before = receiver.seqs().len();
    server.kill9().await;
    for w in writers {
        w.await.expect("writer");
    }
    let done = acknowledged.load(Ordering::SeqCst);
    assert!(done < 1000, "the kill came in the middle of the burst");

    // Restarted: the rest of the burst, then everything is delivered.
    let server = Server::start_with(db.url(), &allow).await;
    for w in burst(server.scim(&t.key), done, 1000) {
        w.await.expect("writer");
    }
    let all: Vec<i64> = all_event_seqs(db.url())
        .await
        .into_iter()
        .filter(|s| *s > registered)
        .collect();
    // The lease of the killed process runs out first (30 s).
    receiver.wait_for_all(&all, 120).await;
    let got = receiver.seqs();
    let mut first_arrivals = Vec::new();
    for seq in &got {
        if !first_arrivals.contains(seq) {
            first_arrivals.push(*seq);
        }
    }
    let mut sorted = first_arrivals.clone();
    sorted.sort_unstable();
    assert_eq!(first_arrivals, sorted, "first arrivals in sequence order");
    assert!(
        got.iter().all(|s| all.contains(s)),
        "only events of the outbox"
    );
    eprintln!(
        "{} events; {delivered_before} delivered before the kill; {} deliveries in all ({} again \
         after the crash)",
        all.len(),
        got.len(),
        got.len() - first_arrivals.len()
    );
}
