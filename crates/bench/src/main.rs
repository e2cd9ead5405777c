//! `scimitar-bench`: drives a SCIM server over loopback HTTP the way identity
//! providers do, then prints throughput, latency percentiles, the server's
//! CPU time per request and its memory.
//!
//! By default it starts a real `scimitar serve` on a fresh SQLite file and
//! sets up a tenant, an API key and two groups with the CLI. With
//! `--target-url` it drives a peer — another SCIM server, already running —
//! with the same workload, creating the groups with `POST /Groups`. A phase
//! the peer cannot serve is reported as "n/a" with the reason.
//!
//! ```sh
//! cargo build --release -p scimitar -p scimitar-bench
//! target/release/scimitar-bench
//! target/release/scimitar-bench --users 100000 --database postgres://postgres@127.0.0.1/bench
//! target/release/scimitar-bench --target-url http://127.0.0.1:8081/v2 --token T --peer-pid 1234
//! ```
//!
//! Requests loop a bounded number of times, against 127.0.0.1 only, and each
//! phase stops at its time budget.

mod phase;
mod target;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};

use phase::{Check, HEADER, Outcome, Spec, one_resource, status};
use target::{Group, Process, Target};

#[derive(Parser, Clone)]
#[command(about = "Benchmark a SCIM server the way identity providers load it")]
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
    /// Seconds a phase may take before it is stopped and reported as n/a.
    #[arg(long, default_value_t = 300)]
    phase_budget: u64,
    /// Database URL; a fresh SQLite file in a temporary folder by default.
    #[arg(long, conflicts_with = "target_url")]
    database: Option<String>,
    /// The scimitar binary; `target/release/scimitar` by default. Unused
    /// with `--target-url`.
    #[arg(long, env = "SCIMITAR_BIN")]
    bin: Option<PathBuf>,
    /// Benchmark a running peer at this SCIM base URL instead of scimitar
    /// (e.g. `http://127.0.0.1:8081/v2`).
    #[arg(long)]
    target_url: Option<String>,
    /// Bearer token for the peer.
    #[arg(long, requires = "target_url")]
    token: Option<String>,
    /// Process id of the peer, to read its CPU time and memory from /proc.
    #[arg(long, requires = "target_url")]
    peer_pid: Option<u32>,
    /// Name of the peer in the report.
    #[arg(long, default_value = "peer", requires = "target_url")]
    peer_name: String,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// The 1-, 5- and 15-minute load averages of the machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// What the target's `/ServiceProviderConfig` says it supports; `None` when
/// it does not say.
async fn supports(client: &reqwest::Client, base: &str) -> (Option<bool>, Option<bool>) {
    let config: Option<Value> = match client
        .get(format!("{base}/ServiceProviderConfig"))
        .send()
        .await
    {
        Ok(resp) if resp.status().is_success() => resp.json().await.ok(),
        _ => None,
    };
    let flag = |name: &str| config.as_ref().and_then(|c| c[name]["supported"].as_bool());
    (flag("filter"), flag("patch"))
}

/// Statuses a write may answer: scimitar's exactly, a peer's as RFC 7644
/// allows (a PATCH answers 200 with the resource or 204 without).
fn patch_status(peer: bool, scimitar: u16) -> &'static [u16] {
    match (peer, scimitar) {
        (false, 204) => &[204],
        (false, _) => &[200],
        (true, 204) => &[204, 200],
        (true, _) => &[200, 204],
    }
}

fn check(f: impl Fn(u16, &[u8]) -> Result<(), String> + Send + Sync + 'static) -> Arc<Check> {
    Arc::new(move |_, status, body: &[u8]| f(status, body))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let target = match &args.target_url {
        Some(url) => Target::peer(
            args.peer_name.clone(),
            url.clone(),
            args.token.clone(),
            args.peer_pid,
        ),
        None => {
            let bin = args.bin.clone().unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/scimitar")
            });
            Target::scimitar(bin, args.database.clone()).await
        }
    };
    let load_before = load_average();
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = &target.token {
        headers.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let peer = target.is_peer();
    let server = target.process.as_ref();
    let base = Arc::new(target.base.clone());
    let run = format!("{:08x}", uuid::Uuid::new_v4().as_u128() as u32);
    let budget = Duration::from_secs(args.phase_budget);
    let spec = |key, name: String, total, concurrency| Spec {
        key,
        name,
        total,
        concurrency,
        budget,
    };
    let (filter_ok, patch_ok) = supports(&client, &base).await;
    let unsupported = |flag: Option<bool>, what: &str| {
        (flag == Some(false)).then(|| format!("{what} not supported (ServiceProviderConfig)"))
    };
    let no_filter = unsupported(filter_ok, "filter");
    let no_patch = unsupported(patch_ok, "PATCH");
    let mut rows: Vec<Outcome> = Vec::new();

    // Provision users as Entra does on its first cycle; keep their ids.
    let ids: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(vec![None; args.users]));
    let (c, b, r, seen) = (client.clone(), base.clone(), run.clone(), ids.clone());
    let create = phase::run(
        &spec(
            "create_user",
            "POST /Users (create)".to_owned(),
            args.users,
            args.concurrency,
        ),
        server,
        move |i| {
            c.post(format!("{b}/Users")).json(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("user{i}.{r}@example.com"),
                "active": true,
                "displayName": format!("User {i}"),
                "name": {"givenName": "User", "familyName": format!("{i}")},
                "externalId": format!("ext-{i}"),
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
            }))
        },
        Arc::new(move |i, status, body: &[u8]| {
            if status != 201 {
                return Err(phase::refusal(status, body));
            }
            let id = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|u| u["id"].as_str().map(str::to_owned))
                .ok_or("POST /Users answered no id")?;
            seen.lock().expect("ids")[i] = Some(id);
            Ok(())
        }),
    )
    .await;
    let users_ready = create.is_measured();
    rows.push(create);
    let ids: Arc<Vec<String>> =
        Arc::new(ids.lock().expect("ids").iter().flatten().cloned().collect());
    let need_users = (!users_ready).then(|| "needs the users of POST /Users".to_owned());

    let filter_spec = spec(
        "filter_user_name",
        "GET /Users?filter=userName eq".to_owned(),
        args.requests,
        args.concurrency,
    );
    rows.push(match need_users.clone().or(no_filter.clone()) {
        Some(reason) => Outcome::skipped(&filter_spec, reason),
        None => {
            let (c, b, r, n) = (client.clone(), base.clone(), run.clone(), args.users);
            // Upper case: userName is case-insensitive (RFC 7643 caseExact false).
            phase::run(
                &filter_spec,
                server,
                move |i| {
                    c.get(format!("{b}/Users")).query(&[(
                        "filter",
                        format!("userName eq \"USER{}.{r}@EXAMPLE.COM\"", (i * 7919) % n),
                    )])
                },
                check(one_resource),
            )
            .await
        }
    });

    let get_spec = spec(
        "get_user",
        "GET /Users/{id}".to_owned(),
        args.requests,
        args.concurrency,
    );
    rows.push(match need_users.clone() {
        Some(reason) => Outcome::skipped(&get_spec, reason),
        None => {
            let (c, b, ids2) = (client.clone(), base.clone(), ids.clone());
            phase::run(
                &get_spec,
                server,
                move |i| c.get(format!("{b}/Users/{}", ids2[(i * 7919) % ids2.len()])),
                check(status(&[200])),
            )
            .await
        }
    });

    let groups: Result<(Group, Group), String> = async {
        let big = target
            .create_group(
                &client,
                &format!("Everyone {run}"),
                &format!("ext-big-{run}"),
            )
            .await?;
        let small = target
            .create_group(&client, &format!("Few {run}"), &format!("ext-small-{run}"))
            .await?;
        Ok((big, small))
    }
    .await;
    let (big, small) = match groups {
        Ok((big, small)) => (Ok(big), Ok(small)),
        Err(e) => (Err(e.clone()), Err(e)),
    };
    let need = |group: &Result<Group, String>, extra: &[&Option<String>]| -> Option<String> {
        extra
            .iter()
            .find_map(|r| (*r).clone())
            .or_else(|| group.as_ref().err().cloned())
    };

    // Fill the big group in Entra-sized batches.
    let fill_spec = spec(
        "group_add_100",
        "PATCH /Groups add 100 members".to_owned(),
        ids.len().div_ceil(100),
        args.concurrency.min(4),
    );
    let fill = match (need(&big, &[&need_users, &no_patch]), &big) {
        (None, Ok(g)) => {
            let batches: Arc<Vec<Vec<String>>> =
                Arc::new(ids.chunks(100).map(<[String]>::to_vec).collect());
            let (c, b, g) = (client.clone(), base.clone(), g.id.clone());
            phase::run(
                &fill_spec,
                server,
                move |i| {
                    let members: Vec<Value> =
                        batches[i].iter().map(|id| json!({"value": id})).collect();
                    c.patch(format!("{b}/Groups/{g}")).json(&patch(
                        json!([{"op": "Add", "path": "members", "value": members}]),
                    ))
                },
                check(status(patch_status(peer, 204))),
            )
            .await
        }
        (reason, _) => Outcome::skipped(&fill_spec, reason.unwrap_or_default()),
    };
    let big_filled = fill.is_measured();
    rows.push(fill);
    // How many members the big group really holds, read once, untimed.
    let big_size = match (&big, big_filled) {
        (Ok(g), true) => member_count(&client, &base, &g.id).await,
        _ => None,
    };
    let not_filled = (!big_filled).then(|| "needs the big group filled".to_owned());
    let small_filled: Option<String> = match (need(&small, &[&need_users, &no_patch]), &small) {
        (None, Ok(g)) => {
            let members: Vec<Value> = ids.iter().take(10).map(|id| json!({"value": id})).collect();
            let resp = client
                .patch(format!("{base}/Groups/{}", g.id))
                .json(&patch(
                    json!([{"op": "Add", "path": "members", "value": members}]),
                ))
                .send()
                .await;
            match resp {
                Ok(r) if patch_status(peer, 204).contains(&r.status().as_u16()) => None,
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.bytes().await.unwrap_or_default();
                    Some(format!(
                        "filling the small group {}",
                        phase::refusal(status, &body)
                    ))
                }
                Err(e) => Some(format!("filling the small group failed: {e}")),
            }
        }
        (reason, _) => reason,
    };

    // One member in, one member out: the cost must not depend on group size.
    let big_label = match big_size {
        Some(n) if n != ids.len() => format!("{n} members, {} sent", ids.len()),
        _ => format!("{} members", args.users),
    };
    for (key, label, group, extra) in [
        ("group_remove_add_big", big_label.clone(), &big, &not_filled),
        (
            "group_remove_add_small",
            "10 members".to_owned(),
            &small,
            &small_filled,
        ),
    ] {
        let s = spec(
            key,
            format!("PATCH /Groups remove+add 1 member ({label})"),
            args.requests,
            args.concurrency,
        );
        rows.push(
            match (need(group, &[&need_users, &no_patch, extra]), group) {
                (None, Ok(g)) => {
                    let (c, b, ids2, g) = (client.clone(), base.clone(), ids.clone(), g.id.clone());
                    phase::run(
                        &s,
                        server,
                        move |i| {
                            let id = &ids2[(i * 7919) % 10];
                            c.patch(format!("{b}/Groups/{g}")).json(&patch(json!([
                                {"op": "Remove", "path": format!("members[value eq \"{id}\"]")},
                                {"op": "Add", "path": "members", "value": [{"value": id}]},
                            ])))
                        },
                        check(status(patch_status(peer, 204))),
                    )
                    .await
                }
                (reason, _) => Outcome::skipped(&s, reason.unwrap_or_default()),
            },
        );
    }

    let lookup_spec = spec(
        "group_by_external_id",
        format!("GET /Groups?filter=externalId eq&excludedAttributes=members ({big_label})"),
        args.requests,
        args.concurrency,
    );
    rows.push(match (need(&big, &[&no_filter, &not_filled]), &big) {
        (None, Ok(g)) => {
            let (c, b, ext) = (client.clone(), base.clone(), g.external_id.clone());
            let mut outcome = phase::run(
                &lookup_spec,
                server,
                move |_| {
                    c.get(format!("{b}/Groups")).query(&[
                        ("filter", format!("externalId eq \"{ext}\"")),
                        ("excludedAttributes", "members".to_owned()),
                    ])
                },
                check(one_resource),
            )
            .await;
            if members_excluded(&client, &base, &g.external_id).await == Some(false) {
                outcome.note("members returned despite excludedAttributes".to_owned());
            }
            outcome
        }
        (reason, _) => Outcome::skipped(&lookup_spec, reason.unwrap_or_default()),
    });

    let user_patch_spec = spec(
        "user_patch",
        "PATCH /Users replace title+name (Entra)".to_owned(),
        args.requests,
        args.concurrency,
    );
    rows.push(match need_users.clone().or(no_patch.clone()) {
        Some(reason) => Outcome::skipped(&user_patch_spec, reason),
        None => {
            let (c, b, ids2, r) = (client.clone(), base.clone(), ids.clone(), run.clone());
            phase::run(
                &user_patch_spec,
                server,
                move |i| {
                    c.patch(format!("{b}/Users/{}", ids2[(i * 7919) % ids2.len()]))
                        .json(&patch(json!([{"op": "Replace", "value": {
                            "title": format!("Title {i}"),
                            "name.givenName": format!("Given{i}"),
                            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": format!("User {i} {r}"),
                        }}])))
                },
                check(status(patch_status(peer, 200))),
            )
            .await
        }
    });

    let memory = server.and_then(Process::memory);
    let load_after = load_average();
    report(&args, &target, &rows, memory, [&load_before, &load_after]);
    let failed = !peer && rows.iter().any(|r| !r.is_measured());
    // `exit` runs no destructors: stop the server first.
    drop(target);
    if failed {
        std::process::exit(1);
    }
}

fn report(
    args: &Args,
    target: &Target,
    rows: &[Outcome],
    memory: Option<(f64, f64)>,
    load: [&str; 2],
) {
    println!(
        "\nscimitar-bench: {} at {}: {} users, {} requests per phase, concurrency {}, storage {}",
        target.name,
        target.base,
        args.users,
        args.requests,
        args.concurrency,
        target.storage()
    );
    if let Some(note) = &target.note {
        println!("{note}");
    }
    println!("load average before {}, after {}\n", load[0], load[1]);
    println!("{HEADER}");
    for row in rows {
        println!("{}", row.row());
    }
    match memory {
        Some((peak, rss)) => {
            println!("\nserver memory: peak RSS {peak:.1} MiB, RSS now {rss:.1} MiB");
        }
        None => println!("\nserver memory: n/a (give --peer-pid to read it from /proc)"),
    }
    if let Some(path) = &args.json {
        let doc = json!({
            "target": target.name,
            "base_url": target.base,
            "users": args.users,
            "requests": args.requests,
            "concurrency": args.concurrency,
            "storage": target.storage(),
            "setup": target.note,
            "load_before": load[0],
            "load_after": load[1],
            "peak_rss_mib": memory.map(|m| m.0),
            "rss_mib": memory.map(|m| m.1),
            "phases": rows.iter().map(Outcome::to_json).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc).expect("json"))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// Members of a group, read once with a plain GET.
async fn member_count(client: &reqwest::Client, base: &str, id: &str) -> Option<usize> {
    let group: Value = client
        .get(format!("{base}/Groups/{id}"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(group["members"].as_array().map_or(0, Vec::len))
}

/// Whether the externalId lookup leaves members out, as it was asked to.
async fn members_excluded(client: &reqwest::Client, base: &str, ext: &str) -> Option<bool> {
    let list: Value = client
        .get(format!("{base}/Groups"))
        .query(&[
            ("filter", format!("externalId eq \"{ext}\"")),
            ("excludedAttributes", "members".to_owned()),
        ])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(list["Resources"][0].get("members").is_none())
}
