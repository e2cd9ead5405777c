//! scimitar-core's integration tests, in one binary: one link instead of
//! one per file. Each module is a suite; most run on every backend
//! (`scimitar_core::on_every_backend!`).

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "in a test a failed unwrap is a failed test, and a test reads as one story"
)]

mod domain;
mod faults;
mod filter_differential;
mod panel;
mod storage;
mod upgrade;
