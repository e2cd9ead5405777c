//! Typed identifiers, so a user id can never be passed where a group id is
//! expected. All are UUIDs rendered as text; a client-supplied id that is not
//! one simply finds nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh random (v4) id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

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
