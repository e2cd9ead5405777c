//! One administration, two entry points: the CLI prints exactly the admin
//! API's JSON for the same objects, and refuses the same bad input with the
//! same words.

use crate::common::*;
use serde_json::Value;

const ADMIN_TOKEN: &str = "admin-token-for-the-cli-tests-0123456789";

/// GET on the admin API, as JSON.
async fn admin(server: &Server, path: &str) -> Value {
    let http = Scim::new(&server.url("/admin/v1"), ADMIN_TOKEN);
    http.get(path).await.expect(200).body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_admin_apis_json() {
    bounded(180, "CLI and admin API JSON", async {
        let db = TestDb::sqlite();
        let url = db.url();
        let setup = tenant_with_key(url, "Acme").await;
        let t = setup.id.as_str();
        let sub = cli(
            url,
            &["subaccount", "create", "--tenant", t, "--name", "EU"],
        )
        .await;
        let sub_id = str_of(&sub, "id");
        cli(
            url,
            &[
                "group",
                "create",
                "--tenant",
                t,
                "--name",
                "Staff",
                "--subaccount",
                &sub_id,
                "--external-id",
                "ext-1",
            ],
        )
        .await;
        let server = Server::start_with(url, &["--admin-token", ADMIN_TOKEN]).await;
        server
            .scim(&setup.key)
            .post("/Users", &user_body(&unique_user_name("json")))
            .await
            .expect(201);
        // The provisioning log is written just after the answer.
        wait_for_log(url, t, |entries| !entries.is_empty()).await;
        let log_path = format!("/tenants/{t}/log");
        let hook = cli(
            url,
            &[
                "webhook",
                "create",
                "--url",
                "https://hooks.example.com/in",
                "--tenant",
                t,
            ],
        )
        .await;
        let hook_id = str_of(&hook, "id");

        let pairs: [(&[&str], String); 9] = [
            (&["webhook", "list"], "/webhook-endpoints".to_owned()),
            (
                &["webhook", "attempts", "--id", &hook_id],
                format!("/webhook-endpoints/{hook_id}/attempts"),
            ),
            (&["tenant", "list"], "/tenants".to_owned()),
            (
                &["subaccount", "list", "--tenant", t],
                format!("/tenants/{t}/subaccounts"),
            ),
            (
                &["group", "list", "--tenant", t],
                format!("/tenants/{t}/groups"),
            ),
            (
                &["apikey", "list", "--tenant", t],
                format!("/tenants/{t}/apikeys"),
            ),
            (
                &["user", "list", "--tenant", t],
                format!("/tenants/{t}/users"),
            ),
            (&["log", "--tenant", t], log_path.clone()),
            (&["events", "--tenant", t], format!("/events?tenant={t}")),
        ];
        for (args, path) in pairs {
            let printed = cli(url, args).await;
            let answered = admin(&server, &path).await;
            assert_eq!(
                printed,
                answered,
                "`scimitar {}` and GET {path}",
                args.join(" ")
            );
            assert!(
                printed.as_array().is_none_or(|a| !a.is_empty()),
                "{path} compared nothing"
            );
        }
        // A policy set by the CLI is what the admin API reads, and lets the
        // identity provider create groups in the process serving, which
        // follows it within TRUSTED_FOR (it trusts policies it read that
        // long).
        let set = cli(
            url,
            &[
                "tenant",
                "set-policy",
                "--tenant",
                t,
                "--group-creation",
                "scim",
                "--group-subaccount",
                &sub_id,
            ],
        )
        .await;
        assert_eq!(set, admin(&server, &format!("/tenants/{t}")).await);
        assert_eq!(set["policy"]["groupSubaccountId"], sub_id.as_str(), "{set}");
        let pushed = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Pushed",
        });
        let scim = server.scim(&setup.key);
        once_followed(async || scim.post("/Groups", &pushed).await, 403, 201).await;
        let back = cli(
            url,
            &[
                "tenant",
                "set-policy",
                "--tenant",
                t,
                "--group-subaccount",
                "root",
            ],
        )
        .await;
        assert_eq!(back["policy"]["groupCreation"], "scim", "{back}");
        assert_eq!(back["policy"]["groupSubaccountId"], Value::Null, "{back}");
        // Deactivation instead of deletion, followed as soon.
        let keeps = cli(
            url,
            &[
                "tenant",
                "set-policy",
                "--tenant",
                t,
                "--deprovision",
                "deactivate",
                "--deactivated-memberships",
                "drop",
            ],
        )
        .await;
        assert_eq!(keeps, admin(&server, &format!("/tenants/{t}")).await);
        assert_eq!(keeps["policy"]["deprovision"], "deactivate", "{keeps}");
        assert_eq!(keeps["policy"]["deactivatedMemberships"], "drop", "{keeps}");
        let user = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kept@example.com", "displayName": "Kept", "active": false,
        });
        once_followed(async || scim.post("/Users", &user).await, 400, 201).await;
        // camelCase and RFC 3339 times on both.
        let group = &admin(&server, &format!("/tenants/{t}/groups")).await[0];
        assert_eq!(
            group["subaccountId"].as_str(),
            Some(sub_id.as_str()),
            "{group}"
        );
        assert_eq!(group["externalId"], "ext-1", "{group}");
        let created = group["created"].as_str().unwrap_or_default();
        assert!(
            scimitar_proto::datetime::parse(created).is_some(),
            "{group}"
        );
    })
    .await;
}

/// A tenant's confirmed domains and the collisions they reveal, from the
/// command line: the admin API's JSON, and a release that frees the
/// address for the domain's tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_confirms_domains_and_releases_collisions() {
    bounded(120, "domains from the CLI", async {
        let db = TestDb::sqlite();
        let url = db.url();
        let acme = tenant_with_key(url, "Acme").await;
        let globex = tenant_with_key(url, "Globex").await;
        let server = Server::start_with(url, &["--admin-token", ADMIN_TOKEN]).await;
        let held = server
            .scim(&globex.key)
            .post("/Users", &user_body("bob@acme.example"))
            .await
            .expect(201);
        let set = cli(
            url,
            &[
                "tenant",
                "set-policy",
                "--tenant",
                &acme.id,
                "--user-name-domains",
                "Acme.example,corp.example",
            ],
        )
        .await;
        assert_eq!(set, admin(&server, &format!("/tenants/{}", acme.id)).await);
        assert_eq!(
            set["policy"]["userNameDomains"],
            serde_json::json!(["acme.example", "corp.example"])
        );
        let listed = cli(url, &["user", "collisions", "--domain", "acme.example"]).await;
        assert_eq!(listed, admin(&server, "/collisions").await);
        assert_eq!(listed[0]["userName"], "bob@acme.example", "{listed}");
        assert_eq!(listed[0]["tenantId"], globex.id.as_str(), "{listed}");
        let scim = server.scim(&acme.key);
        scim.post("/Users", &user_body("bob@acme.example"))
            .await
            .expect(409);
        let bob = str_of(&held.body, "id");
        let released = cli(url, &["user", "release-collision", "--id", &bob]).await;
        assert_eq!(released, listed[0]);
        assert_eq!(
            cli(url, &["user", "collisions"]).await,
            serde_json::json!([])
        );
        scim.post("/Users", &user_body("bob@acme.example"))
            .await
            .expect(201);
        let any = cli(
            url,
            &[
                "tenant",
                "set-policy",
                "--tenant",
                &acme.id,
                "--user-name-domains",
                "any",
            ],
        )
        .await;
        assert_eq!(any["policy"]["userNameDomains"], "any", "{any}");
    })
    .await;
}

/// Sends `request` until the serving process follows a policy just set by
/// another process: `before` (a refusal that changes nothing) while it
/// still trusts what it read, `after` within `TRUSTED_FOR`.
async fn once_followed(request: impl AsyncFn() -> Reply, before: u16, after: u16) {
    let deadline = std::time::Instant::now() + 3 * scimitar_core::domain::TRUSTED_FOR;
    loop {
        let reply = request().await;
        if reply.status == after || std::time::Instant::now() > deadline {
            reply.expect(after);
            return;
        }
        reply.expect(before);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The domain's rules refuse bad input from the command line as they do
/// from the admin API, before anything is written.
#[tokio::test]
async fn the_cli_refuses_what_the_admin_api_refuses() {
    let db = TestDb::sqlite();
    let url = db.url();
    let refusals: [(&[&str], &str); 10] = [
        (
            &[
                "tenant",
                "set-policy",
                "--tenant",
                "5d3c2a1b-0000-4000-8000-000000000009",
                "--user-name-domains",
                "acme.example,localhost",
            ],
            "\"localhost\" is not a domain name (no dot)",
        ),
        (
            &["user", "release-collision", "--id", "not-an-id"],
            "collision not found",
        ),
        (
            &[
                "tenant",
                "set-policy",
                "--tenant",
                "not-an-id",
                "--group-creation",
                "scim",
            ],
            "tenant not found",
        ),
        (
            &[
                "tenant",
                "set-policy",
                "--tenant",
                "5d3c2a1b-0000-4000-8000-000000000009",
                "--group-creation",
                "everyone",
            ],
            "invalid value 'everyone'",
        ),
        (
            &[
                "tenant",
                "set-policy",
                "--tenant",
                "5d3c2a1b-0000-4000-8000-000000000009",
                "--deprovision",
                "archive",
            ],
            "invalid value 'archive'",
        ),
        (&["tenant", "create", "--name", "  "], "'name' is required"),
        (
            &["tenant", "create", "--name", "a\u{7}b"],
            "control character",
        ),
        (
            &["subaccount", "list", "--tenant", "not-an-id"],
            "tenant not found",
        ),
        (
            &[
                "subaccount",
                "list",
                "--tenant",
                "5d3c2a1b-0000-4000-8000-000000000009",
            ],
            "tenant not found",
        ),
        (
            &["apikey", "revoke", "--id", "x'; DROP TABLE api_keys"],
            "API key not found",
        ),
    ];
    for (args, says) in refusals {
        let out = cli_output(Some(url), args, &[]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?} printed an answer");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(cli(url, &["tenant", "list"]).await, serde_json::json!([]));
}
