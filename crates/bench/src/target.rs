//! The server under test: a `scimitar serve` that the bench starts and sets
//! up with the CLI, or a peer — any SCIM server already running at a URL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A server process on this machine, read through `/proc`.
pub struct Process {
    pid: u32,
}

impl Process {
    pub fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// Peak and current resident memory, in MiB.
    pub fn memory(&self) -> Option<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// User plus system CPU time of all the process's threads so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name, which is in parentheses and may hold
        // spaces: state is field 3, utime 14 and stime 15 (proc(5)).
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // USER_HZ, which Linux fixes at 100 for /proc on every architecture
        // this runs on.
        Some(Duration::from_millis(ticks * 10))
    }
}

/// A group the bench fills and looks up.
#[derive(Clone)]
pub struct Group {
    pub id: String,
    pub external_id: String,
}

/// How the bench reaches the server and how groups come to be.
enum Kind {
    /// scimitar refuses `POST /Groups` by design: groups come from the CLI.
    Scimitar {
        bin: PathBuf,
        db: String,
        tenant: String,
        child: Child,
        _dir: tempfile::TempDir,
    },
    /// Groups are created with `POST /Groups`.
    Peer,
}

pub struct Target {
    pub name: String,
    pub base: String,
    pub token: Option<String>,
    pub process: Option<Process>,
    /// How the server was set up, for the report.
    pub note: Option<String>,
    kind: Kind,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Kind::Scimitar { child, .. } = &mut self.kind {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn cli(bin: &Path, db: &str, args: &[&str]) -> Value {
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

impl Target {
    /// Creates a tenant and an API key with the CLI, then starts
    /// `scimitar serve` on a free loopback port.
    pub async fn scimitar(bin: PathBuf, database: Option<String>) -> Self {
        assert!(
            bin.exists(),
            "{} not found: cargo build --release -p scimitar",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
        let tenant = cli(&bin, &db, &["tenant", "create", "--name", "Bench"])["id"]
            .as_str()
            .expect("tenant id")
            .to_owned();
        let key = cli(&bin, &db, &["apikey", "create", "--tenant", &tenant])["key"]
            .as_str()
            .expect("key")
            .to_owned();

        // A benchmark measures the server, not its per-tenant rate limit:
        // lift the limit when this build lets an operator do so.
        let help = Command::new(&bin)
            .args(["serve", "--help"])
            .output()
            .expect("scimitar serve --help");
        let liftable = String::from_utf8_lossy(&help.stdout).contains("--rate-limit-per-second");
        let note = if liftable {
            "rate limit lifted with --rate-limit-per-second 0"
        } else {
            "this build has no --rate-limit-per-second: a per-tenant rate limit, if any, stays on"
        };
        let mut serve = Command::new(&bin);
        serve.args(["serve", "--listen", "127.0.0.1:0"]);
        if liftable {
            serve.args(["--rate-limit-per-second", "0"]);
        }
        let mut child = serve
            .env("SCIMITAR_DATABASE_URL", &db)
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
        Self {
            name: "scimitar".to_owned(),
            base: format!("http://{addr}/scim/v2"),
            token: Some(key),
            process: Some(Process::new(child.id())),
            note: Some(note.to_owned()),
            kind: Kind::Scimitar {
                bin,
                db,
                tenant,
                child,
                _dir: dir,
            },
        }
    }

    /// A SCIM server that is already running.
    pub fn peer(name: String, base: String, token: Option<String>, pid: Option<u32>) -> Self {
        Self {
            name,
            base: base.trim_end_matches('/').to_owned(),
            token,
            process: pid.map(Process::new),
            note: None,
            kind: Kind::Peer,
        }
    }

    pub fn is_peer(&self) -> bool {
        matches!(self.kind, Kind::Peer)
    }

    /// What the database is, for the report.
    pub fn storage(&self) -> String {
        match &self.kind {
            Kind::Scimitar { db, .. } if db.starts_with("sqlite://") => {
                "SQLite (temporary file)".to_owned()
            }
            Kind::Scimitar { .. } => "as given (--database)".to_owned(),
            Kind::Peer => "the peer's own".to_owned(),
        }
    }

    /// Creates a group the way this target allows: the CLI for scimitar,
    /// `POST /Groups` for a peer.
    pub async fn create_group(
        &self,
        client: &reqwest::Client,
        name: &str,
        external_id: &str,
    ) -> Result<Group, String> {
        let id = match &self.kind {
            Kind::Scimitar {
                bin, db, tenant, ..
            } => cli(
                bin,
                db,
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
            )["id"]
                .as_str()
                .expect("group id")
                .to_owned(),
            Kind::Peer => {
                let resp = client
                    .post(format!("{}/Groups", self.base))
                    .json(&json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": name,
                        "externalId": external_id,
                    }))
                    .send()
                    .await
                    .map_err(|e| format!("POST /Groups failed: {e}"))?;
                let status = resp.status().as_u16();
                let body = resp.bytes().await.map_err(|e| e.to_string())?;
                if status != 201 {
                    return Err(format!(
                        "POST /Groups {}",
                        crate::phase::refusal(status, &body)
                    ));
                }
                serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|g| g["id"].as_str().map(str::to_owned))
                    .ok_or("POST /Groups answered no id")?
            }
        };
        Ok(Group {
            id,
            external_id: external_id.to_owned(),
        })
    }
}
