//! scimitar-server's integration tests, in one binary: one link instead of
//! one per file. `common` is the in-process harness every suite uses.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "in a test a failed unwrap is a failed test, and a test reads as one story"
)]

#[macro_use]
mod common;

mod admin;
mod auth;
mod deactivation;
mod discovery;
mod errors;
mod feed;
mod groups;
mod hardening;
mod interop;
mod log;
mod panel;
mod policies;
mod rate_limit;
mod sessions;
mod store_spy;
mod user_name_domains;
mod user_names;
mod users;
mod webhooks;
