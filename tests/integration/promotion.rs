//! Environment promotion end to end (issue 10's "done when"): a project built by hand through
//! the Management API, the way the console and scripts build one, with every kind the tool
//! manages → `export` → the exported configuration applied to a blank project reproduces every
//! object field by field (generated ids matched by name, secrets set from the environment) →
//! `plan --detailed-exitcode` exits 0 → a console change to one SSO configuration makes `drift`
//! exit 2 naming it.
//!
//! The source project is built over HTTP with the wire bodies of docs/descope-api.md, never
//! through the emulator's internals, and both projects are compared through the same loads, so
//! the test holds whatever the emulator keeps inside.

use std::collections::BTreeSet;
use std::process::Output;

use descope_emulator::EmulatorOptions;
use serde_json::{json, Value};

use crate::util::TestEnv;

/// A console: the Management API of one emulator, as a script would call it.
struct Console {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Console {
    fn of(w: &TestEnv) -> Console {
        Console {
            http: reqwest::Client::new(),
            base: w.emu().base_url(),
            auth: format!(
                "Bearer {}:{}",
                w.emu().project_id(),
                w.emu().management_key()
            ),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("Authorization", &self.auth);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let res = req.send().await.expect("emulator answers");
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(
            status.is_success(),
            "{method} {path} {body:?} -> {status}: {text}"
        );
        if text.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }
}

/// Self-signed, valid until 2126 (no key kept).
const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBijCCAS+gAwIBAgIUb1jylB+JFFjqAt8YLf4kPSoX40YwCgYIKoZIzj0EAwIw\nGTEXMBUGA1UEAwwOcHJvbW90aW9uLXRlc3QwIBcNMjYxMTI2MTczMjA5WhgPMjEy\nNjExMDIxNzMyMDlaMBkxFzAVBgNVBAMMDnByb21vdGlvbi10ZXN0MFkwEwYHKoZI\nzj0CAQYIKoZIzj0DAQcDQgAEk4Erpp0Puup8U5FuaqXychxPYz2JlyyecK3JK5li\n/RWVs8Bq2ShrO4GA92+0AymLfIbd4KdG3MM+arGlfv3QwaNTMFEwHQYDVR0OBBYE\nFF//Lcsz+H2ZzjC8EuWKF0hBLx0AMB8GA1UdIwQYMBaAFF//Lcsz+H2ZzjC8EuWK\nF0hBLx0AMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAI8QIUZh\n9QP11YQwFrEwTVUn3cFY+9OLUuWKRoCwMcWhAiEA/QbpBSXMd4cfgAOw70ErRGa3\n6akkLy89d9Un+N6h2ec=\n-----END CERTIFICATE-----\n";
const OIDC_SECRET: &str = "oidc-client-secret-value-9f2c";
const OUTBOUND_SECRET: &str = "outbound-client-secret-value-77ab";
const FGA_DSL: &str =
    "model AuthZ 1.0\n\ntype user\n\ntype doc\n  relation owner: user\n  relation viewer: user\n";

/// Every kind, built by hand.
async fn build_by_hand(c: &Console) {
    // Permissions and roles.
    for (name, description) in [("docs.read", "Read documents"), ("docs.write", "Write")] {
        c.post(
            "/v1/mgmt/permission/create",
            json!({"name": name, "description": description}),
        )
        .await;
    }
    c.post(
        "/v1/mgmt/role/create",
        json!({"name": "Admin", "description": "Everything", "permissionNames": ["docs.read", "docs.write"]}),
    )
    .await;
    c.post(
        "/v1/mgmt/role/create",
        json!({"name": "Viewer", "description": "Reads", "permissionNames": ["docs.read"]}),
    )
    .await;

    // Tenants, their session settings and password policies.
    c.post(
        "/v1/mgmt/tenant/create",
        json!({"id": "acme", "name": "Acme", "selfProvisioningDomains": ["acme.com"]}),
    )
    .await;
    c.post(
        "/v1/mgmt/tenant/create",
        json!({"id": "globex", "name": "Globex", "selfProvisioningDomains": []}),
    )
    .await;
    c.post(
        "/v1/mgmt/tenant/settings",
        json!({"tenantId": "acme", "selfProvisioningDomains": ["acme.com"], "enabled": true,
               "sessionTokenExpiration": 30, "sessionTokenExpirationUnit": "minutes",
               "refreshTokenExpiration": 14, "refreshTokenExpirationUnit": "days"}),
    )
    .await;
    c.post(
        "/v1/mgmt/password/settings",
        json!({"tenantId": "", "enabled": true, "minLength": 12, "uppercase": true,
               "number": true, "lock": true, "lockAttempts": 5}),
    )
    .await;
    c.post(
        "/v1/mgmt/password/settings",
        json!({"tenantId": "globex", "enabled": true, "minLength": 16, "nonAlphanumeric": true}),
    )
    .await;

    // Lists.
    c.post(
        "/v1/mgmt/list",
        json!({"name": "office", "type": "ips", "description": "Office ranges",
               "data": ["10.0.0.0/8", "192.168.1.7"]}),
    )
    .await;
    c.post(
        "/v1/mgmt/list",
        json!({"name": "blocked-words", "type": "texts", "data": ["spam"]}),
    )
    .await;

    // SSO: acme's default SAML, a second OIDC configuration, globex's SAML by metadata.
    c.post(
        "/v1/mgmt/sso/saml",
        json!({"tenantId": "acme",
               "settings": {"idpUrl": "https://acme.okta.example/sso/saml",
                            "entityId": "http://www.okta.com/acme", "idpCert": CERT,
                            "attributeMapping": {"email": "mail", "name": "displayName", "group": "groups"},
                            "roleMappings": [{"groups": ["admins"], "roleName": "Admin"}],
                            "defaultSSORoles": ["Viewer"], "disableSignRequest": true},
               "redirectUrl": "https://app.example.com/sso/done", "domains": ["acme.com"]}),
    )
    .await;
    c.post(
        "/v1/mgmt/sso/settings/new",
        json!({"tenantId": "acme", "displayName": "Acme Google", "ssoId": "google"}),
    )
    .await;
    c.post(
        "/v1/mgmt/sso/oidc",
        json!({"tenantId": "acme", "ssoId": "google",
               "settings": {"name": "Google", "clientId": "acme-google-client",
                            "clientSecret": OIDC_SECRET,
                            "authUrl": "https://accounts.google.com/o/oauth2/v2/auth",
                            "tokenUrl": "https://oauth2.googleapis.com/token",
                            "userDataUrl": "https://openidconnect.googleapis.com/v1/userinfo",
                            "JWKsUrl": "https://www.googleapis.com/oauth2/v3/certs",
                            "scope": ["openid", "email", "profile"],
                            "userAttrMapping": {"loginId": "sub", "email": "email"},
                            "usePkce": true},
               "domains": ["acme.io"]}),
    )
    .await;
    c.post(
        "/v1/mgmt/sso/saml/metadata",
        json!({"tenantId": "globex",
               "settings": {"idpMetadataUrl": "https://globex.idp.example/metadata.xml",
                            "attributeMapping": {"email": "email"}, "disableSignRequest": false},
               "redirectUrl": "https://app.example.com/sso/done", "domains": ["globex.com"]}),
    )
    .await;

    // Applications: Descope as the IdP, third-party and outbound.
    c.post(
        "/v1/mgmt/sso/idp/app/oidc/create",
        json!({"id": "portal", "name": "Portal", "description": "Customer portal",
               "loginPageUrl": "https://portal.example.com/login", "enabled": true}),
    )
    .await;
    c.post(
        "/v1/mgmt/sso/idp/app/saml/create",
        json!({"id": "wiki", "name": "Wiki", "loginPageUrl": "https://wiki.example.com/login",
               "enabled": true, "useMetadataInfo": false, "entityId": "https://wiki.example.com",
               "acsUrl": "https://wiki.example.com/saml/acs", "certificate": CERT}),
    )
    .await;
    c.post(
        "/v1/mgmt/thirdparty/app/create",
        json!({"name": "Partner", "description": "A partner's app",
               "loginPageUrl": "https://partner.example.com/login",
               "approvedCallbackUrls": ["https://partner.example.com/cb"]}),
    )
    .await;
    c.post(
        "/v1/mgmt/outbound/app/create",
        json!({"id": "gcal", "name": "Google Calendar", "clientId": "gcal-client",
               "clientSecret": OUTBOUND_SECRET,
               "authorizationUrl": "https://accounts.google.com/o/oauth2/v2/auth",
               "tokenUrl": "https://oauth2.googleapis.com/token",
               "defaultScopes": ["https://www.googleapis.com/auth/calendar"]}),
    )
    .await;

    // An access key, the FGA schema, the project.
    c.post(
        "/v1/mgmt/accesskey/create",
        json!({"name": "ci-bot", "expireTime": 0, "roleNames": ["Viewer"],
               "keyTenants": [], "description": "CI", "permittedIps": ["10.0.0.0/8"]}),
    )
    .await;
    c.post("/v1/mgmt/fga/schema", json!({"dsl": FGA_DSL})).await;
    c.post(
        "/v1/mgmt/project/update/name",
        json!({"name": "Promotion source"}),
    )
    .await;
    c.post(
        "/v1/mgmt/project/update/tags",
        json!({"tags": ["b2b", "eu"]}),
    )
    .await;
}

/// What a field-by-field comparison should not see: values Descope generates per project or per
/// object (ids it chose, times, client ids, the project id inside server-computed URLs).
fn normalize(v: &mut Value, drop: &[&str], project: &str) {
    match v {
        Value::Object(m) => {
            for k in drop {
                m.remove(*k);
            }
            for x in m.values_mut() {
                normalize(x, drop, project);
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                normalize(x, drop, project);
            }
            // Order of a collection is not a field.
            a.sort_by_key(|x| x.to_string());
        }
        Value::String(s) if !project.is_empty() && s.contains(project) => {
            *s = s.replace(project, "<project>");
        }
        _ => {}
    }
}

/// Every object of every kind, as the API loads it.
async fn snapshot(c: &Console, project: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut take = |what: &str, mut v: Value, drop: &[&str]| {
        normalize(&mut v, drop, project);
        out.push((what.to_string(), v));
    };
    let generated = ["id", "createdTime"];
    take(
        "permissions",
        c.get("/v1/mgmt/permission/all").await["permissions"].clone(),
        &generated,
    );
    take(
        "roles",
        c.get("/v1/mgmt/role/all").await["roles"].clone(),
        &generated,
    );
    take(
        "tenants",
        c.get("/v1/mgmt/tenant/all").await["tenants"].clone(),
        &["createdTime"],
    );
    for t in ["acme", "globex"] {
        take(
            &format!("tenant settings {t}"),
            c.get(&format!("/v1/mgmt/tenant/settings?id={t}")).await,
            &[],
        );
        take(
            &format!("password policy {t}"),
            c.get(&format!("/v1/mgmt/password/settings?tenantId={t}"))
                .await,
            &[],
        );
        take(
            &format!("sso {t}"),
            c.get(&format!("/v2/mgmt/sso/settings/all?tenantId={t}"))
                .await,
            // Role ids in group mappings are the project's own.
            &["lastSuccessTestTime", "id", "createdTime"],
        );
    }
    take(
        "password policy",
        c.get("/v1/mgmt/password/settings?tenantId=").await,
        &[],
    );
    take(
        "lists",
        c.get("/v1/mgmt/list/all").await["lists"].clone(),
        &generated,
    );
    take(
        "sso apps",
        c.get("/v1/mgmt/sso/idp/apps/load").await["apps"].clone(),
        &[],
    );
    take(
        "third-party apps",
        c.get("/v1/mgmt/thirdparty/apps/load").await["apps"].clone(),
        &["id", "clientId"],
    );
    take(
        "outbound apps",
        c.get("/v1/mgmt/outbound/apps").await["apps"].clone(),
        &[],
    );
    take(
        "access keys",
        c.post("/v1/mgmt/accesskey/search", json!({"tenantIds": []}))
            .await["keys"]
            .clone(),
        &["id", "createdTime", "clientId", "createdBy"],
    );
    take(
        "fga schema",
        c.get("/v1/mgmt/fga/schema").await["dsl"].clone(),
        &[],
    );
    let mut projects = c.post("/v1/mgmt/projects/list", json!({})).await["projects"].clone();
    if let Some(list) = projects.as_array_mut() {
        list.retain(|p| p["id"] == project);
    }
    take("project", projects, &["id"]);
    out
}

fn run_ok(w: &TestEnv, args: &[&str]) -> Output {
    let out = w.cmd(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The `${secret:VAR}` names an exported configuration asks for.
fn secret_variables(yaml: &str) -> BTreeSet<String> {
    yaml.split("${secret:")
        .skip(1)
        .filter_map(|rest| rest.split('}').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn a_project_built_by_hand_is_exported_promoted_to_a_blank_one_and_drift_sees_the_console() {
    let source = TestEnv::start_blocking(EmulatorOptions::default());
    let mut target = TestEnv::start_blocking(EmulatorOptions::default());
    let source_console = Console::of(&source);
    let target_console = Console::of(&target);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(build_by_hand(&source_console));

    // Export the source.
    source.write_config("version: 1\nsettings: {rate_limit: 1000/1}\n");
    let mut outputs = vec![run_ok(&source, &["export", "--out", "exp"])];
    let yaml = std::fs::read_to_string(source.path("exp/descope.yaml")).unwrap();
    for secret in [OIDC_SECRET, OUTBOUND_SECRET] {
        assert!(!yaml.contains(secret), "export leaks a secret:\n{yaml}");
    }

    // The exported files become the target's configuration; its secrets come from the
    // environment, as a team's CI sets them.
    copy_dir(&source.path("exp"), target.root());
    assert!(target.path("descope.yaml").exists());
    // It carries the source's settings (the fast rate budget included) as they are.
    // The management key's variable is already set, to the target's key.
    let secrets: BTreeSet<String> = secret_variables(&yaml)
        .into_iter()
        .filter(|v| !target.vars.contains_key(v))
        .collect();
    assert!(
        secrets.len() >= 2,
        "the OIDC and outbound client secrets are exported as variables: {secrets:?}\n{yaml}"
    );
    for var in &secrets {
        let value = if var.contains("GCAL") || var.contains("OUTBOUND") {
            OUTBOUND_SECRET
        } else {
            OIDC_SECRET
        };
        target.vars.insert(var.clone(), value.to_string());
    }
    outputs.push(run_ok(&target, &["plan", "-out", "plans/promote.plan"]));
    outputs.push(run_ok(
        &target,
        &["apply", "plans/promote.plan", "--access-key-out", "keys"],
    ));

    // Field by field, the same project.
    let a = rt.block_on(snapshot(&source_console, source.emu().project_id()));
    let b = rt.block_on(snapshot(&target_console, target.emu().project_id()));
    for ((what, left), (_, right)) in a.iter().zip(&b) {
        assert_eq!(
            left,
            right,
            "{what} differ:\nsource {}\ntarget {}",
            serde_json::to_string_pretty(left).unwrap(),
            serde_json::to_string_pretty(right).unwrap()
        );
    }
    // The write-only secrets went in from the environment.
    let stored = serde_json::to_string(&target.emu().data()).unwrap();
    for secret in [OIDC_SECRET, OUTBOUND_SECRET] {
        assert!(stored.contains(secret), "the target holds {secret}");
    }
    // The new access key's cleartext went to the named directory only.
    let key_file = target.path("keys/ci-bot.key");
    assert!(key_file.exists(), "the key's cleartext is written");

    // Nothing left to do.
    let out = run_ok(&target, &["plan", "--detailed-exitcode"]);
    outputs.push(out);

    // No secret value in anything either side wrote (plans, state, backups, journals, audit
    // logs, the export) or printed, except the key file the user named.
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    for env in [&source, &target] {
        let mut files = Vec::new();
        crate::util::files_under(env.root(), &mut files);
        for file in files {
            if file == key_file {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for secret in [OIDC_SECRET, OUTBOUND_SECRET, key_text.trim()] {
                assert!(!text.contains(secret), "{} holds a secret", file.display());
            }
        }
    }
    for out in &outputs {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [OIDC_SECRET, OUTBOUND_SECRET, key_text.trim()] {
            assert!(!text.contains(secret), "output holds a secret:\n{text}");
        }
    }

    // A console change to one SSO configuration is drift, named.
    rt.block_on(target_console.post(
        "/v1/mgmt/sso/oidc",
        json!({"tenantId": "acme", "ssoId": "google",
               "settings": {"name": "Google", "clientId": "acme-google-client",
                            "authUrl": "https://accounts.google.com/o/oauth2/v2/auth",
                            "tokenUrl": "https://oauth2.googleapis.com/token",
                            "userDataUrl": "https://openidconnect.googleapis.com/v1/userinfo",
                            "JWKsUrl": "https://www.googleapis.com/oauth2/v3/certs",
                            "scope": ["openid", "email"],
                            "userAttrMapping": {"loginId": "sub", "email": "email"},
                            "usePkce": true},
               "domains": ["acme.io"]}),
    ));
    let out = target.cmd(&["drift"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for secret in [OIDC_SECRET, OUTBOUND_SECRET] {
        assert!(!text.contains(secret) && !String::from_utf8_lossy(&out.stderr).contains(secret));
    }
    assert_eq!(
        out.status.code(),
        Some(2),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("tenant_sso.acme/google"), "{text}");
    assert!(!text.contains("tenant_sso.acme/default"), "{text}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}
