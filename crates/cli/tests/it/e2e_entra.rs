//! End to end, over a socket, with the real binary: the whole lifecycle the
//! integration guide walks an administrator through with Microsoft Entra
//! ID, and the CLI contract the guide's "Step 1" and "Step 2" rely on.

use crate::common::*;
use serde_json::{Value, json};

/// What an identity provider would send as the objectId of a group.
const ENTRA_GROUP_OBJECT_ID: &str = "5d3c2a1b-0000-4000-8000-000000000001";

/// The guide, steps 1 to 6, then deprovisioning and re-creation, against
/// SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_lifecycle_sqlite() {
    let db = TestDb::sqlite();
    bounded(180, "the Entra lifecycle", entra_lifecycle(&db, "/scim/v2")).await;
}

/// The same on PostgreSQL, under the guide's base path `/core/v1/scim/v2`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_lifecycle_postgres_under_core_v1_base_path() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    bounded(
        180,
        "the Entra lifecycle",
        entra_lifecycle(&db, "/core/v1/scim/v2"),
    )
    .await;
}

async fn entra_lifecycle(db: &TestDb, base_path: &str) {
    let url = db.url();

    // Step 1: support activates SCIM — a tenant and its API key.
    let tenant = cli(
        url,
        &["tenant", "create", "--name", "Acme", "--region", "eu"],
    )
    .await;
    let tenant_id = str_of(&tenant, "id");
    let key = cli(
        url,
        &[
            "apikey", "create", "--tenant", &tenant_id, "--label", "Entra ID",
        ],
    )
    .await;
    let secret = str_of(&key, "key");

    // Step 2: a group in a subaccount, with Entra's objectId as externalId.
    let sub = cli(
        url,
        &[
            "subaccount",
            "create",
            "--tenant",
            &tenant_id,
            "--name",
            "Sweden",
        ],
    )
    .await;
    let sub_id = str_of(&sub, "id");
    let group = cli(
        url,
        &[
            "group",
            "create",
            "--tenant",
            &tenant_id,
            "--name",
            "Stockholm staff",
            "--subaccount",
            &sub_id,
            "--external-id",
            ENTRA_GROUP_OBJECT_ID,
        ],
    )
    .await;
    let group_id = str_of(&group, "id");
    assert_eq!(group["externalId"], json!(ENTRA_GROUP_OBJECT_ID));

    let mut extra = vec![];
    if base_path != "/scim/v2" {
        extra = vec!["--scim-base-path", base_path];
    }
    let server = Server::start_with(url, &extra).await;
    // Entra is given the base URL with `?aadOptscim062020` and appends the
    // resource path to the URL's path.
    let scim = Scim::new(&server.url(base_path), &secret);

    // Step 3, "Test Connection": a user that cannot exist.
    let probe = format!("userName eq \"{}\"", uuid::Uuid::new_v4());
    let found = scim
        .get(&format!(
            "/Users?aadOptscim062020&filter={}",
            encode(&probe)
        ))
        .await
        .expect(200);
    assert_eq!(
        found.header("content-type"),
        Some("application/scim+json"),
        "SCIM responses have the SCIM media type"
    );
    assert_eq!(found.body["totalResults"], json!(0));
    assert_eq!(
        found.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );

    // Step 4: groups are matched by externalId, members left out.
    let by_external = format!("externalId eq \"{ENTRA_GROUP_OBJECT_ID}\"");
    let matched = scim
        .get(&format!(
            "/Groups?aadOptscim062020&filter={}&excludedAttributes=members",
            encode(&by_external)
        ))
        .await
        .expect(200);
    assert_eq!(matched.body["totalResults"], json!(1), "{}", matched.body);
    let matched_group = &matched.body["Resources"][0];
    assert_eq!(matched_group["id"], json!(group_id));
    assert_eq!(matched_group["displayName"], json!("Stockholm staff"));
    assert!(
        matched_group.get("members").is_none(),
        "excludedAttributes=members: {matched_group}"
    );

    // Step 6: Entra creates a user, with its enterprise extension and null
    // placeholders, and an emails row the guide says to delete (ignored).
    let user_name = unique_user_name("ann.lee");
    let created = scim
        .post(
            "/Users?aadOptscim062020",
            &json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                "externalId": "ann.lee",
                "userName": user_name,
                "active": true,
                "displayName": "Ann Lee",
                "title": "Engineer",
                "emails": [{"primary": true, "type": "work", "value": "other@example.com"}],
                "phoneNumbers": [{"type": "work", "value": "+46701234567"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Ann Lee", "familyName": "Lee", "givenName": "Ann"},
                "preferredLanguage": null,
                ENTERPRISE_SCHEMA: {"department": null, "employeeNumber": "42"},
            }),
        )
        .await
        .expect(201);
    let user_id = str_of(&created.body, "id");
    let location = created.header("location").expect("Location of a new user");
    assert!(
        location.contains(&format!("{base_path}/Users/{user_id}")),
        "Location {location} is under the base path"
    );
    assert_eq!(created.body["userName"], json!(user_name));
    assert_eq!(created.body["active"], json!(true));
    assert_eq!(
        created.body["emails"],
        json!([{"value": user_name, "type": "work", "primary": true}]),
        "emails always mirror userName"
    );
    assert_eq!(
        created.body["phoneNumbers"][0]["value"],
        json!("+46701234567")
    );
    assert!(created.header("etag").is_some(), "ETag of a new user");

    // Step 5: the user is assigned through the group.
    scim.patch(
        &format!("/Groups/{group_id}"),
        &patch_body(json!([{
            "op": "Add",
            "path": "members",
            "value": [{"value": user_id}]
        }])),
    )
    .await
    .expect(204);
    let user = scim.get(&format!("/Users/{user_id}")).await.expect(200);
    let groups = user.body["groups"].as_array().cloned().unwrap_or_default();
    assert_eq!(groups.len(), 1, "{}", user.body);
    assert_eq!(groups[0]["value"], json!(group_id));
    assert_eq!(groups[0]["display"], json!("Stockholm staff"));
    // Entra checks membership with a filter on members.
    let is_member = format!("id eq \"{group_id}\" and members eq \"{user_id}\"");
    let check = scim
        .get(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            encode(&is_member)
        ))
        .await
        .expect(200);
    assert_eq!(check.body["totalResults"], json!(1), "{}", check.body);

    // An attribute-mapping change: several replaces in one PATCH, in
    // Entra's letter case, with a path-less object value among them.
    let changed = scim
        .patch(
            &format!("/Users/{user_id}"),
            &patch_body(json!([
                {"op": "Replace", "path": "displayName", "value": "Ann Lee-Berg"},
                {"op": "Replace", "path": "title", "value": "Staff engineer"},
                {"op": "Replace", "path": "name.familyName", "value": "Lee-Berg"},
                {"op": "Replace", "value": {"externalId": "ann.leeberg"}},
            ])),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["displayName"], json!("Ann Lee-Berg"));
    assert_eq!(changed.body["title"], json!("Staff engineer"));
    assert_eq!(changed.body["name"]["familyName"], json!("Lee-Berg"));
    assert_eq!(changed.body["externalId"], json!("ann.leeberg"));
    assert_eq!(changed.body["userName"], json!(user_name));

    // Soft delete in Entra: active "False" (a string) deprovisions.
    let gone = scim
        .patch(
            &format!("/Users/{user_id}"),
            &patch_body(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert!(
        gone.status == 200 || gone.status == 204,
        "deprovisioning PATCH: {} {}",
        gone.status,
        gone.body
    );
    let missing = scim.get(&format!("/Users/{user_id}")).await;
    assert_scim_error(&missing, 404);
    assert!(scim.find_user(&user_name).await.is_empty());
    assert!(
        scim.member_ids(&group_id).await.is_empty(),
        "memberships go with the user"
    );

    // The host application follows the outbox; support reads the log.
    let events = cli(url, &["events", "--tenant", &tenant_id, "--limit", "1000"]).await;
    let events = events.as_array().expect("events are a list");
    let deprovisioned: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == json!("user.deprovisioned"))
        .collect();
    assert_eq!(deprovisioned.len(), 1, "{events:?}");
    assert_eq!(deprovisioned[0]["resourceId"], json!(user_id));
    let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "events in order: {seqs:?}"
    );

    // The log is written in batches off the request path: wait until the
    // last request checked below (the 404) has been written.
    let log = wait_for_log(url, &tenant_id, |log| {
        log.iter().any(|e| {
            e["method"] == json!("PATCH")
                && e["path"].as_str().is_some_and(|p| p.contains(&user_id))
        }) && log
            .iter()
            .any(|e| e["method"] == json!("GET") && e["status"] == json!(404))
    })
    .await;
    let create_entry = log
        .iter()
        .find(|e| e["method"] == json!("POST"))
        .expect("the POST /Users is logged");
    assert_eq!(create_entry["status"], json!(201));
    assert!(
        create_entry["path"]
            .as_str()
            .is_some_and(|p| p.starts_with(&format!("{base_path}/Users"))),
        "{create_entry}"
    );
    let ignored = create_entry["ignored"].to_string();
    assert!(
        ignored.contains("preferredLanguage") || ignored.contains("enterprise"),
        "unknown attributes are noted in the log: {create_entry}"
    );
    let not_found = log
        .iter()
        .find(|e| e["method"] == json!("GET") && e["status"] == json!(404))
        .expect("the 404 is logged");
    assert!(not_found["detail"].as_str().is_some_and(|d| !d.is_empty()));

    // Entra assigns the user again later: a new user, with a new id.
    let again = scim
        .post("/Users", &user_body(&user_name))
        .await
        .expect(201);
    let new_id = str_of(&again.body, "id");
    assert_ne!(new_id, user_id, "a re-created user has a new id");

    // Hard delete.
    scim.delete(&format!("/Users/{new_id}")).await.expect(204);
    assert_scim_error(&scim.get(&format!("/Users/{new_id}")).await, 404);
    assert_scim_error(&scim.delete(&format!("/Users/{new_id}")).await, 404);

    // Groups are never created by SCIM.
    let refused = scim
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "From Entra"}),
        )
        .await;
    assert_scim_error(&refused, 403);
}

/// Every command that creates something prints one JSON object with its
/// id; lists print JSON; errors go to stderr with a failing exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_contract() {
    bounded(180, "the CLI contract", async {
        let db = TestDb::sqlite();
        let url = db.url();

        // `migrate` creates the schema and says so on stderr only.
        let migrated = cli_output(Some(url), &["migrate"], &[]).await;
        assert!(migrated.status.success(), "{migrated:?}");
        assert!(
            migrated.stdout.is_empty(),
            "migrate prints nothing on stdout"
        );
        assert_eq!(cli(url, &["tenant", "list"]).await, json!([]));

        let tenant = cli(url, &["tenant", "create", "--name", "Acme"]).await;
        assert!(tenant.is_object());
        let tenant_id = str_of(&tenant, "id");
        assert_eq!(tenant["name"], json!("Acme"));

        let parent = cli(
            url,
            &[
                "subaccount",
                "create",
                "--tenant",
                &tenant_id,
                "--name",
                "EU",
            ],
        )
        .await;
        let parent_id = str_of(&parent, "id");
        let child = cli(
            url,
            &[
                "subaccount",
                "create",
                "--tenant",
                &tenant_id,
                "--name",
                "SE",
                "--parent",
                &parent_id,
            ],
        )
        .await;
        assert_eq!(child["parentId"], json!(parent_id));
        let subs = cli(url, &["subaccount", "list", "--tenant", &tenant_id]).await;
        assert_eq!(subs.as_array().map(Vec::len), Some(2), "{subs}");

        let group_id = group(url, &tenant_id, "Staff", "ext-1").await;
        let renamed = cli(
            url,
            &["group", "rename", "--id", &group_id, "--name", "All staff"],
        )
        .await;
        assert_eq!(renamed["displayName"], json!("All staff"));
        let moved = cli(
            url,
            &[
                "group",
                "move",
                "--id",
                &group_id,
                "--subaccount",
                &parent_id,
            ],
        )
        .await;
        assert_eq!(moved["subaccountId"], json!(parent_id));
        let reset = cli(
            url,
            &[
                "group",
                "set-external-id",
                "--id",
                &group_id,
                "--external-id",
                "ext-2",
            ],
        )
        .await;
        assert_eq!(reset["externalId"], json!("ext-2"));
        let groups = cli(url, &["group", "list", "--tenant", &tenant_id]).await;
        assert_eq!(groups[0]["id"], json!(group_id), "{groups}");

        let key = cli(url, &["apikey", "create", "--tenant", &tenant_id]).await;
        let key_id = str_of(&key, "id");
        let secret = str_of(&key, "key");
        let keys = cli(url, &["apikey", "list", "--tenant", &tenant_id]).await;
        assert_eq!(keys[0]["id"], json!(key_id));
        assert!(
            !keys.to_string().contains(&secret),
            "a key's secret is shown once, at issue"
        );

        // The key works over SCIM, then stops working once revoked.
        let server = Server::start(url).await;
        let scim = server.scim(&secret);
        let user_name = unique_user_name("cli");
        let user = scim
            .post("/Users", &user_body(&user_name))
            .await
            .expect(201);
        let users = cli(url, &["user", "list", "--tenant", &tenant_id]).await;
        assert_eq!(users["total"], 1, "{users}");
        assert_eq!(users["users"][0]["id"], user.body["id"], "{users}");
        let filter = format!("userName eq \"{}\"", user_name.to_uppercase());
        let filtered = cli(
            url,
            &["user", "list", "--tenant", &tenant_id, "--filter", &filter],
        )
        .await;
        assert_eq!(
            filtered["users"].as_array().map(Vec::len),
            Some(1),
            "{filtered}"
        );
        let revoked = cli(url, &["apikey", "revoke", "--id", &key_id]).await;
        let at = revoked["revoked"].as_str().unwrap_or_default();
        assert!(scimitar_proto::datetime::parse(at).is_some(), "{revoked}");
        // Revoked by another process: the server trusts a key it has seen
        // for at most TRUSTED_FOR more.
        let deadline = std::time::Instant::now()
            + scimitar_core::domain::TRUSTED_FOR
            + std::time::Duration::from_secs(2);
        let refused = loop {
            let reply = scim.get("/Users").await;
            if reply.status == 401 || std::time::Instant::now() > deadline {
                break reply;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_scim_error(&refused, 401);

        // Errors: stderr, non-zero exit, nothing on stdout.
        for args in [
            &[
                "group",
                "create",
                "--tenant",
                "no-such-tenant",
                "--name",
                "X",
            ][..],
            &["apikey", "revoke", "--id", "no-such-key"][..],
            &[
                "subaccount",
                "create",
                "--tenant",
                &tenant_id,
                "--name",
                "X",
                "--parent",
                "nope",
            ][..],
            &[
                "user",
                "list",
                "--tenant",
                &tenant_id,
                "--filter",
                "userName eq",
            ][..],
            &[
                "group",
                "create",
                "--tenant",
                &tenant_id,
                "--name",
                "Dup",
                "--external-id",
                "ext-2",
            ][..],
        ] {
            let out = cli_output(Some(url), args, &[]).await;
            assert!(!out.status.success(), "scimitar {args:?} should fail");
            assert!(out.stdout.is_empty(), "scimitar {args:?} printed on stdout");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.starts_with("error: "), "scimitar {args:?}: {stderr}");
        }
        let bad_url = cli_output(Some("mysql://nowhere/db"), &["tenant", "list"], &[]).await;
        assert!(!bad_url.status.success());
        assert!(String::from_utf8_lossy(&bad_url.stderr).contains("error"));

        // SCIMITAR_DATABASE_URL stands in for --database.
        let by_env = cli_output(
            None,
            &["tenant", "create", "--name", "From env"],
            &[("SCIMITAR_DATABASE_URL", url)],
        )
        .await;
        let by_env = parse_cli(&["tenant", "create"], &by_env);
        let tenants = cli(url, &["tenant", "list"]).await;
        assert!(
            tenants
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["id"] == by_env["id"])),
            "{tenants}"
        );
        drop(server);
    })
    .await;
}

/// The base path is configurable; the default one is then not served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_base_path_is_configurable() {
    bounded(120, "the base path check", async {
        let db = TestDb::sqlite();
        let t = tenant_with_key(db.url(), "Acme").await;
        let server = Server::start_with(db.url(), &["--scim-base-path", "/core/v1/scim/v2"]).await;
        let scim = Scim::new(&server.url("/core/v1/scim/v2"), &t.key);
        scim.get("/Users?aadOptscim062020").await.expect(200);
        scim.get("/ServiceProviderConfig").await.expect(200);
        let old = Scim::new(&server.url("/scim/v2"), &t.key);
        assert_scim_error(&old.get("/Users").await, 404);
        let created = scim
            .post("/Users", &user_body(&unique_user_name("base")))
            .await
            .expect(201);
        let location = created.body["meta"]["location"]
            .as_str()
            .unwrap_or_default();
        assert!(
            location.starts_with(&format!("http://{}/core/v1/scim/v2/Users/", server.addr)),
            "{location}"
        );
        // Operational endpoints stay where they are.
        let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
        assert_eq!(health.status().as_u16(), 200);
        let ready = reqwest::get(server.url("/readyz")).await.expect("readyz");
        assert_eq!(ready.status().as_u16(), 200);
    })
    .await;
}
