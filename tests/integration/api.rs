//! The Management API layer against a real local HTTP server (httpmock on port 0): what goes on
//! the wire (compared with golden JSON written by hand from `docs/descope-api.md`), how answers and
//! errors are read, and how the gateway paces, pauses and retries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use descope_mgmt::api::credentials::Credentials;
use descope_mgmt::api::endpoints as ep;
use descope_mgmt::api::gateway::{
    CheckFuture, CheckResult, Gateway, GatewayEvent, GatewayOptions, NoCheck, OutcomeCheck,
    RateBudget, WriteOutcome,
};
use descope_mgmt::api::transport::{Transport, TransportOptions};
use descope_mgmt::api::wire;

use crate::wire_requests::{self, PermissionRequest, RoleRequest, TenantRequest};
use descope_mgmt::api::{ApiError, ApiErrorKind, ApiRequest, Effect};
use descope_mgmt::secret::Secret;
use httpmock::prelude::*;
use httpmock::HttpMockRequest;
use serde_json::{json, Map, Value};

const PROJECT: &str = "P2testprojectaaaaaaaaaaaaaaa";
const KEY: &str = "K2-super-secret-management-key";

fn creds(server: &MockServer) -> Credentials {
    Credentials::new(PROJECT, Secret::new(KEY), Some(&server.base_url()))
}

fn transport(server: &MockServer) -> Transport {
    transport_with_timeout(server, Duration::from_secs(10))
}

fn transport_with_timeout(server: &MockServer, timeout: Duration) -> Transport {
    Transport::new(
        creds(server),
        TransportOptions {
            timeout,
            ..TransportOptions::default()
        },
    )
    .unwrap()
}

/// Fast enough that pacing never matters, with tiny backoffs.
fn quick_options() -> GatewayOptions {
    GatewayOptions {
        rate: "1000/1".parse().unwrap(),
        max_retries: 3,
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        ..GatewayOptions::default()
    }
}

fn gateway(server: &MockServer, opts: GatewayOptions) -> Gateway {
    Gateway::new(transport(server), opts)
}

/// Matches only the first `n` requests to `path`: a server that fails, then recovers.
fn first_n(path: &'static str, n: usize) -> impl Fn(&HttpMockRequest) -> bool + Send + Sync {
    let seen = AtomicUsize::new(0);
    move |req: &HttpMockRequest| req.uri().path() == path && seen.fetch_add(1, Ordering::SeqCst) < n
}

fn assert_no_key(what: &str, text: &str) {
    assert!(
        !text.contains(KEY),
        "{what} shows the management key: {text}"
    );
    assert!(
        !text.contains("super-secret"),
        "{what} shows part of the key: {text}"
    );
}

fn assert_error_hides_key(e: &ApiError) {
    assert_no_key("Display", &e.to_string());
    assert_no_key("Debug", &format!("{e:?}"));
}

// ------------------------------------------------------------------ request shapes

fn golden(name: &str) -> Value {
    let path = format!(
        "{}/tests/golden/api/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn tenant_request() -> TenantRequest {
    TenantRequest {
        id: Some("acme".into()),
        name: "Acme".into(),
        self_provisioning_domains: vec!["acme.com".into()],
        custom_attributes: Some(json!({"plan": "gold"}).as_object().unwrap().clone()),
        parent: Some("holding".into()),
        role_inheritance: Some("userOnly".into()),
        ..TenantRequest::default()
    }
}

fn viewer_role() -> RoleRequest {
    RoleRequest {
        name: "viewer".into(),
        description: Some("Read only".into()),
        permission_names: vec!["billing.read".into()],
        default: Some(true),
        ..RoleRequest::default()
    }
}

fn auditor_role() -> RoleRequest {
    RoleRequest {
        name: "auditor".into(),
        tenant_id: Some("acme".into()),
        ..RoleRequest::default()
    }
}

fn billing_read() -> PermissionRequest {
    PermissionRequest {
        name: "billing.read".into(),
        description: Some("Read invoices".into()),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Every endpoint, built the way the planner builds it. The expected wire form is in the golden
/// file of the same name, not here.
fn all_endpoint_cases() -> Vec<(&'static str, ApiRequest)> {
    let update = TenantRequest {
        id: Some("acme".into()),
        name: "Acme Corp".into(),
        self_provisioning_domains: strings(&["acme.com", "acme.io"]),
        custom_attributes: Some(json!({"plan": "gold"}).as_object().unwrap().clone()),
        enforce_sso: true,
        enforce_sso_exclusions: Some(strings(&["U2abc"])),
        federated_app_ids: Some(vec![]),
        auth_type: Some("saml".into()),
        ..TenantRequest::default()
    };
    vec![
        ("license", ep::license()),
        ("tenant_create", ep::tenant_create(tenant_request().to_value())),
        ("tenant_update", ep::tenant_update(update.to_value())),
        ("tenant_patch", ep::tenant_patch(json!({"id": "acme", "disabled": true}))),
        ("tenant_delete", ep::tenant_delete("acme", false)),
        ("tenant_delete_cascade", ep::tenant_delete("acme", true)),
        ("tenant_load", ep::tenant_load("acme")),
        ("tenant_load_all", ep::tenant_load_all()),
        (
            "tenant_search",
            ep::tenant_search(
                wire_requests::TenantSearchRequest {
                    tenant_ids: Some(strings(&["acme"])),
                    tenant_self_provisioning_domains: Some(strings(&["acme.com"])),
                    ..Default::default()
                }
                .to_value(),
            ),
        ),
        ("tenant_load_settings", ep::tenant_load_settings("acme")),
        (
            "tenant_update_settings",
            ep::tenant_update_settings(json!({
                "tenantId": "acme", "selfProvisioningDomains": ["acme.com"], "domains": [],
                "authType": "none", "enabled": true, "sessionTokenExpiration": 10,
                "sessionTokenExpirationUnit": "minutes", "JITDisabled": false
            })),
        ),
        (
            "tenant_update_default_roles",
            ep::tenant_update_default_roles("acme", &strings(&["viewer"])),
        ),
        ("permission_create", ep::permission_create(billing_read().to_value())),
        (
            "permission_create_batch",
            ep::permission_create_batch(vec![
                billing_read().to_value(),
                PermissionRequest {
                    name: "billing.write".into(),
                    description: None,
                }
                .to_value(),
            ])
            .unwrap(),
        ),
        (
            "permission_update",
            ep::permission_update(json!({
                "name": "billing.read", "newName": "billing.view", "description": "View invoices"
            })),
        ),
        (
            "permission_update_batch",
            ep::permission_update_batch(vec![json!({
                "name": "billing.read", "newName": "billing.read", "description": "Read all invoices"
            })])
            .unwrap(),
        ),
        ("permission_delete", ep::permission_delete("billing.read")),
        (
            "permission_delete_batch",
            ep::permission_delete_batch(&strings(&["billing.read", "billing.write"])).unwrap(),
        ),
        ("permission_load_all", ep::permission_load_all()),
        ("role_create", ep::role_create(viewer_role().to_value())),
        ("role_create_tenant", ep::role_create(auditor_role().to_value())),
        (
            "role_create_batch",
            ep::role_create_batch(vec![viewer_role().to_value(), auditor_role().to_value()])
                .unwrap(),
        ),
        (
            "role_update",
            ep::role_update(json!({
                "name": "viewer", "newName": "viewer", "description": "Read only",
                "permissionNames": ["billing.read", "billing.view"], "tenantId": "acme",
                "default": false, "private": false
            })),
        ),
        (
            "role_update_batch",
            ep::role_update_batch(vec![
                json!({"name": "viewer", "newName": "reader", "permissionNames": []}),
            ])
            .unwrap(),
        ),
        ("role_delete", ep::role_delete("viewer", None)),
        ("role_delete_tenant", ep::role_delete("auditor", Some("acme"))),
        (
            "role_delete_batch",
            ep::role_delete_batch(&strings(&["viewer", "editor"]), Some("acme")).unwrap(),
        ),
        ("role_load_all", ep::role_load_all()),
        (
            "role_search",
            ep::role_search(
                wire_requests::RoleSearchRequest {
                    tenant_ids: Some(strings(&["acme"])),
                    role_name_like: Some("view".into()),
                    include_project_roles: Some(true),
                    ..Default::default()
                }
                .to_value(),
            ),
        ),
        ("flow_list", ep::flow_list()),
        ("flow_delete", ep::flow_delete(&strings(&["sign-up"])).unwrap()),
        ("flow_export_v1", ep::flow_export_v1("sign-up-or-in")),
        (
            "flow_import_v1",
            ep::flow_import_v1(
                "sign-up-or-in",
                json!({
                    "flow": {"id": "sign-up-or-in", "name": "Sign up or in", "description": "",
                             "disabled": false, "dsl": {"start": {}}},
                    "screens": [{"id": "SC1", "flowId": "sign-up-or-in", "inputs": {},
                                 "interactions": {}, "htmlTemplate": {}}]
                }),
            )
            .unwrap(),
        ),
        ("flow_export_v2", ep::flow_export_v2("sign-up-or-in")),
        (
            "flow_import_v2",
            ep::flow_import_v2(
                "sign-up-or-in",
                json!({
                    "metadata": {"name": "Sign up or in", "disabled": false},
                    "contents": {"startTask": "t1", "tasks": {}},
                    "screens": [{"screenId": "SC1", "interactions": {}, "contents": {}}],
                    "references": {"connectors": {}}
                }),
            )
            .unwrap(),
        ),
        ("theme_export_v1", ep::theme_export_v1()),
        (
            "theme_import_v1",
            ep::theme_import_v1(json!({
                "id": "", "version": 3, "cssTemplate": {"light": {}},
                "componentsVersion": "1.0.0", "codeMode": false
            }))
            .unwrap(),
        ),
        ("theme_export_v2", ep::theme_export_v2()),
        (
            "theme_import_v2",
            ep::theme_import_v2(json!({
                "styles": {"light": {}}, "componentsVersion": "1.0.0", "references": {}
            }))
            .unwrap(),
        ),
        ("sso_load_all", ep::sso_load_all("acme")),
        (
            "sso_new",
            ep::sso_new(
                json!({"tenantId": "acme", "displayName": "Acme EU", "ssoId": "okta-eu"}),
                "tenant_sso.acme/okta-eu".parse().unwrap(),
            ),
        ),
        (
            "sso_configure_saml",
            ep::sso_configure(
                ep::SSO_CONFIGURE_SAML,
                json!({
                    "tenantId": "acme", "domains": ["acme.com"], "redirectUrl": "https://app/done",
                    "settings": {"idpUrl": "https://idp", "entityId": "e", "idpCert": "PEM",
                                 "idpAdditionalCerts": [], "attributeMapping": {"email": "mail"},
                                 "roleMappings": [{"groups": ["admins"], "roleName": "Admin"}],
                                 "defaultSSORoles": [], "replaceDefaultSSORoles": true,
                                 "disableSignRequest": false}
                }),
                "tenant_sso.acme/default".parse().unwrap(),
            ),
        ),
        (
            "sso_delete",
            ep::sso_delete("acme", Some("okta-eu"), "tenant_sso.acme/okta-eu".parse().unwrap()),
        ),
        (
            "sso_delete_default",
            ep::sso_delete("acme", None, "tenant_sso.acme/default".parse().unwrap()),
        ),
        (
            "project_update_name",
            ep::project_update_name("Acme Production"),
        ),
        (
            "project_update_tags",
            ep::project_update_tags(&strings(&["eu", "prod"])),
        ),
        ("projects_list", ep::projects_list()),
        (
            "outbound_app_create",
            ep::outbound_app_create(json!({
                "id": "google", "name": "Google", "clientId": "cid",
                "tokenUrl": "https://oauth2.googleapis.com/token",
                "tokenUrlParams": [{"name": "aud", "value": "x"}],
                "accessType": "offline", "prompt": ["consent"]
            })),
        ),
        (
            "outbound_app_update",
            ep::outbound_app_update(json!({
                "id": "google", "name": "Google Workspace", "description": "", "pkce": true
            })),
        ),
        ("outbound_app_delete", ep::outbound_app_delete("google")),
        ("outbound_apps_load_all", ep::outbound_apps_load_all()),
        (
            "access_key_create",
            ep::access_key_create(json!({
                "name": "ci-bot", "expireTime": 0, "roleNames": ["deployer"],
                "keyTenants": [{"tenantId": "acme", "roleNames": ["Tenant Admin"]}],
                "permittedIps": ["10.0.0.0/8"]
            })),
        ),
        (
            "access_key_update",
            ep::access_key_update(json!({"id": "K1", "name": "ci-bot", "description": "CI"})),
        ),
        (
            "access_key_activate",
            ep::access_key_set_active("K1", "ci-bot", true),
        ),
        (
            "access_key_deactivate",
            ep::access_key_set_active("K1", "ci-bot", false),
        ),
        ("access_key_delete", ep::access_key_delete("K1", "ci-bot")),
        ("access_key_search", ep::access_key_search()),
        ("access_key_rotate", ep::access_key_rotate("K1", "ci-bot")),
        ("sso_app_create_oidc", ep::sso_app_create(json!({"id": "portal", "name": "Portal", "loginPageUrl": "https://p.example/login", "clientId": "imported"}))),
        ("sso_app_create_saml", ep::sso_app_create(json!({"id": "wiki", "name": "Wiki", "useMetadataInfo": false, "entityId": "wiki"}))),
        ("sso_app_update_oidc", ep::sso_app_update(json!({"id": "portal", "name": "Portal", "enabled": true}))),
        ("sso_app_update_saml", ep::sso_app_update(json!({"id": "wiki", "name": "Wiki", "useMetadataInfo": true, "metadataUrl": "https://w.example/md"}))),
        ("sso_app_delete", ep::sso_app_delete("portal")),
        ("sso_app_load_all", ep::sso_app_load_all()),
        ("third_party_app_create", ep::third_party_app_create(json!({"name": "Partner", "loginPageUrl": "https://x.example", "approvedCallbackUrls": ["https://x.example/cb"]}))),
        ("third_party_app_update", ep::third_party_app_update(json!({"id": "TPA1", "name": "Partner", "description": ""}))),
        ("third_party_app_delete", ep::third_party_app_delete("TPA1", "Partner")),
        ("third_party_app_load_all", ep::third_party_app_load_all()),
    ]
}

#[tokio::test]
async fn every_endpoint_sends_the_documented_request() {
    let server = MockServer::start_async().await;
    let t = transport(&server);
    let cases = all_endpoint_cases();

    let mut golden_files: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/api"))
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .trim_end_matches(".json")
                    .to_string()
            })
            .collect();
    golden_files.sort();
    let mut names: Vec<String> = cases.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(
        names, golden_files,
        "every golden file has a case and vice versa"
    );

    for (name, req) in cases {
        let g = golden(name);
        // What the builder produced, compared field by field for a readable failure.
        assert_eq!(req.method.as_str(), g["method"], "{name}: method");
        assert_eq!(req.path, g["path"], "{name}: path");
        let query: Map<String, Value> = req
            .query
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        assert_eq!(Value::Object(query), g["query"], "{name}: query");
        let effect = match req.effect {
            Effect::Read => "read",
            Effect::Write => "write",
        };
        assert_eq!(effect, g["effect"], "{name}: effect");
        assert_eq!(
            req.body.clone().unwrap_or(Value::Null),
            g["body"],
            "{name}: body"
        );

        // What actually went over the wire.
        let expected_query = g["query"].as_object().unwrap().clone();
        let m = server
            .mock_async(|when, then| {
                let mut when = when
                    .method(g["method"].as_str().unwrap())
                    .path(g["path"].as_str().unwrap())
                    .header("authorization", format!("Bearer {PROJECT}:{KEY}"))
                    .header("content-type", "application/json")
                    .header("x-descope-project-id", PROJECT)
                    .header("x-descope-sdk-name", "descope-mgmt")
                    .header_exists("x-descope-sdk-version")
                    .is_true(move |r: &HttpMockRequest| {
                        r.query_params().len() == expected_query.len()
                    });
                for (k, v) in g["query"].as_object().unwrap() {
                    when = when.query_param(k, v.as_str().unwrap());
                }
                if g["body"].is_null() {
                    when.is_true(|r: &HttpMockRequest| r.body_ref().is_empty());
                } else {
                    when.json_body(g["body"].clone());
                }
                then.status(200).json_body(json!({}));
            })
            .await;
        let answer = t
            .send(&req)
            .await
            .unwrap_or_else(|e| panic!("{name}: the server did not match the golden request: {e}"));
        assert_eq!(answer, json!({}), "{name}");
        assert_eq!(m.calls_async().await, 1, "{name}");
        m.delete_async().await;
    }
}

#[tokio::test]
async fn empty_batches_are_refused_without_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({}));
        })
        .await;
    let e = ep::role_delete_batch(&[], Some("acme")).unwrap_err();
    assert!(
        e.to_string().contains("POST /v1/mgmt/role/delete/batch"),
        "{e}"
    );
    assert!(e.to_string().contains("empty list of role names"), "{e}");
    assert!(ep::role_delete_batch(&[], None).is_err());
    assert!(ep::role_delete_batch(&strings(&["viewer", " "]), None).is_err());
    assert!(ep::permission_delete_batch(&[]).is_err());
    assert!(ep::permission_create_batch(vec![]).is_err());
    assert!(ep::role_update_batch(vec![]).is_err());
    assert!(ep::flow_delete(&[]).is_err());
    assert_eq!(any.calls_async().await, 0);
}

// ------------------------------------------------------------------ reading answers

#[tokio::test]
async fn tenants_are_read_tolerantly_wrapped_or_not() {
    let server = MockServer::start_async().await;
    let t = transport(&server);
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/mgmt/tenant")
                .query_param("id", "wrapped");
            then.status(200)
                .json_body(json!({"tenant": {"id": "wrapped", "name": "W", "brandNew": {"x": 1}}}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/mgmt/tenant")
                .query_param("id", "bare");
            // Default-valued fields left out, one null slice (GO style), an unknown field.
            then.status(200).json_body(json!({
                "id": "bare", "name": "B", "selfProvisioningDomains": null,
                "customAttributes": {"plan": "gold"}, "createdTime": 1716000000, "futureField": true
            }));
        })
        .await;

    let wrapped = t.send(&ep::tenant_load("wrapped")).await.unwrap();
    let raw = wire::tenant_object(&wrapped).unwrap();
    assert_eq!(
        raw["brandNew"],
        json!({"x": 1}),
        "the raw object keeps unknown fields"
    );
    let tenant = wire::tenant_from_load(&wrapped).unwrap();
    assert_eq!((tenant.id.as_str(), tenant.name.as_str()), ("wrapped", "W"));

    let bare = t.send(&ep::tenant_load("bare")).await.unwrap();
    assert_eq!(wire::tenant_object(&bare).unwrap(), bare);
    let tenant = wire::tenant_from_load(&bare).unwrap();
    assert_eq!(tenant.id, "bare");
    assert!(tenant.self_provisioning_domains.is_empty());
    assert_eq!(tenant.custom_attributes["plan"], "gold");
    assert_eq!(tenant.created_time, 1716000000);
    assert!(!tenant.disabled && !tenant.enforce_sso);
    assert_eq!(
        tenant.parent, None,
        "a missing parent is unknown, not empty"
    );
}

#[tokio::test]
async fn lists_are_read_tolerantly_and_raw_objects_kept() {
    let server = MockServer::start_async().await;
    let t = transport(&server);
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/role/all");
            then.status(200).json_body(json!({"roles": [
                {"id": "ROL1", "name": "viewer", "permissionNames": ["a"], "tenantId": "", "x": 1},
                {"name": "auditor", "tenantId": "acme", "default": true, "permissionNames": null}
            ], "extra": 3}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/permission/all");
            then.status(200).json_body(json!({"permissions": [
                {"name": "User Admin", "systemDefault": true}, {"id": "PERM1", "name": "p"}
            ]}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/mgmt/flow/list");
            then.status(200).json_body(json!({"flows": [
                {"id": "sign-in", "name": "Sign in", "version": 4, "etag": "e1",
                 "modifiedTime": 1716000001, "dsl": {"big": true}}
            ], "total": 1}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/tenant/all");
            then.status(200).json_body(json!({"tenants": null}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/tenant/settings");
            then.status(200)
                .json_body(json!({"selfProvisioningDomains": ["acme.com"],
                "JITDisabled": true, "enabled": true, "InactivityTime": 15,
                "ssoSetupSuiteSettings": {"enabled": true}}));
        })
        .await;

    let body = t.send(&ep::role_load_all()).await.unwrap();
    let roles = wire::roles(&body).unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[0].tenant(), None);
    assert_eq!(roles[1].tenant(), Some("acme"));
    assert!(roles[1].default && roles[1].permission_names.is_empty());
    let raw = wire::list_objects(body.clone(), "roles").unwrap();
    assert_eq!(raw[0]["x"], 1, "fingerprints see the whole live object");

    let perms = wire::permissions(&t.send(&ep::permission_load_all()).await.unwrap()).unwrap();
    assert!(perms[0].system_default && !perms[1].system_default);
    assert_eq!(perms[1].id, "PERM1");

    let flows = wire::flows(&t.send(&ep::flow_list()).await.unwrap()).unwrap();
    assert_eq!((flows[0].version, flows[0].etag.as_str()), (4, "e1"));
    assert_eq!(flows[0].modified_time, 1716000001);

    // `null` is how a Go server writes an empty list; a missing list is an error (trust.rs).
    let none = t.send(&ep::tenant_load_all()).await.unwrap();
    assert!(wire::tenants(&none).unwrap().is_empty());

    let s: wire::TenantSettings =
        wire::parse(&t.send(&ep::tenant_load_settings("acme")).await.unwrap()).unwrap();
    assert!(s.jit_disabled && s.enabled);
    assert_eq!(s.inactivity_time, 15);
    assert_eq!(s.self_provisioning_domains, strings(&["acme.com"]));
}

#[tokio::test]
async fn an_empty_success_body_reads_as_an_empty_object() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/delete");
            then.status(200);
        })
        .await;
    let v = transport(&server)
        .send(&ep::tenant_delete("acme", false))
        .await
        .unwrap();
    assert_eq!(v, json!({}));
}

// ------------------------------------------------------------------ errors

#[tokio::test]
async fn descope_errors_keep_code_message_call_and_address() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/mgmt/role/create");
            then.status(400).json_body(json!({
                "errorCode": "E011003", "errorDescription": "Request is invalid",
                "errorMessage": "Role viewer already exists"
            }));
        })
        .await;
    let e = transport(&server)
        .send(&ep::role_create(auditor_role().to_value()))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.error_code(), Some("E011003"));
    let shown = e.to_string();
    for part in [
        "role.acme/auditor",
        "POST /v1/mgmt/role/create",
        "HTTP 400",
        "E011003",
        "Role viewer already exists",
        "Request is invalid",
    ] {
        assert!(shown.contains(part), "`{part}` missing from: {shown}");
    }
    assert!(!e.credentials_hint, "a 400 is not about credentials");
    assert_error_hides_key(&e);
}

#[tokio::test]
async fn non_json_error_bodies_are_tolerated() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/all");
            then.status(502).body(format!(
                "<html><body>Bad gateway {}</body></html>",
                "x".repeat(2000)
            ));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/all");
            then.status(200).body("not json");
        })
        .await;
    let t = transport(&server);
    let e = t.send(&ep::tenant_load_all()).await.unwrap_err();
    assert_eq!(e.status(), Some(502));
    assert_eq!(e.error_code(), None);
    assert!(e.is_ambiguous());
    let shown = e.to_string();
    assert!(
        shown.contains("GET /v1/mgmt/tenant/all failed with HTTP 502: <html>"),
        "{shown}"
    );
    assert!(
        shown.len() < 600,
        "a huge body is shortened: {} chars",
        shown.len()
    );

    let e = t.send(&ep::role_load_all()).await.unwrap_err();
    assert!(matches!(e.kind, ApiErrorKind::Decode(_)), "{e:?}");
    assert!(e.to_string().contains("not json"), "{e}");
}

#[tokio::test]
async fn a_401_on_the_license_call_is_only_a_warning_and_the_first_read_reports_it() {
    // As the SDKs do: the handshake's 401 is logged and ignored; the first real call's 401 is
    // what says the key or project is wrong.
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/license");
            then.status(401)
                .json_body(json!({"errorCode": "E011007", "errorMessage": "Unauthorized"}));
        })
        .await;
    let read = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/all")
                .header_missing("x-descope-license");
            then.status(401).json_body(json!({"errorCode": "E011007"}));
        })
        .await;
    let t = transport(&server);
    assert_eq!(t.handshake().await.unwrap(), None);
    let e = t.send(&ep::tenant_load_all()).await.unwrap_err();
    assert_eq!(read.calls_async().await, 1);
    assert!(e.credentials_hint, "{e}");
    assert!(
        e.to_string()
            .contains("hint: the project id or management key is wrong"),
        "{e}"
    );
    assert_error_hides_key(&e);
}

#[tokio::test]
async fn a_401_on_the_first_read_means_wrong_credentials_but_not_later() {
    let server = MockServer::start_async().await;
    let t = transport(&server);
    let deny = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/all");
            then.status(401).json_body(json!({"errorCode": "E011007"}));
        })
        .await;
    let e = t.send(&ep::tenant_load_all()).await.unwrap_err();
    assert!(e.credentials_hint, "{e}");
    deny.delete_async().await;

    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/all");
            then.status(200).json_body(json!({"tenants": []}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/search");
            then.status(401).json_body(json!({"errorCode": "E011007"}));
        })
        .await;
    t.send(&ep::tenant_load_all()).await.unwrap();
    // Now the key is known to work: a 401 about a tenant role may mean a missing tenant.
    let e = t
        .send(&ep::role_search(json!({"tenantIds": ["gone"]})))
        .await
        .unwrap_err();
    assert!(e.is_unauthorized() && !e.credentials_hint, "{e}");
}

#[tokio::test]
async fn the_license_tier_is_sent_after_a_good_handshake() {
    let server = MockServer::start_async().await;
    let license = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/mgmt/license")
                .header("authorization", format!("Bearer {PROJECT}:{KEY}"))
                .header_missing("x-descope-license");
            then.status(200)
                .json_body(json!({"rateLimitTier": "tier2"}));
        })
        .await;
    let with_tier = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/all")
                .header("x-descope-license", "tier2");
            then.status(200).json_body(json!({"roles": []}));
        })
        .await;
    let t = transport(&server);
    assert_eq!(t.handshake().await.unwrap().as_deref(), Some("tier2"));
    t.send(&ep::role_load_all()).await.unwrap();
    assert_eq!(license.calls_async().await, 1);
    assert_eq!(with_tier.calls_async().await, 1);
}

#[tokio::test]
async fn a_failed_handshake_is_only_a_warning() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/license");
            then.status(500).body("oops");
        })
        .await;
    let without_tier = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/all")
                .header_missing("x-descope-license");
            then.status(200).json_body(json!({"roles": []}));
        })
        .await;
    let t = transport(&server);
    assert_eq!(t.handshake().await.unwrap(), None);
    t.send(&ep::role_load_all()).await.unwrap();
    assert_eq!(without_tier.calls_async().await, 1);
}

#[tokio::test]
async fn rate_limits_timeouts_and_refused_connections_are_classified() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/all");
            then.status(429).header("Retry-After", "7").json_body(json!({
                "errorCode": "E130429", "errorDescription": "https://docs.descope.com/rate-limit",
                "errorMessage": "API rate limit exceeded."
            }));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/all");
            then.status(429);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/permission/all");
            then.status(200)
                .json_body(json!({}))
                .delay(Duration::from_secs(3));
        })
        .await;
    let t = transport_with_timeout(&server, Duration::from_millis(300));

    let e = t.send(&ep::tenant_load_all()).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(e.error_code(), Some("E130429"));
    // A missing Retry-After starts at 1 s and doubles with each such answer in a row
    // (transport.rs unit tests: to a 15 s ceiling, giving up after 5 minutes).
    for secs in [1, 2, 4] {
        let e = t.send(&ep::role_load_all()).await.unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(secs)));
    }

    let e = t.send(&ep::permission_load_all()).await.unwrap_err();
    assert_eq!(e.kind, ApiErrorKind::Timeout);
    assert!(e.is_ambiguous());
    assert_error_hides_key(&e);

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let t = Transport::new(
        Credentials::new(PROJECT, Secret::new(KEY), Some(&url)),
        TransportOptions::default(),
    )
    .unwrap();
    let e = t.send(&ep::tenant_load_all()).await.unwrap_err();
    assert!(matches!(e.kind, ApiErrorKind::Connection(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("GET /v1/mgmt/tenant/all could not connect"),
        "{e}"
    );
    assert_error_hides_key(&e);
}

#[tokio::test]
async fn the_key_never_shows_even_when_the_server_echoes_it() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(403).json_body(json!({
                "errorCode": "E011001",
                "errorMessage": format!("bad token Bearer {PROJECT}:{KEY}"),
                "errorDescription": KEY
            }));
        })
        .await;
    let t = transport(&server);
    let e = t.send(&ep::tenant_load("acme")).await.unwrap_err();
    assert!(e.to_string().contains("bad token"), "{e}");
    assert_error_hides_key(&e);

    let g = gateway(&server, quick_options());
    for shown in [
        format!("{t:?}"),
        format!("{g:?}"),
        format!("{:?}", creds(&server)),
        format!("{:?}", quick_options()),
    ] {
        assert_no_key("Debug", &shown);
    }
    assert!(Transport::new(
        Credentials::new(PROJECT, Secret::new(KEY), Some("ftp://x")),
        TransportOptions::default()
    )
    .map(|_| ())
    .map_err(|e| assert_error_hides_key(&e))
    .is_err());
}

// ------------------------------------------------------------------ gateway
//
// These run on the real clock: on tokio's paused clock the runtime, idle while an answer from
// the mock server's thread is pending, auto-advances to the transport's timeout and the request
// fails with a spurious Timeout. The pacing, pause and backoff arithmetic is tested exactly on
// a paused clock, without sockets, in `src/api/gateway.rs`.

#[tokio::test]
async fn a_429_pauses_every_task_then_retries() {
    let server = MockServer::start_async().await;
    let limited = server
        .mock_async(|when, then| {
            when.is_true(first_n("/v1/mgmt/tenant/all", 1));
            then.status(429)
                .header("Retry-After", "1")
                .json_body(json!({"errorCode": "E130429"}));
        })
        .await;
    let tenants = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/all");
            then.status(200).json_body(json!({"tenants": []}));
        })
        .await;
    let roles = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/all");
            then.status(200).json_body(json!({"roles": []}));
        })
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // One request every 500 ms: the second task's turn comes while the first is locked out.
    let g = gateway(
        &server,
        GatewayOptions {
            rate: "2/1".parse().unwrap(),
            events: Some(tx),
            ..quick_options()
        },
    );
    let start = Instant::now();
    let a = tokio::spawn({
        let g = g.clone();
        async move { g.read(ep::tenant_load_all()).await }
    });
    let b = tokio::spawn({
        let g = g.clone();
        async move {
            let r = g.read(ep::role_load_all()).await;
            (r, start.elapsed())
        }
    });
    a.await.unwrap().unwrap();
    let a_elapsed = start.elapsed();
    let (b_result, b_elapsed) = b.await.unwrap();
    b_result.unwrap();

    assert!(
        a_elapsed >= Duration::from_secs(1),
        "retried after Retry-After: {a_elapsed:?}"
    );
    assert!(
        b_elapsed >= Duration::from_secs(1),
        "the other task honoured the pause too: {b_elapsed:?}"
    );
    assert_eq!(limited.calls_async().await, 1);
    assert_eq!(tenants.calls_async().await, 1);
    assert_eq!(roles.calls_async().await, 1);
    let stats = g.stats();
    assert_eq!(
        (stats.requests, stats.rate_limited, stats.retries),
        (3, 1, 1)
    );
    drop(g);
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert!(
        events.contains(&GatewayEvent::LockedOut {
            retry_after: Duration::from_secs(1)
        }),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_lockout_longer_than_the_cap_fails_with_the_429() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(429).header("Retry-After", "60");
        })
        .await;
    let g = gateway(
        &server,
        GatewayOptions {
            max_lockout_wait: Duration::from_secs(30),
            ..quick_options()
        },
    );
    let e = g.read(ep::tenant_load_all()).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
    assert!(e.to_string().contains("rate limited"), "{e}");
}

#[tokio::test]
async fn a_503_on_a_read_is_retried() {
    let server = MockServer::start_async().await;
    let failing = server
        .mock_async(|when, then| {
            when.is_true(first_n("/v1/mgmt/role/all", 1));
            then.status(503).json_body(json!({"errorCode": "E000000"}));
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/all");
            then.status(200)
                .json_body(json!({"roles": [{"name": "r"}]}));
        })
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let g = gateway(
        &server,
        GatewayOptions {
            events: Some(tx),
            ..quick_options()
        },
    );
    let body = g.read(ep::role_load_all()).await.unwrap();
    assert_eq!(wire::roles(&body).unwrap()[0].name, "r");
    assert_eq!(
        (failing.calls_async().await, ok.calls_async().await),
        (1, 1)
    );
    assert_eq!(g.stats().retries, 1);
    match rx.try_recv().unwrap() {
        GatewayEvent::Retrying { attempt, error, .. } => {
            assert_eq!(attempt, 1);
            assert!(error.contains("HTTP 503"), "{error}");
        }
        other => panic!("expected Retrying, got {other:?}"),
    }
}

#[tokio::test]
async fn retries_stop_at_max_retries() {
    let server = MockServer::start_async().await;
    let failing = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/all");
            then.status(503);
        })
        .await;
    let g = gateway(
        &server,
        GatewayOptions {
            max_retries: 2,
            ..quick_options()
        },
    );
    let e = g.read(ep::role_load_all()).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(failing.calls_async().await, 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start_async().await;
    let missing = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant");
            then.status(404)
                .json_body(json!({"errorCode": "E000404", "errorMessage": "Tenant not found"}));
        })
        .await;
    let g = gateway(&server, quick_options());
    let e = g.read(ep::tenant_load("acme")).await.unwrap_err();
    assert!(e.is_not_found());
    assert!(
        e.to_string()
            .starts_with("tenant.acme: GET /v1/mgmt/tenant failed with HTTP 404 E000404"),
        "{e}"
    );
    assert_eq!(missing.calls_async().await, 1);
}

/// Reads the tenant through the gateway, as the executor's checks do, and records what the
/// server had seen of the write at that moment.
struct TenantExists {
    calls: AtomicUsize,
    writes_seen_at_check: Arc<std::sync::Mutex<Vec<usize>>>,
    write_hits: Box<dyn Fn() -> usize + Send + Sync>,
}

impl OutcomeCheck for TenantExists {
    fn check<'a>(&'a self, gateway: &'a Gateway) -> CheckFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.writes_seen_at_check
                .lock()
                .unwrap()
                .push((self.write_hits)());
            match gateway.read(ep::tenant_load("acme")).await {
                Ok(_) => Ok(CheckResult::Done),
                Err(e) if e.is_not_found() => Ok(CheckResult::NotDone),
                Err(e) => Err(e),
            }
        })
    }
}

/// A shared hit counter for a mock, readable from a synchronous closure.
fn counter_for(
    path: &'static str,
) -> (
    Arc<AtomicUsize>,
    impl Fn(&HttpMockRequest) -> bool + Send + Sync,
) {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    (n, move |r: &HttpMockRequest| {
        if r.uri().path() == path {
            m.fetch_add(1, Ordering::SeqCst);
            true
        } else {
            false
        }
    })
}

fn tenant_exists(writes: Arc<AtomicUsize>) -> TenantExists {
    TenantExists {
        calls: AtomicUsize::new(0),
        writes_seen_at_check: Arc::default(),
        write_hits: Box::new(move || writes.load(Ordering::SeqCst)),
    }
}

#[tokio::test]
async fn an_ambiguous_write_reads_before_retrying_and_stops_when_done() {
    let server = MockServer::start_async().await;
    let (writes, count) = counter_for("/v1/mgmt/tenant/create");
    let create = server
        .mock_async(|when, then| {
            when.method(POST).is_true(count);
            then.status(500).json_body(json!({"errorCode": "E000500"}));
        })
        .await;
    let load = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v1/mgmt/tenant")
                .query_param("id", "acme");
            then.status(200)
                .json_body(json!({"id": "acme", "name": "Acme"}));
        })
        .await;
    let g = gateway(&server, quick_options());
    let check = tenant_exists(writes);
    let outcome = g
        .write(ep::tenant_create(tenant_request().to_value()), &check)
        .await
        .unwrap();
    assert_eq!(outcome, WriteOutcome::AlreadyDone);
    assert_eq!(
        create.calls_async().await,
        1,
        "no second POST once the tenant is seen"
    );
    assert_eq!(load.calls_async().await, 1);
    assert_eq!(check.calls.load(Ordering::SeqCst), 1);
    assert_eq!(*check.writes_seen_at_check.lock().unwrap(), vec![1]);
}

#[tokio::test]
async fn an_ambiguous_write_not_done_is_retried() {
    let server = MockServer::start_async().await;
    let (writes, count) = counter_for("/v1/mgmt/tenant/create");
    let failed = server
        .mock_async(|when, then| {
            when.is_true(first_n("/v1/mgmt/tenant/create", 1))
                .is_true(count);
            then.status(502);
        })
        .await;
    let created = server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/mgmt/tenant/create");
            then.status(200).json_body(json!({"id": "acme"}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/tenant");
            then.status(404).json_body(json!({"errorCode": "E000404"}));
        })
        .await;
    let g = gateway(&server, quick_options());
    let check = tenant_exists(writes);
    let outcome = g
        .write(ep::tenant_create(tenant_request().to_value()), &check)
        .await
        .unwrap();
    assert_eq!(outcome, WriteOutcome::Applied(json!({"id": "acme"})));
    assert_eq!(
        (failed.calls_async().await, created.calls_async().await),
        (1, 1)
    );
    assert_eq!(check.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_duplicate_error_counts_as_success_only_when_the_check_says_done() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST).path("/v1/mgmt/tenant/create");
            then.status(400).json_body(json!({
                "errorCode": "E011003", "errorMessage": "Tenant with this id already exists"
            }));
        })
        .await;
    let load = server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/tenant");
            then.status(200).json_body(json!({"id": "acme"}));
        })
        .await;
    let g = gateway(&server, quick_options());
    let req = ep::tenant_create(tenant_request().to_value());

    let check = tenant_exists(Arc::default());
    assert_eq!(
        g.write(req.clone(), &check).await.unwrap(),
        WriteOutcome::AlreadyDone
    );
    assert_eq!(create.calls_async().await, 1);

    let e = g.write(req.clone(), &NoCheck).await.unwrap_err();
    assert_eq!(e.error_code(), Some("E011003"));
    assert!(
        e.to_string()
            .contains("tenant.acme: POST /v1/mgmt/tenant/create"),
        "{e}"
    );
    assert_eq!(create.calls_async().await, 2, "a 400 is never retried");

    load.delete_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/tenant");
            then.status(404).json_body(json!({"errorCode": "E000404"}));
        })
        .await;
    let e = g.write(req, &check).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(create.calls_async().await, 3);
}

#[tokio::test]
async fn an_empty_window_bursts_and_a_full_one_waits() {
    let server = MockServer::start_async().await;
    let m = server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/permission/all");
            then.status(200).json_body(json!({"permissions": []}));
        })
        .await;
    let g = gateway(
        &server,
        GatewayOptions {
            rate: "4/1".parse().unwrap(),
            ..quick_options()
        },
    );
    // 4 less the margin: three at once, then one window per three more.
    assert_eq!(g.estimate(3), Duration::ZERO);
    assert_eq!(g.estimate(8), Duration::from_secs(2));
    let start = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let g = g.clone();
            tokio::spawn(async move {
                g.read(ep::permission_load_all()).await.unwrap();
                start.elapsed()
            })
        })
        .collect();
    let mut at = Vec::new();
    for t in tasks {
        at.push(t.await.unwrap());
    }
    at.sort();
    assert!(
        at[2] < Duration::from_millis(900),
        "the burst waits for nothing: {at:?}"
    );
    assert!(
        at[3] >= Duration::from_millis(950),
        "the fourth waits a window: {at:?}"
    );
    assert_eq!(m.calls_async().await, 4);
    assert_eq!(g.stats().requests, 4);
}

#[test]
fn rate_budgets_parse_with_clear_errors() {
    let b: RateBudget = "90/60".parse().unwrap();
    assert_eq!((b.requests, b.window), (90, Duration::from_secs(60)));
    assert_eq!("90/60s".parse::<RateBudget>().unwrap(), b);
    let e = "ninety".parse::<RateBudget>().unwrap_err();
    assert!(e.contains("`ninety`") && e.contains("N/SECONDS"), "{e}");
    assert!("0/60".parse::<RateBudget>().is_err());
}

#[tokio::test]
async fn waiting_for_the_budget_is_reported_and_the_handshake_is_paced() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/license");
            then.status(200)
                .json_body(json!({"rateLimitTier": "tier1"}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/all");
            then.status(200)
                .json_body(json!({"tenants": [{"id": "acme", "x": 1}]}));
        })
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let g = gateway(
        &server,
        GatewayOptions {
            rate: "1/1.5".parse().unwrap(),
            events: Some(tx),
            ..quick_options()
        },
    );
    let start = Instant::now();
    assert_eq!(g.handshake().await.unwrap().as_deref(), Some("tier1"));
    let tenants = g.read_list(ep::tenant_load_all(), "tenants").await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(1450),
        "{:?}",
        start.elapsed()
    );
    let tenants: Vec<serde_json::Value> = tenants
        .iter()
        .map(|t| serde_json::from_str(t.get()).unwrap())
        .collect();
    assert_eq!(tenants, vec![json!({"id": "acme", "x": 1})]);
    assert_eq!(g.stats().requests, 2);
    match rx.try_recv().unwrap() {
        GatewayEvent::RateWait { wait } => assert!(wait >= Duration::from_secs(1), "{wait:?}"),
        other => panic!("expected RateWait, got {other:?}"),
    }
}

#[tokio::test]
async fn unexpected_bodies_are_errors_naming_the_call() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/role/all");
            then.status(200).json_body(json!({"roles": 3}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/settings");
            then.status(200).json_body(json!({"enabled": "yes"}));
        })
        .await;
    let g = gateway(&server, quick_options());
    let e = g.read_list(ep::role_load_all(), "roles").await.unwrap_err();
    assert!(matches!(e.kind, ApiErrorKind::Decode(_)));
    assert!(
        e.to_string()
            .contains("GET /v1/mgmt/role/all returned an unexpected body: `roles` is not a list"),
        "{e}"
    );
    let e = g
        .read_as::<wire::TenantSettings>(ep::tenant_load_settings("acme"))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("tenant.acme: GET /v1/mgmt/tenant/settings returned an unexpected body"),
        "{e}"
    );
}

#[test]
fn setup_errors_explain_what_to_fix() {
    let e = Transport::new(
        Credentials::new(PROJECT, Secret::new(KEY), Some("not a url")),
        TransportOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Descope API calls cannot be sent: the base URL `not a url`"),
        "{e}"
    );
    let e = Transport::new(
        Credentials::new("", Secret::new(KEY), Some("http://127.0.0.1:1")),
        TransportOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("DESCOPE_PROJECT_ID"), "{e}");
    assert_error_hides_key(&e);
}

#[tokio::test]
async fn a_timed_out_write_is_checked_not_blindly_repeated() {
    let server = MockServer::start_async().await;
    let (writes, count) = counter_for("/v1/mgmt/role/create");
    let create = server
        .mock_async(|when, then| {
            when.method(POST).is_true(count);
            then.status(200)
                .json_body(json!({}))
                .delay(Duration::from_secs(1));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v1/mgmt/tenant");
            then.status(200).json_body(json!({"id": "acme"}));
        })
        .await;
    let g = Gateway::new(
        transport_with_timeout(&server, Duration::from_millis(300)),
        quick_options(),
    );
    let check = tenant_exists(writes);
    let outcome = g
        .write(ep::role_create(viewer_role().to_value()), &check)
        .await
        .unwrap();
    assert_eq!(outcome, WriteOutcome::AlreadyDone);
    assert_eq!(create.calls_async().await, 1);
    assert_eq!(*check.writes_seen_at_check.lock().unwrap(), vec![1]);
}

/// Collects everything logged on this thread, dependencies included.
#[derive(Clone, Default)]
struct LogSink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_key_never_shows_in_log_lines() {
    let sink = LogSink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let sink = sink.clone();
            move || sink.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/license");
            then.status(500).body(format!("echo {KEY}"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.is_true(first_n("/v1/mgmt/tenant/all", 1));
            then.status(503).body(format!("echo {KEY}"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.path("/v1/mgmt/tenant/all");
            then.status(200).json_body(json!({"tenants": []}));
        })
        .await;
    let g = gateway(&server, quick_options());
    assert_eq!(g.handshake().await.unwrap(), None);
    g.read(ep::tenant_load_all()).await.unwrap();

    let logged = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("license handshake failed"), "{logged}");
    assert!(logged.contains("retrying"), "{logged}");
    assert!(logged.contains("/v1/mgmt/tenant/all"), "{logged}");
    assert_no_key("a log line", &logged);
}
