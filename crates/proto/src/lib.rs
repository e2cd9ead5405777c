//! # scimitar-proto: SCIM 2.0 without IO
//!
//! Everything that is *protocol* lives here, and nothing else: the RFC 7643
//! schemas, the RFC 7644 filter grammar and its evaluator, the PATCH engine,
//! attribute projection, wire types and the normalisation of identity
//! providers' dialects. There is no IO, no async, no clock and no database;
//! the dependency list (serde, serde_json, thiserror, and jiff without its
//! time-zone database, for RFC 3339 dates) proves it.
//!
//! Why a pure crate: real identity providers break SCIM servers in exactly
//! these places — a misread PATCH empties a group, a case-sensitive name
//! creates duplicates, a half-working filter makes Entra create users twice.
//! Pure functions over values can be tested exhaustively, property-tested and
//! fuzzed, which is how this crate earns its correctness.
//!
//! Every name is resolved against the static definitions in [`schema`], so
//! what `/Schemas` publishes is exactly what the parser and PATCH engine
//! enforce.

#![warn(missing_docs)]

pub mod datetime;
pub mod dialect;
pub mod error;
pub mod filter;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod wire;

pub use error::{ScimError, ScimType};
