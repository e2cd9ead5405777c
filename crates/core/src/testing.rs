//! Throw-away databases for tests (feature `testing`): a real SQLite file in
//! a temporary folder, and a fresh database on the PostgreSQL server at
//! `SCIMITAR_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`).

use std::sync::Arc;

use crate::Store;
use sqlx::Connection;

/// The backends every suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server at `SCIMITAR_TEST_POSTGRES`.
    Postgres,
}

/// A store on a throw-away database; [`Backend::finish`] removes it.
pub struct Backend {
    /// The store, opened on the database.
    pub store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg_db: Option<String>,
}

impl Backend {
    /// The URL the store was opened with (for starting servers on it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which kind of database it is.
    pub fn kind(&self) -> Kind {
        if self.pg_db.is_some() {
            Kind::Postgres
        } else {
            Kind::Sqlite
        }
    }

    /// A backend of `kind`; `None` only for a PostgreSQL that is not there
    /// ([`Backend::postgres`]).
    pub async fn of(kind: Kind) -> Option<Backend> {
        match kind {
            Kind::Sqlite => Some(Self::sqlite().await),
            Kind::Postgres => Self::postgres().await,
        }
    }

    /// On a real SQLite file in a temporary folder.
    pub async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = crate::open(&url).await.expect("open sqlite");
        Backend {
            store,
            url,
            _dir: Some(dir),
            pg_db: None,
        }
    }

    /// `None` when no PostgreSQL answers, unless `CI` is set: there the
    /// PostgreSQL suite must run, and a missing server fails the test.
    /// A skip says so on the terminal itself, past the test harness's
    /// capture, so a "passing" test that ran nothing is seen.
    pub async fn postgres() -> Option<Backend> {
        let name = create_database().await?;
        let url = database_url(&admin_url(), &name);
        let store = crate::open(&url).await.expect("open postgres");
        Some(Backend {
            store,
            url,
            _dir: None,
            pg_db: Some(name),
        })
    }

    /// A backend whose database was first migrated to `version` only and
    /// given `rows` (statements, run as they are) there, then opened: the
    /// later migrations ran over those rows, as on an upgrade.
    pub async fn upgraded_from(kind: Kind, version: i64, rows: &str) -> Option<Backend> {
        let (url, dir, pg_db) = match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                (url, Some(dir), None)
            }
            Kind::Postgres => {
                let name = create_database().await?;
                (database_url(&admin_url(), &name), None, Some(name))
            }
        };
        let up_to = |all: &sqlx::migrate::Migrator| sqlx::migrate::Migrator {
            migrations: all
                .migrations
                .iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect(),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        let rows = sqlx::AssertSqlSafe(rows.to_owned());
        match kind {
            Kind::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
                up_to(&crate::sqlite::MIGRATOR)
                    .run(&mut conn)
                    .await
                    .expect("migrate");
                sqlx::raw_sql(rows).execute(&mut conn).await.expect("rows");
            }
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("postgres");
                up_to(&crate::postgres::MIGRATOR)
                    .run(&mut conn)
                    .await
                    .expect("migrate");
                sqlx::raw_sql(rows).execute(&mut conn).await.expect("rows");
            }
        }
        let url = url.trim_end_matches("?mode=rwc").to_owned();
        let store = crate::open(&url).await.expect("open after the upgrade");
        Some(Backend {
            store,
            url,
            _dir: dir,
            pg_db,
        })
    }

    /// Drops a PostgreSQL test database.
    pub async fn finish(mut self) {
        if let Some(name) = self.pg_db.take() {
            drop_database(name).await;
        }
    }
}

/// Writes a SKIPPED line straight to the process's stderr: the test
/// harness captures `eprintln!` of passing tests, not this.
fn skipped(why: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// Runs a storage test on `backend`, then removes its database.
pub async fn on_store(backend: Backend, test: impl AsyncFnOnce(&dyn Store)) {
    test(&*backend.store).await;
    backend.finish().await;
}

/// Hands `backend` to a test that manages it itself.
pub async fn with_backend(backend: Backend, test: impl AsyncFnOnce(Backend)) {
    test(backend).await;
}

/// Runs each test function named once on SQLite and once on PostgreSQL,
/// as `sqlite::NAME` and `postgres::NAME`: `on_every_backend!(RUN; NAME,
/// …)` calls `RUN(backend, NAME)` with a fresh [`Backend`] (see
/// [`on_store`] and [`with_backend`]; a suite that needs its own setup
/// writes a runner of the same shape). Without a PostgreSQL server the
/// `postgres::` tests say SKIPPED, and fail in CI.
#[macro_export]
macro_rules! on_every_backend {
    ($run:path; $($name:ident),* $(,)?) => {
        $crate::on_every_backend!(@one sqlite Sqlite, $run; $($name),*);
        $crate::on_every_backend!(@one postgres Postgres, $run; $($name),*);
    };
    (@one $module:ident $kind:ident, $run:path; $($name:ident),*) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let kind = $crate::testing::Kind::$kind;
                    if let Some(backend) = $crate::testing::Backend::of(kind).await {
                        $run(backend, super::$name).await;
                    }
                }
            )*
        }
    };
}

/// A test that panicked before [`Backend::finish`] still removes its
/// database, from a thread of its own (`Drop` cannot await).
impl Drop for Backend {
    fn drop(&mut self) {
        let Some(name) = self.pg_db.take() else {
            return;
        };
        let dropper = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(name));
            }
        });
        let _ = dropper.join();
    }
}

/// A fresh database on the PostgreSQL server, by name; `None` when no
/// server answers, unless `CI` is set (see [`Backend::postgres`]).
async fn create_database() -> Option<String> {
    let admin = admin_url();
    let mut conn = match sqlx::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            skipped(&format!("PostgreSQL tests need a server at {admin}: {e}"));
            return None;
        }
        Err(e) => panic!("PostgreSQL is required in CI but {admin} refused: {e}"),
    };
    let name = format!("scimitar_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    Some(name)
}

async fn drop_database(name: String) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await;
    }
}

fn admin_url() -> String {
    std::env::var("SCIMITAR_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn database_url(admin: &str, name: &str) -> String {
    match admin.rfind('/') {
        Some(i) if admin[..i].contains("://") && i > admin.find("://").unwrap_or(0) + 2 => {
            format!("{}/{name}", &admin[..i])
        }
        _ => format!("{admin}/{name}"),
    }
}
