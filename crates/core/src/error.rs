//! The domain layer's error. The HTTP edge maps it to a SCIM error once.

use scimitar_proto::ScimError;

/// Why a domain or storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The resource does not exist in this tenant (another tenant's resource
    /// is indistinguishable from a missing one).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A rule of the product refused the change; the error is already in the
    /// form the client sees.
    #[error("{0}")]
    Rejected(ScimError),
    /// The resource's version is not the one the client said it had.
    #[error("the resource was modified: its version no longer matches")]
    VersionMismatch,
    /// Other writers kept changing the resource while this change was
    /// retried; worth retrying later.
    #[error("the resource is being changed by other requests at the same time")]
    Contended,
    /// The database cannot be reached or is overloaded; worth retrying.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else; logged with its cause, never shown to clients.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CoreError {
    /// A refusal by a rule of the product, with the SCIM error the client sees.
    pub fn rejected(err: ScimError) -> Self {
        CoreError::Rejected(err)
    }
}

/// A result whose error is, unless named, a [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
