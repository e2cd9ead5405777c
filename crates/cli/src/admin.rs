//! The administrative commands. Each parses its arguments (ids once, here),
//! makes one call to the domain's [`Service`] — the call the admin API
//! makes — and returns the admin API's JSON for the answer, which `main`
//! prints as one line.

use clap::Subcommand;
use clap::builder::PossibleValuesParser;
use scimitar_core::CoreError;
use scimitar_core::domain::{Service, event_seq};
use scimitar_core::ids::{ApiKeyId, GroupId, SubaccountId, TenantId, UserId, WebhookEndpointId};
use scimitar_core::model::{
    DeactivatedMemberships, Deprovision, GroupAdminChange, GroupCreation, ListQuery, NewGroup,
    PolicyChange, UserNameFormat,
};
use scimitar_proto::ScimError;
use scimitar_proto::schema::USER;
use serde::Serialize;
use serde_json::Value;

#[derive(Subcommand)]
pub enum TenantAction {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        region: Option<String>,
    },
    List,
    /// Changes a tenant's provisioning policies; the others stay.
    SetPolicy {
        #[arg(long)]
        tenant: String,
        /// Who creates groups: `admin` (POST /Groups is refused, as the
        /// guide says) or `scim` (the identity provider creates them).
        #[arg(long, value_parser = PossibleValuesParser::new(GroupCreation::NAMES))]
        group_creation: Option<String>,
        /// Where groups that SCIM creates are placed: a subaccount's id,
        /// or `root`.
        #[arg(long)]
        group_subaccount: Option<String>,
        /// What `active: false` does: `delete` (the user, its memberships
        /// and its sessions go, as the guide says) or `deactivate` (the
        /// user stays, inactive, and its sessions go).
        #[arg(long, value_parser = PossibleValuesParser::new(Deprovision::NAMES))]
        deprovision: Option<String>,
        /// What becomes of a deactivated user's memberships: `keep` or
        /// `drop`.
        #[arg(long, value_parser = PossibleValuesParser::new(DeactivatedMemberships::NAMES))]
        deactivated_memberships: Option<String>,
        /// What a userName is: `email` (an email address, which is the
        /// user's email, as the guide says) or `any` (any string; emails
        /// are the identity provider's).
        #[arg(long, value_parser = PossibleValuesParser::new(UserNameFormat::NAMES))]
        user_name_format: Option<String>,
        /// The domains confirmed to be the tenant's (`a.com,b.com`): its
        /// userNames must be at one of them, and no other tenant's may be;
        /// `any`: any domain no other tenant confirmed.
        #[arg(long, value_delimiter = ',')]
        user_name_domains: Option<Vec<String>>,
    },
}

#[derive(Subcommand)]
pub enum SubaccountAction {
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        parent: Option<String>,
    },
    Rename {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Move a subaccount under another, or to the tenant root without --parent.
    Move {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        parent: Option<String>,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
pub enum GroupAction {
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        subaccount: Option<String>,
        /// The identity provider's group id (objectId in Entra ID).
        #[arg(long)]
        external_id: Option<String>,
    },
    SetExternalId {
        #[arg(long)]
        id: String,
        #[arg(long)]
        external_id: String,
    },
    Rename {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Move a group to a subaccount, or to the tenant root without --subaccount.
    Move {
        #[arg(long)]
        id: String,
        #[arg(long)]
        subaccount: Option<String>,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyAction {
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        label: Option<String>,
    },
    Revoke {
        #[arg(long)]
        id: String,
    },
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum UserAction {
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        filter: Option<String>,
    },
    /// Users whose userName is at a domain another tenant confirmed, by
    /// domain, tenant and userName.
    Collisions {
        /// Only those at this domain.
        #[arg(long)]
        domain: Option<String>,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Resolves a collision: deletes the user from the tenant it is in,
    /// so the domain's tenant can provision the address.
    ReleaseCollision {
        /// The user's id.
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
pub enum WebhookAction {
    /// Registers an endpoint for the events committed from now on; prints
    /// its signing secret, this once.
    Create {
        /// Where events are POSTed: `https://`, a public address (unless
        /// allowed by `--webhook-allow-http`).
        // Not `url`: that is the id of `--database`'s argument.
        #[arg(long = "url")]
        endpoint_url: String,
        /// Only this tenant's events.
        #[arg(long)]
        tenant: Option<String>,
        /// Only these event types (comma-separated).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
    },
    /// Every endpoint, with where its delivery stands.
    List,
    /// An endpoint and where its delivery stands.
    Show {
        #[arg(long)]
        id: String,
    },
    /// Stops delivery.
    Disable {
        #[arg(long)]
        id: String,
    },
    /// Resumes delivery where it stopped.
    Enable {
        #[arg(long)]
        id: String,
    },
    /// A new secret; the old one signs beside it for a day.
    RotateSecret {
        #[arg(long)]
        id: String,
    },
    /// Delivers again from an event on (evt_…).
    Replay {
        #[arg(long)]
        id: String,
        /// The first event delivered again (evt_…).
        #[arg(long)]
        from: String,
    },
    /// The delivery attempts, newest first, as the admin API pages them:
    /// `{"attempts": [...], "next": N}`; `--before N` reads the next page.
    Attempts {
        #[arg(long)]
        id: String,
        #[arg(long)]
        before: Option<i64>,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Deletes an endpoint and its attempt log.
    Delete {
        #[arg(long)]
        id: String,
    },
}

/// What a command prints: the message of a refusal, as the admin API's
/// `detail` says it.
pub fn fail(e: CoreError) -> String {
    match e {
        CoreError::Rejected(e) => e.detail,
        other => other.to_string(),
    }
}

type Answer = Result<Value, String>;

/// The answer of one call to the domain, as JSON.
fn json<T: Serialize>(answer: scimitar_core::Result<T>) -> Answer {
    serde_json::to_value(answer.map_err(fail)?).map_err(|e| e.to_string())
}

/// An id from the command line: one that cannot be ours names nothing.
fn id<T>(raw: &str, parse: fn(&str) -> Option<T>, what: &'static str) -> Result<T, String> {
    parse(raw).ok_or_else(|| fail(CoreError::NotFound(what)))
}

fn tenant_id(raw: &str) -> Result<TenantId, String> {
    id(raw, TenantId::parse, "tenant")
}

fn optional<T>(
    raw: Option<&str>,
    parse: fn(&str) -> Option<T>,
    what: &'static str,
) -> Result<Option<T>, String> {
    raw.map(|r| id(r, parse, what)).transpose()
}

pub async fn tenant(service: &Service, action: TenantAction) -> Answer {
    match action {
        TenantAction::Create { name, region } => {
            json(service.create_tenant(&name, region.as_deref()).await)
        }
        TenantAction::List => json(service.list_tenants().await),
        TenantAction::SetPolicy {
            tenant,
            group_creation,
            group_subaccount,
            deprovision,
            deactivated_memberships,
            user_name_format,
            user_name_domains,
        } => {
            let group_subaccount_id = match group_subaccount.as_deref() {
                None => None,
                Some("root") => Some(None),
                Some(raw) => Some(Some(id(raw, SubaccountId::parse, "subaccount")?)),
            };
            let change = PolicyChange {
                group_creation: group_creation.as_deref().and_then(GroupCreation::parse),
                group_subaccount_id,
                deprovision: deprovision.as_deref().and_then(Deprovision::parse),
                deactivated_memberships: deactivated_memberships
                    .as_deref()
                    .and_then(DeactivatedMemberships::parse),
                user_name_format: user_name_format.as_deref().and_then(UserNameFormat::parse),
                user_name_domains: user_name_domains.map(|domains| match domains.as_slice() {
                    [any] if any == "any" => Vec::new(),
                    _ => domains,
                }),
            };
            json(service.set_policy(&tenant_id(&tenant)?, change).await)
        }
    }
}

pub async fn subaccount(service: &Service, action: SubaccountAction) -> Answer {
    match action {
        SubaccountAction::Create {
            tenant,
            name,
            parent,
        } => {
            let parent = optional(parent.as_deref(), SubaccountId::parse, "parent subaccount")?;
            let tenant = tenant_id(&tenant)?;
            json(
                service
                    .create_subaccount(&tenant, &name, parent.as_ref())
                    .await,
            )
        }
        SubaccountAction::Rename {
            tenant,
            id: sub,
            name,
        } => {
            let sub = id(&sub, SubaccountId::parse, "subaccount")?;
            json(
                service
                    .change_subaccount(&tenant_id(&tenant)?, &sub, Some(&name), None)
                    .await,
            )
        }
        SubaccountAction::Move {
            tenant,
            id: sub,
            parent,
        } => {
            let sub = id(&sub, SubaccountId::parse, "subaccount")?;
            let parent = optional(parent.as_deref(), SubaccountId::parse, "parent subaccount")?;
            json(
                service
                    .change_subaccount(&tenant_id(&tenant)?, &sub, None, Some(parent))
                    .await,
            )
        }
        SubaccountAction::List { tenant } => {
            json(service.list_subaccounts(&tenant_id(&tenant)?).await)
        }
    }
}

/// A portal link into `tenant`'s admin panel, as the admin API answers
/// it: `origin` is where the server is reached.
pub async fn portal_link(
    service: &Service,
    tenant: &str,
    origin: &str,
    ttl: std::time::Duration,
) -> Answer {
    let link = service
        .create_portal_link(&tenant_id(tenant)?, ttl)
        .await
        .map_err(fail)?;
    Ok(serde_json::json!({
        "url": format!("{}/admin/portal/{}", origin.trim_end_matches('/'), link.token),
        "expiresAt": scimitar_proto::datetime::format(link.expires),
    }))
}

pub async fn group(service: &Service, action: GroupAction) -> Answer {
    let (id_, change) = match action {
        GroupAction::Create {
            tenant,
            name,
            subaccount,
            external_id,
        } => {
            let group = NewGroup {
                display_name: name,
                subaccount_id: optional(subaccount.as_deref(), SubaccountId::parse, "subaccount")?,
                external_id,
                members: Vec::new(),
            };
            let tenant = tenant_id(&tenant)?;
            return json(service.create_group(&tenant, group).await);
        }
        GroupAction::List { tenant } => {
            return json(service.list_groups(&tenant_id(&tenant)?).await);
        }
        GroupAction::SetExternalId { id, external_id } => (
            id,
            GroupAdminChange {
                external_id: Some(Some(external_id)),
                ..Default::default()
            },
        ),
        GroupAction::Rename { id, name } => (
            id,
            GroupAdminChange {
                display_name: Some(name),
                ..Default::default()
            },
        ),
        GroupAction::Move { id, subaccount } => (
            id,
            GroupAdminChange {
                subaccount_id: Some(optional(
                    subaccount.as_deref(),
                    SubaccountId::parse,
                    "subaccount",
                )?),
                ..Default::default()
            },
        ),
    };
    let group = id(&id_, GroupId::parse, "group")?;
    json(service.change_group(None, &group, change).await)
}

pub async fn api_key(service: &Service, action: ApiKeyAction) -> Answer {
    match action {
        ApiKeyAction::Create { tenant, label } => {
            let tenant = tenant_id(&tenant)?;
            json(service.issue_api_key(&tenant, label.as_deref()).await)
        }
        ApiKeyAction::Revoke { id: key } => {
            let key = id(&key, ApiKeyId::parse, "API key")?;
            json(service.revoke_api_key(None, &key).await)
        }
        ApiKeyAction::List { tenant } => {
            let tenant = optional(tenant.as_deref(), TenantId::parse, "tenant")?;
            json(service.list_api_keys(tenant.as_ref()).await)
        }
    }
}

/// Every user of a tenant (or those a SCIM filter matches), as the admin
/// API's user list.
pub async fn user(service: &Service, action: UserAction) -> Answer {
    match action {
        UserAction::List { tenant, filter } => {
            let filter = filter
                .map(|f| scimitar_proto::filter::parse(&USER, &f))
                .transpose()
                .map_err(|e| ScimError::from(e).detail)?;
            let query = ListQuery {
                filter,
                limit: u64::MAX >> 1,
                ..Default::default()
            };
            json(service.list_users(&tenant_id(&tenant)?, &query).await)
        }
        UserAction::Collisions { domain, limit } => {
            json(service.list_collisions(domain.as_deref(), limit).await)
        }
        UserAction::ReleaseCollision { id: user } => {
            let user = id(&user, UserId::parse, "collision")?;
            json(service.release_collision(&user).await)
        }
    }
}

pub async fn log(service: &Service, tenant: &str, limit: u32) -> Answer {
    json(service.provisioning_log(&tenant_id(tenant)?, limit).await)
}

pub async fn events(service: &Service, tenant: Option<&str>, after: i64, limit: u32) -> Answer {
    let tenant = optional(tenant, TenantId::parse, "tenant")?;
    json(service.events(tenant.as_ref(), after, limit).await)
}

pub async fn webhook(service: &Service, action: WebhookAction) -> Answer {
    let endpoint = |raw: &str| id(raw, WebhookEndpointId::parse, "webhook endpoint");
    match action {
        WebhookAction::Create {
            endpoint_url,
            tenant,
            types,
        } => {
            let tenant = optional(tenant.as_deref(), TenantId::parse, "tenant")?;
            json(
                service
                    .create_webhook_endpoint(&endpoint_url, tenant.as_ref(), types)
                    .await,
            )
        }
        WebhookAction::List => json(service.webhook_endpoints().await),
        WebhookAction::Show { id } => json(service.webhook_endpoint(&endpoint(&id)?).await),
        WebhookAction::Disable { id } => json(
            service
                .change_webhook_endpoint(&endpoint(&id)?, None, None, Some(false))
                .await,
        ),
        WebhookAction::Enable { id } => json(
            service
                .change_webhook_endpoint(&endpoint(&id)?, None, None, Some(true))
                .await,
        ),
        WebhookAction::RotateSecret { id } => {
            json(service.rotate_webhook_secret(&endpoint(&id)?).await)
        }
        WebhookAction::Replay { id, from } => {
            let from = event_seq(&from).ok_or("--from must be an event id, such as evt_42")?;
            json(service.replay_webhook_endpoint(&endpoint(&id)?, from).await)
        }
        WebhookAction::Attempts { id, before, limit } => {
            let slice = service
                .webhook_attempts(&endpoint(&id)?, before, limit)
                .await
                .map_err(fail)?;
            let next = slice
                .more
                .then(|| slice.items.last().map(|(at, _)| *at))
                .flatten();
            let attempts: Vec<_> = slice.items.into_iter().map(|(_, a)| a).collect();
            Ok(serde_json::json!({"attempts": attempts, "next": next}))
        }
        WebhookAction::Delete { id } => {
            service
                .delete_webhook_endpoint(&endpoint(&id)?)
                .await
                .map_err(fail)?;
            Ok(serde_json::json!({"deleted": id}))
        }
    }
}
