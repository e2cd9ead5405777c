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

/// At most this many confirmed domains per tenant: a company's domains,
/// not a list to hold the internet.
pub const MAX_TENANT_DOMAINS: usize = 100;

/// The domain of a userName, lower-cased: what follows its last `@`;
/// `None` when it has none (an employee number, where userNames may be
/// anything).
pub fn user_name_domain(user_name: &str) -> Option<String> {
    let (_, domain) = user_name.rsplit_once('@')?;
    (!domain.is_empty()).then(|| domain.to_lowercase())
}

/// A domain as an operator typed it, in the form it is stored and
/// compared: trimmed, without a trailing dot, lower-cased.
pub fn normalise_domain(typed: &str) -> String {
    typed.trim().trim_end_matches('.').to_lowercase()
}

/// A tenant's confirmed domains as an operator typed them (any letter
/// case, a trailing dot, duplicates): lower-cased, checked to be domain
/// names with at least one dot, sorted and each once. An empty list means
/// any domain.
pub fn tenant_domains(raw: &[String]) -> Result<Vec<String>, ScimError> {
    let mut domains = Vec::with_capacity(raw.len());
    for one in raw {
        let domain = normalise_domain(one);
        if let Some(why) = domain_problem(&domain) {
            return Err(ScimError::invalid_value(format!(
                "userNameDomains: {} is not a domain name ({why})",
                scimitar_proto::dialect::quote(one)
            )));
        }
        domains.push(domain);
    }
    domains.sort();
    domains.dedup();
    if domains.len() > MAX_TENANT_DOMAINS {
        return Err(ScimError::invalid_value(format!(
            "userNameDomains: at most {MAX_TENANT_DOMAINS} domains per tenant"
        )));
    }
    Ok(domains)
}

/// Why `domain` (lower-cased) is not a domain name, if it is not one:
/// dotted labels of letters, digits and inner dashes, 1 to 63 characters
/// each, 253 in all.
fn domain_problem(domain: &str) -> Option<&'static str> {
    if domain.is_empty() {
        return Some("empty");
    }
    if domain.len() > 253 {
        return Some("longer than 253 characters");
    }
    if !domain.contains('.') {
        return Some("no dot");
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !domain.split('.').all(label_ok) {
        return Some("labels are letters, digits and inner dashes, 1 to 63 characters");
    }
    None
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

    #[test]
    fn a_user_names_domain_follows_its_last_at() {
        assert_eq!(
            user_name_domain("Ada@Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            user_name_domain("a@b@corp.example").as_deref(),
            Some("corp.example")
        );
        assert_eq!(user_name_domain("E12345"), None);
        assert_eq!(user_name_domain("ada@"), None);
    }

    #[test]
    fn tenant_domains_are_normalised_or_refused() {
        let raw = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            tenant_domains(&raw(&[" B.example. ", "a.example", "b.example"])).unwrap(),
            ["a.example", "b.example"]
        );
        assert!(tenant_domains(&[]).unwrap().is_empty());
        for bad in [
            "",
            "localhost",
            "a..example",
            "-a.example",
            "a_b.example",
            "a@b.example",
        ] {
            let err = tenant_domains(&raw(&[bad])).unwrap_err();
            assert!(
                err.detail.contains("is not a domain name"),
                "{bad}: {}",
                err.detail
            );
        }
        let many: Vec<String> = (0..=MAX_TENANT_DOMAINS)
            .map(|i| format!("d{i}.example"))
            .collect();
        assert!(tenant_domains(&many).is_err());
    }
}
