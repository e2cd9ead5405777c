//! Product rules that do not depend on storage.

use rand::RngCore;
use scimitar_proto::ScimError;
use scimitar_proto::resource::Phone;
use sha2::{Digest, Sha256};

/// The phone number after a client's change: set at creation (or while
/// none is stored), immutable afterwards. Leaving it out keeps it; sending
/// the same number is fine; a different one is refused.
pub fn phone_after_change(
    stored: Option<Phone>,
    requested: Option<Phone>,
) -> Result<Option<Phone>, ScimError> {
    match (stored, requested) {
        (stored, None) => Ok(stored),
        (None, requested) => Ok(requested),
        (Some(stored), Some(requested)) if stored.value == requested.value => Ok(Some(stored)),
        (Some(stored), Some(requested)) => Err(ScimError::mutability(format!(
            "phoneNumbers is immutable: this user's number is {} and cannot be changed to {}",
            stored.value, requested.value
        ))),
    }
}

/// A fresh secret: `prefix` and 256 random bits in hex.
pub fn generate_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// What is stored of a secret: its SHA-256, in hex. Secrets carry 256 bits
/// of entropy, so a fast hash is enough and keeps each request cheap.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(v: &str) -> Option<Phone> {
        Some(Phone {
            value: v.to_owned(),
            kind: Some("work".to_owned()),
        })
    }

    #[test]
    fn phone_is_immutable_once_set() {
        assert_eq!(
            phone_after_change(None, phone("+46701234567")).unwrap(),
            phone("+46701234567")
        );
        assert_eq!(
            phone_after_change(phone("+46701234567"), None).unwrap(),
            phone("+46701234567")
        );
        assert_eq!(
            phone_after_change(phone("+46701234567"), phone("+46701234567")).unwrap(),
            phone("+46701234567")
        );
        let err = phone_after_change(phone("+46701234567"), phone("+46700000000")).unwrap_err();
        assert_eq!(err.scim_type, Some(scimitar_proto::ScimType::Mutability));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = generate_secret("scim_");
        assert!(a.starts_with("scim_") && a.len() == 5 + 64);
        assert_ne!(a, generate_secret("scim_"));
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), a);
    }
}
