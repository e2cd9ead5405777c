//! scimitar-proto's integration tests, in one binary: one link instead of
//! one per file.

#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "in a test a failed unwrap is a failed test, and a test reads as one story"
)]

mod dialect_clients;
mod filter_eval;
mod filter_grammar;
mod filter_path;
mod filter_props;
mod patch_engine;
mod patch_members;
mod patch_props;
mod patch_rfc7644;
mod projection_params;
mod resource_parse;
mod resource_render;
