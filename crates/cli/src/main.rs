//! `scimitar`: serve SCIM, and administer tenants, subaccounts, groups and
//! API keys. Every administrative command works on the database directly,
//! whether or not a server is running; a command that creates something
//! prints exactly one JSON object on stdout.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use scimitar_core::ids::{ApiKeyId, GroupId, SubaccountId, TenantId};
use scimitar_core::model::{GroupAdminChange, NewGroup};
use scimitar_core::{CoreError, Store};
use scimitar_server::journal::LogWriter;
use scimitar_server::{AppState, Config, router};
use serde_json::{Value, json};

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
    Serve(Serve),
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

#[derive(Args)]
struct Serve {
    /// Address to listen on.
    #[arg(long, env = "SCIMITAR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    db: Database,
    /// Where SCIM lives, e.g. /core/v1/scim/v2.
    #[arg(long, env = "SCIMITAR_SCIM_BASE_PATH", default_value = "/scim/v2")]
    scim_base_path: String,
    /// Public origin used in resource locations, e.g. https://scim.example.com.
    #[arg(long, env = "SCIMITAR_PUBLIC_URL")]
    public_url: Option<String>,
    /// Bearer token of the application API (/app/v1); off when unset.
    #[arg(long, env = "SCIMITAR_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "SCIMITAR_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    max_body_bytes: usize,
    /// SCIM requests per second each tenant may make on average (0: no limit).
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_PER_SECOND", default_value_t = 200)]
    rate_limit_per_second: u32,
    /// Requests a tenant may make in one burst before the average applies.
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_BURST", default_value_t = 400)]
    rate_limit_burst: u32,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "SCIMITAR_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
}

#[derive(Subcommand)]
enum TenantAction {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        region: Option<String>,
    },
    List,
}

#[derive(Subcommand)]
enum SubaccountAction {
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        parent: Option<String>,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
enum GroupAction {
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
enum ApiKeyAction {
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
enum UserAction {
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        filter: Option<String>,
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

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn print(value: Value) {
    println!("{value}");
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn fail(e: CoreError) -> String {
    match e {
        CoreError::Rejected(e) => e.detail,
        other => other.to_string(),
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(serve) => return run_server(serve).await,
        Command::Migrate { db } => {
            open(&db).await?;
            eprintln!("database {} is up to date", redact(&db.url));
        }
        Command::Tenant { action, db } => {
            let store = open(&db).await?;
            match action {
                TenantAction::Create { name, region } => {
                    let t = store
                        .create_tenant(&name, region.as_deref())
                        .await
                        .map_err(fail)?;
                    print(to_json(&t));
                }
                TenantAction::List => print(to_json(&store.list_tenants().await.map_err(fail)?)),
            }
        }
        Command::Subaccount { action, db } => {
            let store = open(&db).await?;
            match action {
                SubaccountAction::Create {
                    tenant,
                    name,
                    parent,
                } => {
                    let parent = parent.map(SubaccountId);
                    let s = store
                        .create_subaccount(&TenantId(tenant), &name, parent.as_ref())
                        .await
                        .map_err(fail)?;
                    print(to_json(&s));
                }
                SubaccountAction::List { tenant } => print(to_json(
                    &store
                        .list_subaccounts(&TenantId(tenant))
                        .await
                        .map_err(fail)?,
                )),
            }
        }
        Command::Group { action, db } => {
            let store = open(&db).await?;
            let change = |id: String, change: GroupAdminChange| {
                let store = store.clone();
                async move { store.change_group(&GroupId(id), change).await.map_err(fail) }
            };
            match action {
                GroupAction::Create {
                    tenant,
                    name,
                    subaccount,
                    external_id,
                } => {
                    let g = store
                        .create_group(
                            &TenantId(tenant),
                            NewGroup {
                                display_name: name,
                                subaccount_id: subaccount.map(SubaccountId),
                                external_id,
                            },
                        )
                        .await
                        .map_err(fail)?;
                    print(to_json(&g));
                }
                GroupAction::SetExternalId { id, external_id } => {
                    let g = change(
                        id,
                        GroupAdminChange {
                            external_id: Some(Some(external_id)),
                            ..Default::default()
                        },
                    )
                    .await?;
                    print(to_json(&g));
                }
                GroupAction::Rename { id, name } => {
                    let g = change(
                        id,
                        GroupAdminChange {
                            display_name: Some(name),
                            ..Default::default()
                        },
                    )
                    .await?;
                    print(to_json(&g));
                }
                GroupAction::Move { id, subaccount } => {
                    let g = change(
                        id,
                        GroupAdminChange {
                            subaccount_id: Some(subaccount.map(SubaccountId)),
                            ..Default::default()
                        },
                    )
                    .await?;
                    print(to_json(&g));
                }
                GroupAction::List { tenant } => print(to_json(
                    &store
                        .list_all_groups(&TenantId(tenant))
                        .await
                        .map_err(fail)?,
                )),
            }
        }
        Command::Apikey { action, db } => {
            let store = open(&db).await?;
            match action {
                ApiKeyAction::Create { tenant, label } => {
                    let (key, secret) = store
                        .create_api_key(&TenantId(tenant), label.as_deref())
                        .await
                        .map_err(fail)?;
                    let mut out = to_json(&key);
                    out["key"] = json!(secret);
                    print(out);
                }
                ApiKeyAction::Revoke { id } => print(to_json(
                    &store.revoke_api_key(&ApiKeyId(id)).await.map_err(fail)?,
                )),
                ApiKeyAction::List { tenant } => {
                    let tenant = tenant.map(TenantId);
                    print(to_json(
                        &store.list_api_keys(tenant.as_ref()).await.map_err(fail)?,
                    ))
                }
            }
        }
        Command::User { action, db } => {
            let store = open(&db).await?;
            match action {
                UserAction::List { tenant, filter } => {
                    let filter = filter
                        .map(|f| scimitar_proto::filter::parse(&scimitar_proto::schema::USER, &f))
                        .transpose()
                        .map_err(|e| scimitar_proto::ScimError::from(e).detail)?;
                    let page = store
                        .list_users(
                            &TenantId(tenant),
                            &scimitar_core::model::ListQuery {
                                filter,
                                limit: u64::MAX >> 1,
                                ..Default::default()
                            },
                        )
                        .await
                        .map_err(fail)?;
                    let users: Vec<Value> = page
                        .items
                        .iter()
                        .map(|u| {
                            json!({"id": u.id, "userName": u.attrs.user_name,
                                   "displayName": u.attrs.display_name,
                                   "externalId": u.attrs.external_id})
                        })
                        .collect();
                    print(json!(users));
                }
            }
        }
        Command::Log { tenant, limit, db } => {
            let store = open(&db).await?;
            print(to_json(
                &store
                    .provisioning_log(&TenantId(tenant), limit)
                    .await
                    .map_err(fail)?,
            ));
        }
        Command::Events {
            tenant,
            after,
            limit,
            db,
        } => {
            let store = open(&db).await?;
            let tenant = tenant.map(TenantId);
            print(to_json(
                &store
                    .events(tenant.as_ref(), after, limit)
                    .await
                    .map_err(fail)?,
            ));
        }
    }
    Ok(())
}

async fn run_server(serve: Serve) -> Result<(), String> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let store = open(&serve.db).await?;
    let (log, log_task) = LogWriter::start(store.clone());
    let config = Config {
        scim_base_path: serve.scim_base_path,
        public_url: serve.public_url,
        operator_token: serve.operator_token.filter(|t| !t.is_empty()),
        max_body_bytes: serve.max_body_bytes,
        rate_limit_per_second: serve.rate_limit_per_second,
        rate_limit_burst: serve.rate_limit_burst,
        request_timeout: std::time::Duration::from_secs(serve.request_timeout_secs.max(1)),
        ..Config::default()
    };
    let app = router(AppState::new(store, config, log));
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", serve.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, database = %redact(&serve.db.url), "scimitar is serving");
    // The only line on stdout: where the server listens (useful with port 0).
    println!("listening on {local}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    // The router (and with it every log sender) is gone: flush the log.
    log_task.finish().await;
    tracing::info!("scimitar stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
