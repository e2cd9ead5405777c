//! Who made a change: the SCIM request (its id and method) and the API key
//! it came with. The SCIM layer runs each request within its origin
//! ([`within`]); the store picks it up when it records the change's events
//! (a task-local, carried into the write transaction with the body), so
//! no domain or storage signature has to thread it through.

use std::future::Future;

use crate::ids::ApiKeyId;

/// The request behind a change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The request's `X-Request-Id`.
    pub request_id: String,
    /// Its HTTP method: how a deprovisioning happened (DELETE, PUT, PATCH).
    pub method: String,
    /// The API key it came with.
    pub api_key: Option<ApiKeyId>,
}

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Runs `work` with `origin` as the origin of the changes it makes.
pub async fn within<F: Future>(origin: Origin, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

/// The origin of the changes being made now, if any (none for the CLI and
/// the admin API).
pub fn current() -> Option<Origin> {
    ORIGIN.try_with(Clone::clone).ok()
}

/// `work` made to run within `origin` wherever it is polled (a write
/// transaction's body runs on the store's own thread).
pub(crate) fn carried<'a, T: 'a>(
    origin: Option<Origin>,
    work: futures_util::future::BoxFuture<'a, T>,
) -> futures_util::future::BoxFuture<'a, T> {
    match origin {
        Some(origin) => Box::pin(ORIGIN.scope(origin, work)),
        None => work,
    }
}
