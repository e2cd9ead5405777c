//! The scimitar binary's end-to-end tests, in one binary: real processes
//! over real sockets. `common` starts servers and runs CLI commands.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "in a test a failed unwrap is a failed test, and a test reads as one story"
)]

mod common;

mod admin_json;
mod concurrency;
mod connections;
mod durability;
mod e2e_entra;
mod faults;
mod webhooks;
