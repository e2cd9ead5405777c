//! One measured phase: a bounded number of requests, a fixed number in
//! flight, every answer checked. A phase that a target cannot serve is not
//! measured: it is reported as "n/a" with the reason, never as a number.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::target::Process;

/// What a phase does and how far it may go.
pub struct Spec {
    /// Stable name of the phase, for the JSON report and the ratios.
    pub key: &'static str,
    /// What a reader sees in the table.
    pub name: String,
    pub total: usize,
    pub concurrency: usize,
    /// A phase still running after this is stopped and reported as n/a.
    pub budget: Duration,
}

/// The result of one phase.
pub struct Outcome {
    key: &'static str,
    name: String,
    /// `Err(reason)` when the phase was skipped or a request failed.
    result: Result<Measured, String>,
}

struct Measured {
    wall: Duration,
    latencies: Vec<Duration>,
    /// Server CPU time spent during the phase, when the server is known.
    cpu: Option<Duration>,
    note: Option<String>,
}

impl Outcome {
    /// A phase that was not run, and why.
    pub fn skipped(spec: &Spec, reason: impl Into<String>) -> Self {
        Self {
            key: spec.key,
            name: spec.name.clone(),
            result: Err(reason.into()),
        }
    }

    pub fn is_measured(&self) -> bool {
        self.result.is_ok()
    }

    /// Adds a remark to a measured phase (say, the status a peer answers).
    pub fn note(&mut self, note: String) {
        if let Ok(m) = &mut self.result {
            m.note = Some(match m.note.take() {
                Some(old) => format!("{old}; {note}"),
                None => note,
            });
        }
    }

    fn percentile(latencies: &[Duration], p: f64) -> f64 {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// A Markdown table row.
    pub fn row(&self) -> String {
        match &self.result {
            Ok(m) => format!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} |",
                self.name,
                m.latencies.len(),
                m.latencies.len() as f64 / m.wall.as_secs_f64(),
                Self::percentile(&m.latencies, 0.5),
                Self::percentile(&m.latencies, 0.99),
                Self::percentile(&m.latencies, 1.0),
                m.cpu.map_or("n/a".to_owned(), |cpu| format!(
                    "{:.2}",
                    cpu.as_secs_f64() * 1000.0 / m.latencies.len() as f64
                )),
                m.note.as_deref().unwrap_or(""),
            ),
            Err(reason) => format!("| {} | n/a | n/a | | | | | {reason} |", self.name),
        }
    }

    pub fn to_json(&self) -> Value {
        match &self.result {
            Ok(m) => json!({
                "key": self.key,
                "name": self.name,
                "requests": m.latencies.len(),
                "req_per_s": m.latencies.len() as f64 / m.wall.as_secs_f64(),
                "p50_ms": Self::percentile(&m.latencies, 0.5),
                "p99_ms": Self::percentile(&m.latencies, 0.99),
                "max_ms": Self::percentile(&m.latencies, 1.0),
                "server_cpu_ms_per_req": m.cpu.map(|cpu| cpu.as_secs_f64() * 1000.0 / m.latencies.len() as f64),
                "note": m.note,
            }),
            Err(reason) => json!({"key": self.key, "name": self.name, "na": reason}),
        }
    }
}

pub const HEADER: &str = "| phase | requests | req/s | p50 ms | p99 ms | max ms | server CPU ms/req | note |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |";

/// Checks one answer: its index, status and body.
pub type Check = dyn Fn(usize, u16, &[u8]) -> Result<(), String> + Send + Sync;

/// Runs `spec.total` requests, `spec.concurrency` at a time; `make(i)` builds
/// request i and `check` judges its answer. The first failure stops the
/// phase, which is then reported as n/a with that failure as the reason.
pub async fn run<M>(spec: &Spec, server: Option<&Process>, make: M, check: Arc<Check>) -> Outcome
where
    M: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let cpu_before = server.and_then(Process::cpu_time);
    let started = Instant::now();
    let shared = Arc::new(Workers {
        make,
        check,
        total: spec.total,
        started,
        deadline: started + spec.budget,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        failure: Mutex::new(None),
        statuses: Mutex::new(Vec::new()),
    });
    let workers: Vec<_> = (0..spec.concurrency.max(1))
        .map(|_| tokio::spawn(shared.clone().work()))
        .collect();
    let mut latencies = Vec::with_capacity(spec.total);
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    let wall = started.elapsed();
    let cpu = match (cpu_before, server.and_then(Process::cpu_time)) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    if let Some(reason) = shared.failure.lock().expect("failure lock").take() {
        return Outcome::skipped(spec, reason);
    }
    latencies.sort();
    let statuses = shared.statuses.lock().expect("status lock").clone();
    Outcome {
        key: spec.key,
        name: spec.name.clone(),
        result: Ok(Measured {
            wall,
            latencies,
            cpu,
            note: None,
        }),
    }
    .with_statuses(&statuses)
}

/// What the workers of one phase share: they take request indices from one
/// counter, and the first failure stops them all.
struct Workers<M> {
    make: M,
    check: Arc<Check>,
    total: usize,
    started: Instant,
    deadline: Instant,
    next: AtomicUsize,
    stop: AtomicBool,
    /// The first failure, which becomes the phase's reason for n/a.
    failure: Mutex<Option<String>>,
    /// Every status that passed the check, in the order first seen.
    statuses: Mutex<Vec<u16>>,
}

impl<M> Workers<M>
where
    M: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    /// One worker: sends requests until all are sent, one fails or the
    /// budget runs out; returns the latencies of the answers it checked.
    async fn work(self: Arc<Self>) -> Vec<Duration> {
        let mut latencies = Vec::new();
        while !self.stop.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.total {
                break;
            }
            if Instant::now() > self.deadline {
                self.fail(format!(
                    "stopped: {i} of {} requests done in the {} s budget",
                    self.total,
                    (self.deadline - self.started).as_secs()
                ));
                break;
            }
            let req = (self.make)(i);
            let t = Instant::now();
            let answer = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    resp.bytes().await.map(|body| (status, body))
                }
                Err(e) => Err(e),
            };
            let elapsed = t.elapsed();
            match answer {
                Ok((status, body)) => match (self.check)(i, status, &body) {
                    Ok(()) => {
                        latencies.push(elapsed);
                        self.seen(status);
                    }
                    Err(reason) => self.fail(reason),
                },
                Err(e) => self.fail(format!("request failed: {}", causes(&e))),
            }
        }
        latencies
    }

    fn seen(&self, status: u16) {
        let mut seen = self.statuses.lock().expect("status lock");
        if !seen.contains(&status) {
            seen.push(status);
        }
    }

    /// Stops every worker; the first reason given is the one kept.
    fn fail(&self, reason: String) {
        self.stop.store(true, Ordering::Relaxed);
        self.failure
            .lock()
            .expect("failure lock")
            .get_or_insert(reason);
    }
}

impl Outcome {
    fn with_statuses(mut self, statuses: &[u16]) -> Self {
        if statuses.len() > 1 {
            let list: Vec<String> = statuses.iter().map(u16::to_string).collect();
            self.note(format!("answers {}", list.join(" or ")));
        }
        self
    }
}

/// A check that accepts the given statuses; the first one is what scimitar
/// answers, the others what RFC 7644 also allows (a PATCH may answer 200 with
/// the resource or 204 without it).
pub fn status(allowed: &'static [u16]) -> impl Fn(u16, &[u8]) -> Result<(), String> {
    move |status, body| {
        if allowed.contains(&status) {
            Ok(())
        } else {
            Err(refusal(status, body))
        }
    }
}

/// Why an answer was refused, with the SCIM error detail when there is one.
pub fn refusal(status: u16, body: &[u8]) -> String {
    let detail = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(160)]).into_owned());
    format!(
        "answered {status}: {}",
        detail.replace('|', "/").replace('\n', " ")
    )
}

/// An error and its causes, on one line.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A list response must hold exactly one resource.
/// A list answer holding `expected` resources.
pub fn a_page(status: u16, body: &[u8], expected: usize) -> Result<(), String> {
    if status != 200 {
        return Err(refusal(status, body));
    }
    let list: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let found = list["Resources"].as_array().map_or(0, Vec::len);
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "wrong answer: {found} resources where the page holds {expected}"
        ))
    }
}

pub fn one_resource(status: u16, body: &[u8]) -> Result<(), String> {
    if status != 200 {
        return Err(refusal(status, body));
    }
    let list: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let found = list["Resources"].as_array().map_or(0, Vec::len);
    if found == 1 {
        Ok(())
    } else {
        Err(format!(
            "wrong answer: {found} resources where exactly 1 matches (totalResults {})",
            list["totalResults"]
        ))
    }
}
