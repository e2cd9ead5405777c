//! scimitar-core's integration tests, in one binary: one link instead of
//! one per file. Each module is a suite; most run on every backend
//! (`scimitar_core::on_every_backend!`).

mod domain;
mod faults;
mod filter_differential;
mod storage;
