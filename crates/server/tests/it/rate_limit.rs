//! The per-tenant rate limit: 429 with Retry-After as a SCIM error, for the
//! tenant that exceeded it only. The limiter's clock is a manual one, so
//! what is refused and when does not depend on how fast the test runs.

use crate::common::*;

fn config() -> ServerConfig {
    ServerConfig {
        rate_limit_per_second: 1,
        rate_limit_burst: 3,
        clock: scimitar_server::Clock::manual(),
        ..test_config()
    }
}

async fn too_many_requests_get_429_with_retry_after(app: &TestApp) {
    for _ in 0..3 {
        assert_eq!(app.get(&app.scim("/Users")).await.status, 200);
    }
    let res = app.get(&app.scim("/Users")).await;
    res.assert_error(429, None);
    assert_eq!(res.header("retry-after"), Some("1"));
    // A second later there is one token again, and only one.
    app.config.clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(app.get(&app.scim("/Users")).await.status, 200);
    app.get(&app.scim("/Users")).await.assert_error(429, None);

    // Another tenant has its own budget; discovery and health are not limited.
    let (_, other_key) = app.other_tenant().await;
    let res = app
        .request_as(&other_key, "GET", &app.scim("/Users"), None)
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        app.get(&app.scim("/ServiceProviderConfig")).await.status,
        200
    );
    assert_eq!(app.get("/healthz").await.status, 200);

    // The refusal is in the tenant's provisioning log.
    let log = app.log_entries(5).await;
    assert!(log.iter().any(|e| e.status == 429), "{log:?}");
}

async fn an_invalid_key_does_not_use_up_the_tenants_budget(app: &TestApp) {
    for _ in 0..10 {
        let res = app
            .request_as("scim_wrong", "GET", &app.scim("/Users"), None)
            .await;
        assert_eq!(res.status, 401);
    }
    assert_eq!(app.get(&app.scim("/Users")).await.status, 200);
}

backends!(
    config = config();
    too_many_requests_get_429_with_retry_after,
    an_invalid_key_does_not_use_up_the_tenants_budget,
);

/// `0` turns the limit off.
mod unlimited {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig {
            rate_limit_per_second: 0,
            rate_limit_burst: 0,
            ..test_config()
        }
    }

    async fn zero_rate_means_no_limit(app: &TestApp) {
        for _ in 0..50 {
            assert_eq!(app.get(&app.scim("/Users?count=0")).await.status, 200);
        }
    }

    backends!(config = config(); zero_rate_means_no_limit);
}
