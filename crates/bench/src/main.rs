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
    let target = start(&args).await;
    let load_before = load_average();
    let bench = Bench::new(args, target).await;
    let rows = bench.phases().await;
    let memory = bench.server().and_then(Process::memory);
    let load_after = load_average();
    report(
        &bench.args,
        &bench.target,
        &rows,
        memory,
        [&load_before, &load_after],
    );
    let failed = !bench.peer() && rows.iter().any(|r| !r.is_measured());
    // `exit` runs no destructors: stop the server first.
    drop(bench);
    if failed {
        std::process::exit(1);
    }
}

/// The peer at `--target-url`, or a scimitar the bench starts itself.
async fn start(args: &Args) -> Target {
    match &args.target_url {
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
    }
}

/// Why a phase cannot run when `/ServiceProviderConfig` says `what` is
/// unsupported; a target that does not say is given the benefit of the doubt.
fn unsupported(flag: Option<bool>, what: &str) -> Option<String> {
    (flag == Some(false)).then(|| format!("{what} not supported (ServiceProviderConfig)"))
}

/// The first reason a phase cannot run, if there is one.
fn first_reason(reasons: &[&Option<String>]) -> Option<String> {
    reasons.iter().find_map(|r| (*r).clone())
}

/// The group a phase works on, unless one of `reasons` (or the group's own
/// creation failing) keeps the phase from running.
fn ready<'a>(
    group: &'a Result<Group, String>,
    reasons: &[&Option<String>],
) -> Result<&'a Group, String> {
    match first_reason(reasons) {
        Some(reason) => Err(reason),
        None => group.as_ref().map_err(Clone::clone),
    }
}

/// The users `POST /Users` provisioned, for the phases that read and patch
/// them.
struct Users {
    ids: Arc<Vec<String>>,
    /// Why the phases that need users cannot run: `POST /Users` was not
    /// measured.
    missing: Option<String>,
}

/// One run against one target: what every phase shares.
struct Bench {
    args: Args,
    target: Target,
    client: reqwest::Client,
    base: Arc<String>,
    /// Keeps this run's userNames and group names apart from earlier runs'
    /// against the same peer.
    run: String,
    /// Set when the target says it cannot filter.
    no_filter: Option<String>,
    /// Set when the target says it cannot PATCH.
    no_patch: Option<String>,
}

impl Bench {
    async fn new(args: Args, target: Target) -> Self {
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
        let base = Arc::new(target.base.clone());
        let run = format!("{:08x}", uuid::Uuid::new_v4().as_u128() as u32);
        let (filter_ok, patch_ok) = supports(&client, &base).await;
        Self {
            args,
            target,
            client,
            base,
            run,
            no_filter: unsupported(filter_ok, "filter"),
            no_patch: unsupported(patch_ok, "PATCH"),
        }
    }

    fn server(&self) -> Option<&Process> {
        self.target.process.as_ref()
    }

    fn peer(&self) -> bool {
        self.target.is_peer()
    }

    /// A phase of `--requests` requests, `--concurrency` in flight.
    fn spec(&self, key: &'static str, name: impl Into<String>) -> Spec {
        Spec {
            key,
            name: name.into(),
            total: self.args.requests,
            concurrency: self.args.concurrency,
            budget: Duration::from_secs(self.args.phase_budget),
        }
    }

    async fn measure<M>(&self, spec: &Spec, make: M, check: Arc<Check>) -> Outcome
    where
        M: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
    {
        phase::run(spec, self.server(), make, check).await
    }

    /// Every phase, in order. A phase that a later one depends on makes the
    /// later one n/a when it is not measured.
    async fn phases(&self) -> Vec<Outcome> {
        let mut rows = Vec::new();
        let (create, users) = self.create_users().await;
        rows.push(create);
        rows.push(self.filter_user_name(&users).await);
        rows.push(self.get_user(&users).await);
        rows.push(self.list_page(&users).await);

        let (big, small) = self.create_groups().await;
        let fill = self.fill_big_group(&users, &big).await;
        let big_filled = fill.is_measured();
        rows.push(fill);
        // How many members the big group really holds, read once, untimed.
        let big_size = match (&big, big_filled) {
            (Ok(g), true) => member_count(&self.client, &self.base, &g.id).await,
            _ => None,
        };
        let not_filled = (!big_filled).then(|| "needs the big group filled".to_owned());
        let small_filled = self.fill_small_group(&users, &small).await;

        // One member in, one member out: the cost must not depend on group size.
        let big_label = match big_size {
            Some(n) if n != users.ids.len() => format!("{n} members, {} sent", users.ids.len()),
            _ => format!("{} members", self.args.users),
        };
        rows.push(
            self.remove_add_member(
                "group_remove_add_big",
                &big_label,
                &users,
                &big,
                &not_filled,
            )
            .await,
        );
        rows.push(
            self.remove_add_member(
                "group_remove_add_small",
                "10 members",
                &users,
                &small,
                &small_filled,
            )
            .await,
        );
        rows.push(
            self.group_by_external_id(&big_label, &big, &not_filled)
                .await,
        );
        rows.push(self.user_patch(&users).await);
        rows
    }

    /// Provisions users as Entra does on its first cycle and keeps their ids.
    async fn create_users(&self) -> (Outcome, Users) {
        let ids: Arc<Mutex<Vec<Option<String>>>> =
            Arc::new(Mutex::new(vec![None; self.args.users]));
        let spec = Spec {
            total: self.args.users,
            ..self.spec("create_user", "POST /Users (create)")
        };
        let (c, b, r, seen) = (
            self.client.clone(),
            self.base.clone(),
            self.run.clone(),
            ids.clone(),
        );
        let create = self
            .measure(
                &spec,
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
        let users = Users {
            ids: Arc::new(ids.lock().expect("ids").iter().flatten().cloned().collect()),
            missing: (!create.is_measured()).then(|| "needs the users of POST /Users".to_owned()),
        };
        (create, users)
    }

    async fn filter_user_name(&self, users: &Users) -> Outcome {
        let spec = self.spec("filter_user_name", "GET /Users?filter=userName eq");
        if let Some(reason) = first_reason(&[&users.missing, &self.no_filter]) {
            return Outcome::skipped(&spec, reason);
        }
        let (c, b, r, n) = (
            self.client.clone(),
            self.base.clone(),
            self.run.clone(),
            self.args.users,
        );
        // Upper case: userName is case-insensitive (RFC 7643 caseExact false).
        self.measure(
            &spec,
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

    async fn get_user(&self, users: &Users) -> Outcome {
        let spec = self.spec("get_user", "GET /Users/{id}");
        if let Some(reason) = users.missing.clone() {
            return Outcome::skipped(&spec, reason);
        }
        let (c, b, ids) = (self.client.clone(), self.base.clone(), users.ids.clone());
        self.measure(
            &spec,
            move |i| c.get(format!("{b}/Users/{}", ids[(i * 7919) % ids.len()])),
            check(status(&[200])),
        )
        .await
    }

    /// The first page of 100 users, as a client pages through a tenant;
    /// its cost must not grow with the tenant.
    async fn list_page(&self, users: &Users) -> Outcome {
        let spec = self.spec("list_page", "GET /Users?startIndex=1&count=100");
        if let Some(reason) = users.missing.clone() {
            return Outcome::skipped(&spec, reason);
        }
        let (c, b) = (self.client.clone(), self.base.clone());
        let expected = users.ids.len().min(100);
        self.measure(
            &spec,
            move |_| {
                c.get(format!("{b}/Users"))
                    .query(&[("startIndex", "1"), ("count", "100")])
            },
            check(move |status, body| phase::a_page(status, body, expected)),
        )
        .await
    }

    /// The big group, for all users, and the small one, for ten; both fail
    /// together if either cannot be created.
    async fn create_groups(&self) -> (Result<Group, String>, Result<Group, String>) {
        let run = &self.run;
        let groups: Result<(Group, Group), String> = async {
            let big = self
                .target
                .create_group(
                    &self.client,
                    &format!("Everyone {run}"),
                    &format!("ext-big-{run}"),
                )
                .await?;
            let small = self
                .target
                .create_group(
                    &self.client,
                    &format!("Few {run}"),
                    &format!("ext-small-{run}"),
                )
                .await?;
            Ok((big, small))
        }
        .await;
        match groups {
            Ok((big, small)) => (Ok(big), Ok(small)),
            Err(e) => (Err(e.clone()), Err(e)),
        }
    }

    /// Fills the big group in Entra-sized batches of 100.
    async fn fill_big_group(&self, users: &Users, big: &Result<Group, String>) -> Outcome {
        let spec = Spec {
            total: users.ids.len().div_ceil(100),
            concurrency: self.args.concurrency.min(4),
            ..self.spec("group_add_100", "PATCH /Groups add 100 members")
        };
        let group = match ready(big, &[&users.missing, &self.no_patch]) {
            Ok(g) => g,
            Err(reason) => return Outcome::skipped(&spec, reason),
        };
        let batches: Arc<Vec<Vec<String>>> =
            Arc::new(users.ids.chunks(100).map(<[String]>::to_vec).collect());
        let (c, b, g) = (self.client.clone(), self.base.clone(), group.id.clone());
        self.measure(
            &spec,
            move |i| {
                let members: Vec<Value> =
                    batches[i].iter().map(|id| json!({"value": id})).collect();
                c.patch(format!("{b}/Groups/{g}")).json(&patch(
                    json!([{"op": "Add", "path": "members", "value": members}]),
                ))
            },
            check(status(patch_status(self.peer(), 204))),
        )
        .await
    }

    /// Adds the first ten users to the small group, untimed; `Some(reason)`
    /// when that could not be done.
    async fn fill_small_group(
        &self,
        users: &Users,
        small: &Result<Group, String>,
    ) -> Option<String> {
        let group = match ready(small, &[&users.missing, &self.no_patch]) {
            Ok(g) => g,
            Err(reason) => return Some(reason),
        };
        let members: Vec<Value> = users
            .ids
            .iter()
            .take(10)
            .map(|id| json!({"value": id}))
            .collect();
        let resp = self
            .client
            .patch(format!("{}/Groups/{}", self.base, group.id))
            .json(&patch(
                json!([{"op": "Add", "path": "members", "value": members}]),
            ))
            .send()
            .await;
        match resp {
            Ok(r) if patch_status(self.peer(), 204).contains(&r.status().as_u16()) => None,
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

    /// One membership change, a Remove and an Add of one of the first ten
    /// users, in a group of `label`'s size.
    async fn remove_add_member(
        &self,
        key: &'static str,
        label: &str,
        users: &Users,
        group: &Result<Group, String>,
        filled: &Option<String>,
    ) -> Outcome {
        let spec = self.spec(key, format!("PATCH /Groups remove+add 1 member ({label})"));
        let group = match ready(group, &[&users.missing, &self.no_patch, filled]) {
            Ok(g) => g,
            Err(reason) => return Outcome::skipped(&spec, reason),
        };
        let (c, b, ids, g) = (
            self.client.clone(),
            self.base.clone(),
            users.ids.clone(),
            group.id.clone(),
        );
        self.measure(
            &spec,
            move |i| {
                let id = &ids[(i * 7919) % 10];
                c.patch(format!("{b}/Groups/{g}")).json(&patch(json!([
                    {"op": "Remove", "path": format!("members[value eq \"{id}\"]")},
                    {"op": "Add", "path": "members", "value": [{"value": id}]},
                ])))
            },
            check(status(patch_status(self.peer(), 204))),
        )
        .await
    }

    /// Entra's group matching by objectId, members left out.
    async fn group_by_external_id(
        &self,
        big_label: &str,
        big: &Result<Group, String>,
        filled: &Option<String>,
    ) -> Outcome {
        let spec = self.spec(
            "group_by_external_id",
            format!("GET /Groups?filter=externalId eq&excludedAttributes=members ({big_label})"),
        );
        let group = match ready(big, &[&self.no_filter, filled]) {
            Ok(g) => g,
            Err(reason) => return Outcome::skipped(&spec, reason),
        };
        let (c, b, ext) = (
            self.client.clone(),
            self.base.clone(),
            group.external_id.clone(),
        );
        let mut outcome = self
            .measure(
                &spec,
                move |_| {
                    c.get(format!("{b}/Groups")).query(&[
                        ("filter", format!("externalId eq \"{ext}\"")),
                        ("excludedAttributes", "members".to_owned()),
                    ])
                },
                check(one_resource),
            )
            .await;
        if members_excluded(&self.client, &self.base, &group.external_id).await == Some(false) {
            outcome.note("members returned despite excludedAttributes".to_owned());
        }
        outcome
    }

    /// A no-path `Replace` as Entra sends it: `name.givenName` and a
    /// URN-qualified `displayName`.
    async fn user_patch(&self, users: &Users) -> Outcome {
        let spec = self.spec("user_patch", "PATCH /Users replace title+name (Entra)");
        if let Some(reason) = first_reason(&[&users.missing, &self.no_patch]) {
            return Outcome::skipped(&spec, reason);
        }
        let (c, b, ids, r) = (
            self.client.clone(),
            self.base.clone(),
            users.ids.clone(),
            self.run.clone(),
        );
        self.measure(
            &spec,
            move |i| {
                c.patch(format!("{b}/Users/{}", ids[(i * 7919) % ids.len()]))
                    .json(&patch(json!([{"op": "Replace", "value": {
                        "title": format!("Title {i}"),
                        "name.givenName": format!("Given{i}"),
                        "urn:ietf:params:scim:schemas:core:2.0:User:displayName": format!("User {i} {r}"),
                    }}])))
            },
            check(status(patch_status(self.peer(), 200))),
        )
        .await
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
