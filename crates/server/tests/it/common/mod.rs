//! The in-process harness of the HTTP suites: a real router on a real
//! throw-away database (SQLite file or PostgreSQL), driven with
//! `tower::ServiceExt::oneshot`, no sockets.
//!
//! Every test body is an `async fn name(app: &TestApp)`; [`backends!`] runs
//! it once per backend, so a behaviour that differs between SQLite and
//! PostgreSQL fails here.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{self, HeaderMap, HeaderValue, Request, header};
use http_body_util::BodyExt;
use scimitar_core::Store;
use scimitar_core::ids::TenantId;
use scimitar_core::model::{Event, LogEntry, NewGroup};
use scimitar_core::testing::Backend;
use scimitar_server::journal::{LogTask, LogWriter};
use scimitar_server::{AppState, Config, router};
use serde_json::{Value, json};
use tower::ServiceExt;

pub use scimitar_server::Config as ServerConfig;

/// The admin API token of the default test configuration.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";
/// The application API token of the default test configuration.
pub const APP_TOKEN: &str = "app-token-for-tests-0123456789abcdefgh";
/// The `/metrics` token of the default test configuration.
pub const METRICS_TOKEN: &str = "metrics-token-for-tests-0123456789abcd";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A JSON fixture from `crates/server/tests/data/`, e.g.
/// `fixture("users/entra_create_user.json")`.
pub fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A PatchOp body of these operations.
pub fn patch_op(operations: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
}

/// A running application on its own database, with one tenant and its key.
pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub tenant: TenantId,
    /// The tenant's API key (the bearer secret).
    pub key: String,
    pub config: Config,
    backend: Backend,
    log_task: LogTask,
}

/// What came back.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as JSON; `Null` when empty or not JSON (see `text`).
    pub body: Value,
    pub text: String,
}

/// The configuration tests run with unless they say otherwise: defaults,
/// plus the admin, application and metrics tokens, so every API is on.
pub fn test_config() -> Config {
    let secret =
        |t: &str| Some(scimitar_server::Secret::new(t, "test token").expect("long enough"));
    Config {
        admin_token: secret(ADMIN_TOKEN),
        app_token: secret(APP_TOKEN),
        metrics_token: secret(METRICS_TOKEN),
        ..Config::default()
    }
}

impl TestApp {
    pub async fn with_config(backend: Backend, config: Config) -> TestApp {
        let store = backend.store.clone();
        Self::with_store(backend, store, config).await
    }

    /// On `backend`, through `store` (a wrapper of `backend.store`, e.g. one
    /// that counts calls).
    pub async fn with_store(backend: Backend, store: Arc<dyn Store>, config: Config) -> TestApp {
        let tenant = store
            .create_tenant("Acme", Some("eu"))
            .await
            .expect("create tenant")
            .id;
        let (_, key) = store
            .create_api_key(&tenant, Some("test"))
            .await
            .expect("create key");
        let (log, log_task) = LogWriter::start(store.clone());
        let router = router(AppState::new(store.clone(), config.clone(), log));
        TestApp {
            router,
            store,
            tenant,
            key,
            config,
            backend,
            log_task,
        }
    }

    /// The SCIM URL of `rest` (which starts with `/`), under this app's base path.
    pub fn scim(&self, rest: &str) -> String {
        let base = self.config.scim_base_path.trim_end_matches('/');
        format!("{base}{rest}")
    }

    /// A SCIM request with the tenant's key and `application/scim+json`.
    /// `path` is relative to the host, e.g. `/scim/v2/Users?filter=…`.
    pub async fn request(&self, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        self.request_with(method, path, body, &[]).await
    }

    /// As [`TestApp::request`], with extra headers (which replace the
    /// defaults of the same name).
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> TestResponse {
        let auth = format!("Bearer {}", self.key);
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "scim.test")
            .header(header::AUTHORIZATION, auth);
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/scim+json");
        }
        let mut req = builder
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        for (name, value) in extra {
            let name = http::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            req.headers_mut()
                .insert(name, HeaderValue::from_str(value).expect("header value"));
        }
        self.send(req).await
    }

    /// Sends a request exactly as built: nothing is added.
    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("read body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request("GET", path, None).await
    }

    /// Creates a user through SCIM (`POST /Users`) and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        self.create_user_as(&self.key, user_name).await
    }

    /// The same with the API key `key` (another tenant's).
    pub async fn create_user_as(&self, key: &str, user_name: &str) -> String {
        let res = self
            .request_as(
                key,
                "POST",
                &self.scim("/Users"),
                Some(json!({
                    "schemas": [USER_SCHEMA],
                    "userName": user_name,
                    "displayName": format!("User {user_name}"),
                    "active": true,
                })),
            )
            .await;
        assert_eq!(res.status, 201, "creating {user_name}: {}", res.text);
        res.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group as an administrator does (through the store: SCIM
    /// refuses it), and returns its id.
    pub async fn create_group(&self, name: &str, external_id: Option<&str>) -> String {
        self.create_group_in(&self.tenant, name, external_id).await
    }

    pub async fn create_group_in(
        &self,
        tenant: &TenantId,
        name: &str,
        external_id: Option<&str>,
    ) -> String {
        let group = self
            .store
            .create_group(
                tenant,
                NewGroup {
                    display_name: name.to_owned(),
                    subaccount_id: None,
                    external_id: external_id.map(str::to_owned),
                    members: Vec::new(),
                },
            )
            .await
            .expect("create group");
        group.id.to_string()
    }

    /// A second tenant on the same deployment, with its key.
    pub async fn other_tenant(&self) -> (TenantId, String) {
        let tenant = self
            .store
            .create_tenant("Globex", Some("us"))
            .await
            .expect("create tenant")
            .id;
        let (_, key) = self
            .store
            .create_api_key(&tenant, None)
            .await
            .expect("create key");
        (tenant, key)
    }

    /// The same request as [`TestApp::request`], with another bearer key.
    pub async fn request_as(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> TestResponse {
        let auth = format!("Bearer {key}");
        self.request_with(method, path, body, &[("authorization", &auth)])
            .await
    }

    /// The tenant's provisioning log, newest first, once at least `at_least`
    /// entries have been written (the log is written in batches off the
    /// request path, so this waits for it, up to ten seconds).
    pub async fn log_entries(&self, at_least: usize) -> Vec<LogEntry> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let entries = self
                .store
                .provisioning_log(&self.tenant, 10_000)
                .await
                .expect("read provisioning log");
            if entries.len() >= at_least || tokio::time::Instant::now() >= deadline {
                return entries;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Flushes the provisioning log, then drops a PostgreSQL database.
    pub async fn finish(self) {
        let TestApp {
            router,
            store,
            log_task,
            backend,
            ..
        } = self;
        // The router holds the last log sender; the task ends when it goes.
        drop(router);
        log_task.finish().await;
        drop(store);
        backend.finish().await;
    }
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `scimType` of a SCIM error body.
    pub fn scim_type(&self) -> Option<&str> {
        self.body["scimType"].as_str()
    }

    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    /// Asserts a SCIM error object (RFC 7644 §3.12) with this status and
    /// `scimType`, with a detail and the SCIM media type.
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "status; body: {}", self.text);
        assert_eq!(
            self.body["schemas"],
            json!([ERROR_SCHEMA]),
            "a SCIM error body: {}",
            self.text
        );
        assert_eq!(
            self.body["status"].as_str(),
            Some(status.to_string().as_str()),
            "status in body: {}",
            self.text
        );
        assert_eq!(self.scim_type(), scim_type, "scimType: {}", self.text);
        assert!(!self.detail().is_empty(), "a detail: {}", self.text);
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json")),
            "content type: {:?}",
            self.header("content-type")
        );
    }

    /// The ids of a ListResponse's resources, in order.
    pub fn ids(&self) -> Vec<String> {
        self.body["Resources"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The tenant's events of `kind`, oldest first.
pub async fn events_of(app: &TestApp, kind: &str) -> Vec<Event> {
    app.store
        .events(Some(&app.tenant), &[], 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

/// A request to the admin API with the admin token.
pub async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> TestResponse {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    app.request_with(method, path, body, &[("authorization", &auth)])
        .await
}

/// Runs a test on an application on `backend` with `config`, then cleans
/// up; the runner behind [`backends!`].
pub async fn on_app(backend: Backend, config: Config, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::with_config(backend, config).await;
    test(&app).await;
    app.finish().await;
}

/// Runs each `async fn name(app: &TestApp)` once on SQLite and once on
/// PostgreSQL, as `sqlite::name` and `postgres::name`
/// (`scimitar_core::on_every_backend!`). With a leading `config = EXPR;`
/// the apps use that configuration, written in the caller's module.
macro_rules! backends {
    (config = $config:expr; $($name:ident),* $(,)?) => {
        async fn on_app(
            backend: scimitar_core::testing::Backend,
            test: impl AsyncFnOnce(&$crate::common::TestApp),
        ) {
            $crate::common::on_app(backend, $config, test).await;
        }
        scimitar_core::on_every_backend!(on_app; $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        backends!(config = $crate::common::test_config(); $($name),*);
    };
}
