//! `scimitar`: serve SCIM, and administer tenants, subaccounts, groups and
//! API keys. Every administrative command works on the database directly,
//! whether or not a server is running, through the same domain operations
//! as the admin API, and prints the admin API's JSON for its answer: one
//! JSON value on one line of stdout.

mod admin;
mod server;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use scimitar_core::Store;
use scimitar_core::domain::{OutboundPolicy, Service};
use serde_json::Value;

use admin::{ApiKeyAction, GroupAction, SubaccountAction, TenantAction, UserAction, WebhookAction};
use server::Serve;

#[derive(Parser)]
#[command(name = "scimitar", version, about = "A SCIM 2.0 provisioning server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Database {
    /// `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long = "database",
        env = "SCIMITAR_DATABASE_URL",
        default_value = "sqlite://scimitar.db",
        global = true
    )]
    url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<Serve>),
    /// Create or upgrade the database schema, then exit.
    Migrate {
        #[command(flatten)]
        db: Database,
    },
    /// Tenants: the customer accounts.
    Tenant {
        #[command(subcommand)]
        action: TenantAction,
        #[command(flatten)]
        db: Database,
    },
    /// Subaccounts: the tree inside a tenant.
    Subaccount {
        #[command(subcommand)]
        action: SubaccountAction,
        #[command(flatten)]
        db: Database,
    },
    /// Groups, which identity providers match by externalId.
    Group {
        #[command(subcommand)]
        action: GroupAction,
        #[command(flatten)]
        db: Database,
    },
    /// API keys: a tenant's SCIM credentials.
    Apikey {
        #[command(subcommand)]
        action: ApiKeyAction,
        #[command(flatten)]
        db: Database,
    },
    /// Users, as SCIM provisioned them (read only).
    User {
        #[command(subcommand)]
        action: UserAction,
        #[command(flatten)]
        db: Database,
    },
    /// A single-use link that signs a customer's administrator in to their
    /// tenant's admin panel.
    PortalLink {
        #[arg(long)]
        tenant: String,
        /// Where the server is reached (the link's origin); without it,
        /// `http://` and the --listen address.
        #[arg(long, env = "SCIMITAR_PUBLIC_URL")]
        public_url: Option<String>,
        #[arg(long, env = "SCIMITAR_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds the link may wait to be opened.
        #[arg(long, env = "SCIMITAR_PORTAL_LINK_TTL_SECS", default_value_t = 300)]
        ttl_secs: u64,
        #[command(flatten)]
        db: Database,
    },
    /// Webhook endpoints: where events are delivered, signed.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
        /// Hosts (HOST or HOST:PORT, comma-separated) that may be sent plain
        /// HTTP and may be private or loopback addresses, as `serve` has it.
        #[arg(long, env = "SCIMITAR_WEBHOOK_ALLOW_HTTP", default_value = "")]
        webhook_allow_http: String,
        #[command(flatten)]
        db: Database,
    },
    /// The provisioning log of a tenant, newest first.
    Log {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        db: Database,
    },
    /// The event outbox, in order.
    Events {
        #[arg(long)]
        tenant: Option<String>,
        /// Only events after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        db: Database,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn open(db: &Database) -> Result<Arc<dyn Store>, String> {
    scimitar_core::open(&db.url)
        .await
        .map_err(|e| format!("cannot open database {}: {e}", redact(&db.url)))
}

/// A database URL without its password (in the user part or a
/// `password=` parameter), for messages.
fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &base[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..scheme + 3], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn print(answer: Value) {
    println!("{answer}");
}

async fn run(command: Command) -> Result<(), String> {
    let (db, answer) = match command {
        Command::Serve(serve) => return server::run(*serve).await,
        Command::Migrate { db } => {
            open(&db).await?;
            eprintln!("database {} is up to date", redact(&db.url));
            return Ok(());
        }
        Command::Tenant { action, db } => {
            let service = service(&db).await?;
            (db, admin::tenant(&service, action).await)
        }
        Command::Subaccount { action, db } => {
            let service = service(&db).await?;
            (db, admin::subaccount(&service, action).await)
        }
        Command::Group { action, db } => {
            let service = service(&db).await?;
            (db, admin::group(&service, action).await)
        }
        Command::Apikey { action, db } => {
            let service = service(&db).await?;
            (db, admin::api_key(&service, action).await)
        }
        Command::User { action, db } => {
            let service = service(&db).await?;
            (db, admin::user(&service, action).await)
        }
        Command::PortalLink {
            tenant,
            public_url,
            listen,
            ttl_secs,
            db,
        } => {
            let service = service(&db).await?;
            let origin = public_url.unwrap_or_else(|| format!("http://{listen}"));
            let ttl = std::time::Duration::from_secs(ttl_secs.clamp(1, 24 * 3600));
            (
                db,
                admin::portal_link(&service, &tenant, &origin, ttl).await,
            )
        }
        Command::Webhook {
            action,
            webhook_allow_http,
            db,
        } => {
            let outbound = OutboundPolicy::allowing(&webhook_allow_http)
                .map_err(|e| format!("--webhook-allow-http: {e}"))?;
            let service = service(&db).await?.with_outbound(outbound);
            (db, admin::webhook(&service, action).await)
        }
        Command::Log { tenant, limit, db } => {
            let service = service(&db).await?;
            (db, admin::log(&service, &tenant, limit).await)
        }
        Command::Events {
            tenant,
            after,
            limit,
            db,
        } => {
            let service = service(&db).await?;
            (
                db,
                admin::events(&service, tenant.as_deref(), after, limit).await,
            )
        }
    };
    drop(db);
    print(answer?);
    Ok(())
}

async fn service(db: &Database) -> Result<Service, String> {
    Ok(Service::new(open(db).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (hardening): a `?password=` parameter reached errors and
    /// logs.
    #[test]
    fn database_urls_are_redacted_in_both_places_a_password_can_be() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/scim"),
            "postgres://app:***@db:5432/scim"
        );
        assert_eq!(
            redact("postgres://app@db/scim?sslmode=require&password=s3cret"),
            "postgres://app@db/scim?sslmode=require&password=***"
        );
        assert_eq!(redact("sqlite://scimitar.db"), "sqlite://scimitar.db");
    }
}
