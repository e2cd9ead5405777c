//! What the SQL backends share that does not depend on the backend's types.
//! The shared implementation itself, `common.rs`, is compiled inside each
//! backend module.

pub mod filter;
