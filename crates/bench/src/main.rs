//! `scimitar-bench`: starts a real `scimitar serve` and drives it over
//! loopback HTTP the way identity providers do, then prints throughput,
//! latency percentiles and the server's memory.
//!
//! ```sh
//! cargo build --release -p scimitar && cargo run --release -p scimitar-bench
//! cargo run --release -p scimitar-bench -- --users 100000 --database postgres://postgres@127.0.0.1/bench
//! ```
//!
//! Requests loop a bounded number of times against 127.0.0.1 only.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser, Clone)]
#[command(about = "Benchmark a scimitar server the way identity providers load it")]
struct Args {
    /// Users to provision (the big group holds all of them).
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests per measured read/patch phase.
    #[arg(long, default_value_t = 5_000)]
    requests: usize,
    /// Database URL; a fresh SQLite file in a temporary folder by default.
    #[arg(long)]
    database: Option<String>,
    /// The scimitar binary; `target/release/scimitar` by default.
    #[arg(long, env = "SCIMITAR_BIN")]
    bin: Option<PathBuf>,
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Peak and current resident memory of the server process, in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
}

fn cli(bin: &PathBuf, db: &str, args: &[&str]) -> Value {
    let out = Command::new(bin)
        .args(args)
        .env("SCIMITAR_DATABASE_URL", db)
        .output()
        .expect("run scimitar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

async fn start(bin: &PathBuf, db: &str) -> Server {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SCIMITAR_DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start scimitar serve");
    let stdout = child.stdout.take().expect("stdout");
    let stdout = tokio::process::ChildStdout::from_std(stdout).expect("async stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("address line");
    let addr = line.trim().trim_start_matches("listening on ").to_owned();
    Server {
        child,
        base: format!("http://{addr}/scim/v2"),
    }
}

/// Latencies of one phase.
struct Phase {
    name: String,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn row(&mut self) -> String {
        self.latencies.sort();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies
                .get(i)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
            self.name,
            self.latencies.len(),
            self.latencies.len() as f64 / self.wall.as_secs_f64(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        )
    }
}

/// Runs `total` requests, `concurrency` at a time; `make(i)` builds request i
/// and returns the status it must answer.
async fn phase<F, Fut>(name: &str, total: usize, concurrency: usize, make: F) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (reqwest::RequestBuilder, u16)> + Send,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let make = make.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (req, expected) = make(i).await;
                let t = Instant::now();
                let resp = req.send().await.expect("request");
                let status = resp.status().as_u16();
                let body = resp.bytes().await.expect("body");
                latencies.push(t.elapsed());
                assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    Phase {
        name: name.to_owned(),
        wall: started.elapsed(),
        latencies,
    }
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bin = args.bin.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/scimitar")
    });
    assert!(
        bin.exists(),
        "{} not found: cargo build --release -p scimitar",
        bin.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let db = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));

    let tenant = cli(&bin, &db, &["tenant", "create", "--name", "Bench"])["id"]
        .as_str()
        .expect("tenant id")
        .to_owned();
    let key = cli(&bin, &db, &["apikey", "create", "--tenant", &tenant])["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let group = |name: &str, ext: &str| {
        cli(
            &bin,
            &db,
            &[
                "group",
                "create",
                "--tenant",
                &tenant,
                "--name",
                name,
                "--external-id",
                ext,
            ],
        )["id"]
            .as_str()
            .expect("group id")
            .to_owned()
    };
    let big = group("Everyone", "ext-big");
    let small = group("Few", "ext-small");

    let server = start(&bin, &db).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {key}").parse().expect("header"),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .expect("client");
    let base = Arc::new(server.base.clone());
    let run = format!("{:08x}", rand_u32());
    let mut rows = Vec::new();

    // Provision users as Entra does on its first cycle.
    let (c, b, r) = (client.clone(), base.clone(), run.clone());
    rows.push(
        phase("POST /Users (create)", args.users, args.concurrency, move |i| {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("user{i}.{r}@example.com"),
                "active": true,
                "displayName": format!("User {i}"),
                "name": {"givenName": "User", "familyName": format!("{i}")},
                "externalId": format!("ext-{i}"),
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
            });
            let req = c.post(format!("{b}/Users")).json(&body);
            async move { (req, 201) }
        })
        .await,
    );
    let ids = list_ids(&client, &server.base).await;
    let ids = Arc::new(ids);

    let (c, b, r, n) = (client.clone(), base.clone(), run.clone(), args.users);
    rows.push(
        phase(
            "GET /Users?filter=userName eq",
            args.requests,
            args.concurrency,
            move |i| {
                let req = c.get(format!("{b}/Users")).query(&[(
                    "filter",
                    format!("userName eq \"USER{}.{r}@EXAMPLE.COM\"", (i * 7919) % n),
                )]);
                async move { (req, 200) }
            },
        )
        .await,
    );
    let (c, b, ids2) = (client.clone(), base.clone(), ids.clone());
    rows.push(
        phase(
            "GET /Users/{id}",
            args.requests,
            args.concurrency,
            move |i| {
                let req = c.get(format!("{b}/Users/{}", ids2[(i * 7919) % ids2.len()]));
                async move { (req, 200) }
            },
        )
        .await,
    );

    // Fill the big group in Entra-sized batches.
    let batches: Vec<Vec<String>> = ids.chunks(100).map(<[String]>::to_vec).collect();
    let batches = Arc::new(batches);
    let (c, b, bs, g) = (client.clone(), base.clone(), batches.clone(), big.clone());
    rows.push(
        phase(
            "PATCH /Groups add 100 members",
            batches.len(),
            args.concurrency.min(4),
            move |i| {
                let members: Vec<Value> = bs[i].iter().map(|id| json!({"value": id})).collect();
                let body = patch(json!([{"op": "Add", "path": "members", "value": members}]));
                let req = c.patch(format!("{b}/Groups/{g}")).json(&body);
                async move { (req, 204) }
            },
        )
        .await,
    );
    let small_members: Vec<Value> = ids.iter().take(10).map(|id| json!({"value": id})).collect();
    let resp = client
        .patch(format!("{}/Groups/{small}", server.base))
        .json(&patch(
            json!([{"op": "Add", "path": "members", "value": small_members}]),
        ))
        .send()
        .await
        .expect("fill small group");
    assert_eq!(resp.status().as_u16(), 204);

    // One member in, one member out: the cost must not depend on group size.
    for (label, group_id) in [
        (format!("{} members", args.users), big.clone()),
        ("10 members".to_owned(), small.clone()),
    ] {
        let (c, b, ids2, g) = (client.clone(), base.clone(), ids.clone(), group_id);
        rows.push(
            phase(
                &format!("PATCH /Groups remove+add 1 member ({label})"),
                args.requests,
                args.concurrency,
                move |i| {
                    let id = &ids2[(i * 7919) % 10];
                    let body = patch(json!([
                        {"op": "Remove", "path": format!("members[value eq \"{id}\"]")},
                        {"op": "Add", "path": "members", "value": [{"value": id}]},
                    ]));
                    let req = c.patch(format!("{b}/Groups/{g}")).json(&body);
                    async move { (req, 204) }
                },
            )
            .await,
        );
    }
    let (c, b) = (client.clone(), base.clone());
    rows.push(
        phase(
            &format!(
                "GET /Groups?filter=externalId eq&excludedAttributes=members ({} members)",
                args.users
            ),
            args.requests,
            args.concurrency,
            move |_| {
                let req = c.get(format!("{b}/Groups")).query(&[
                    ("filter", "externalId eq \"ext-big\""),
                    ("excludedAttributes", "members"),
                ]);
                async move { (req, 200) }
            },
        )
        .await,
    );
    let (c, b, ids2, r) = (client.clone(), base.clone(), ids.clone(), run.clone());
    rows.push(
        phase("PATCH /Users replace title+name (Entra)", args.requests, args.concurrency, move |i| {
            let body = patch(json!([{"op": "Replace", "value": {
                "title": format!("Title {i}"),
                "name.givenName": format!("Given{i}"),
                "urn:ietf:params:scim:schemas:core:2.0:User:displayName": format!("User {i} {r}"),
            }}]));
            let req = c.patch(format!("{b}/Users/{}", ids2[(i * 7919) % ids2.len()])).json(&body);
            async move { (req, 200) }
        })
        .await,
    );

    let (peak, rss) = server.memory();
    println!(
        "\nscimitar-bench: {} users, concurrency {}, database {}\n",
        args.users,
        args.concurrency,
        if args.database.is_some() {
            "as given"
        } else {
            "SQLite (temporary file)"
        }
    );
    println!("| phase | requests | req/s | p50 ms | p99 ms | max ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for row in &mut rows {
        println!("{}", row.row());
    }
    println!("\nserver memory: peak RSS {peak:.1} MiB, RSS now {rss:.1} MiB");
}

async fn list_ids(client: &reqwest::Client, base: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut start = 1;
    loop {
        let page: Value = client
            .get(format!("{base}/Users"))
            .query(&[
                ("startIndex", start.to_string()),
                ("count", "1000".to_owned()),
                ("attributes", "id".to_owned()),
            ])
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("list body");
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        if resources.is_empty() {
            break;
        }
        start += resources.len();
        ids.extend(
            resources
                .iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned)),
        );
    }
    ids
}

fn rand_u32() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}
