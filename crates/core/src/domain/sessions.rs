//! Sessions of provisioned users in the host application: begun for a user
//! of the directory, checked, and ended at sign-out or with the user (a
//! deprovisioned user's sessions die in the same transaction).

use super::Service;
use crate::error::Result;
use crate::ids::UserId;
use crate::model::Session;

impl Service {
    /// A session for `user`, lasting `ttl_secs`, and its bearer token
    /// (shown once, stored as a hash). A user who is not provisioned is
    /// not found.
    pub async fn start_session(&self, user: &UserId, ttl_secs: i64) -> Result<(Session, String)> {
        self.store.create_session(user, ttl_secs).await
    }

    /// The live session a token belongs to, if any.
    pub async fn session_of(&self, token: &str) -> Result<Option<Session>> {
        self.store.introspect_session(token).await
    }

    /// Ends the session a token belongs to; `false` when there was none.
    pub async fn end_session(&self, token: &str) -> Result<bool> {
        self.store.revoke_session(token).await
    }
}
