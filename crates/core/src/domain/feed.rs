//! The event feed the host application follows: the outbox read after a
//! cursor, in sequence order, optionally waiting for the next commit.
//!
//! A cursor never passes an event that is not yet committed: every
//! transaction that records an event holds the outbox's lock from its
//! first event to its commit (`record` in the store), so sequence numbers
//! become visible in order, and a page ends at the last event it shows.
//! A cursor older than what retention kept is refused ([`Feed::Gone`]),
//! never answered with a page that silently skips the deleted events.

use std::time::Duration;

use scimitar_proto::ScimError;

use super::Service;
use crate::error::{CoreError, Result};
use crate::ids::TenantId;
use crate::model::Event;

/// The longest a follower may ask to wait for the next event.
pub const MAX_FEED_WAIT: Duration = Duration::from_secs(30);

/// How often a waiting follower looks again. Commits of this process wake
/// it at once, and on PostgreSQL so do other processes' (`LISTEN/NOTIFY`);
/// this is for other processes on one SQLite file, and for notifications
/// lost while the listener reconnects.
const POLL: Duration = Duration::from_millis(250);

/// Most events on one page of the feed.
pub const MAX_FEED_PAGE: u32 = 1000;

/// Every event type the outbox holds.
pub const EVENT_TYPES: [&str; 16] = [
    "tenant.created",
    "tenant.policy_changed",
    "subaccount.created",
    "subaccount.updated",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.members_added",
    "group.members_removed",
    "user.created",
    "user.updated",
    "user.deprovisioned",
    "user.reactivated",
    "sessions.revoked",
    "apikey.issued",
    "apikey.revoked",
];

/// What a follower asks for.
#[derive(Debug, Clone, Default)]
pub struct FeedQuery {
    /// The cursor of the previous page; from the oldest event kept when
    /// `None`.
    pub after: Option<i64>,
    /// At most this many events (1 to [`MAX_FEED_PAGE`]).
    pub limit: u32,
    /// Only these types (all when empty).
    pub types: Vec<String>,
    /// Only this tenant's events.
    pub tenant: Option<TenantId>,
    /// With no event to answer yet, how long to wait for one (at most
    /// [`MAX_FEED_WAIT`]).
    pub wait: Duration,
}

/// A page of the feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// The events after the cursor.
    Page {
        /// In sequence order.
        events: Vec<Event>,
        /// The cursor to ask with next (the same one when there were none).
        next: i64,
    },
    /// Events after the cursor were deleted by retention.
    Gone {
        /// The highest sequence number deleted.
        horizon: i64,
    },
}

impl Service {
    /// One page of the feed, waiting up to `query.wait` for an event when
    /// there is none yet.
    pub async fn feed(&self, query: &FeedQuery) -> Result<Feed> {
        if let Some(unknown) = query
            .types
            .iter()
            .find(|t| !EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(CoreError::Rejected(ScimError::invalid_value(format!(
                "'{unknown}' is not an event type; the types are {}",
                EVENT_TYPES.join(", ")
            ))));
        }
        if let Some(tenant) = &query.tenant {
            self.store.get_tenant(tenant).await?;
        }
        let horizon = self.store.events_horizon().await?;
        let after = match query.after {
            Some(after) if after < horizon => return Ok(Feed::Gone { horizon }),
            Some(after) => after,
            None => horizon,
        };
        let limit = query.limit.clamp(1, MAX_FEED_PAGE);
        let deadline = tokio::time::Instant::now() + query.wait.min(MAX_FEED_WAIT);
        let commits = self.store.commits();
        loop {
            // Listening before reading: a commit between the read and the
            // wait still wakes it.
            let committed = commits.notified();
            tokio::pin!(committed);
            committed.as_mut().enable();
            let events = self
                .store
                .events(query.tenant.as_ref(), &query.types, after, limit)
                .await?;
            let now = tokio::time::Instant::now();
            if !events.is_empty() || now >= deadline {
                let next = events.last().map_or(after, |e| e.seq);
                return Ok(Feed::Page { events, next });
            }
            let pause = POLL.min(deadline - now);
            tokio::select! {
                () = committed => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}
