//! # scimitar-core: the domain and its storage
//!
//! Tenants, subaccounts, groups, users, memberships, API keys, sessions,
//! events and the provisioning log, behind the small capability traits of
//! [`store`]. Two backends implement them with one shared body of SQL
//! ([`sqlite`], the embedded default, and [`postgres`]), so a behaviour
//! that differs between them is a bug, and one test suite runs on both.
//!
//! Protocol questions (what a filter means, what a PATCH does) are answered
//! by `scimitar-proto`; this crate decides what is stored and enforces the
//! rules that need stored state (uniqueness, immutability, tenancy).

#![warn(missing_docs)]

pub mod clock;
pub mod domain;
pub mod error;
mod gate;
pub mod ids;
pub mod model;
pub mod origin;
pub mod postgres;
pub mod rules;
mod sql;
pub mod sqlite;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

pub use error::{CoreError, Result};
pub use store::Store;

/// Opens the database a URL names: `sqlite://…` (created if missing) or
/// `postgres://…`, migrated to the current schema.
pub async fn open(url: &str) -> std::result::Result<Arc<dyn Store>, sqlx::Error> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::connect(url).await?))
    } else {
        Err(sqlx::Error::Configuration(
            format!("unsupported database URL '{url}': use sqlite://PATH or postgres://…").into(),
        ))
    }
}
