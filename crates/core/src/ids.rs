//! Typed identifiers, so a user id can never be passed where a group id is
//! expected. All are UUIDs rendered as text, assigned here; an id from
//! outside (a URL, a body, a command line) is parsed once at the edge with
//! `parse`, and one that cannot be ours names nothing: the caller answers
//! "not found" without asking the database (which may not even accept it:
//! PostgreSQL refuses a NUL).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether `raw` has the shape of the ids scimitar assigns (a UUID).
pub fn is_well_formed(raw: &str) -> bool {
    uuid::Uuid::try_parse(raw).is_ok()
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = "uuid"))]
        pub struct $name(String);

        impl $name {
            /// A fresh random (v4) id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// An id from outside; `None` unless it can be one of ours.
            pub fn parse(raw: &str) -> Option<Self> {
                is_well_formed(raw).then(|| Self(raw.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id_type!(
    /// A customer account.
    TenantId
);
id_type!(
    /// A node in a tenant's tree of subaccounts.
    SubaccountId
);
id_type!(
    /// A SCIM group.
    GroupId
);
id_type!(
    /// A SCIM user.
    UserId
);
id_type!(
    /// An API key (the credential's id, never its secret).
    ApiKeyId
);
id_type!(
    /// A signed-in session of a user in the host application.
    SessionId
);
id_type!(
    /// A webhook endpoint the operator registered.
    WebhookEndpointId
);
