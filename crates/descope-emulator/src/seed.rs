//! What a fresh Descope project holds (docs/design.md §3): the system permissions, the built-in
//! roles, a few built-in flows with v1 documents, and a theme.

use rand::rngs::StdRng;
use serde_json::{json, Value};

use super::data::{Flow, Permission, ProjectData, ProjectInfo, Role, Theme};
use super::ops::{flows_etag, Ctx};

/// Permissions a fresh Descope project ships with (`systemDefault: true`). Descope's seed data,
/// kept here rather than shared with any client: a client's idea of the built-ins must be checked
/// against this, not derived from it. The exact set is unverified (docs/descope-api.md §5).
pub const SYSTEM_PERMISSIONS: &[&str] = &["Impersonate", "SSO Admin", "User Admin"];

/// Roles a fresh Descope project ships with.
pub const BUILTIN_ROLES: &[&str] = &["Tenant Admin"];

const BUILTIN_FLOWS: &[(&str, &str, &str)] = &[
    (
        "sign-up-or-in",
        "Sign Up or In",
        "Sign a user in, or sign them up when new",
    ),
    ("sign-in", "Sign In", "Sign in an existing user"),
    ("sign-up", "Sign Up", "Sign up a new user"),
    (
        "step-up",
        "Step Up",
        "Re-authenticate a signed-in user for a sensitive action",
    ),
];

pub fn fresh_project(rng: &mut StdRng, now: i64) -> ProjectData {
    let mut ctx = Ctx {
        now,
        strict: true,
        omit_defaults: false,
        rng,
    };
    let permissions = SYSTEM_PERMISSIONS
        .iter()
        .map(|name| Permission {
            id: ctx.new_id("PERM"),
            name: name.to_string(),
            description: format!("Built-in permission: {name}"),
            system_default: true,
        })
        .collect();
    let roles = BUILTIN_ROLES
        .iter()
        .map(|name| Role {
            id: ctx.new_id("ROL"),
            name: name.to_string(),
            description: "Built-in role: administers users and SSO of its tenant".into(),
            // Only the tenant-administration permissions, never Impersonate.
            permission_names: ["User Admin", "SSO Admin"]
                .into_iter()
                .filter(|p| SYSTEM_PERMISSIONS.contains(p))
                .map(String::from)
                .collect(),
            created_time: now,
            ..Default::default()
        })
        .collect();
    let flows = BUILTIN_FLOWS
        .iter()
        .map(|(id, name, description)| builtin_flow(&mut ctx, id, name, description))
        .collect();
    ProjectData {
        tenants: Vec::new(),
        roles,
        permissions,
        flows,
        theme: Theme {
            id: "theme".into(),
            version: 1,
            css_template: theme_template(),
            components_version: "1.0.0".into(),
            code_mode: false,
            references: json!({}),
        },
        password_settings: Default::default(),
        lists: Vec::new(),
        sso: Vec::new(),
        fga_schema: Default::default(),
        project: ProjectInfo {
            name: "Emulated project".into(),
            ..Default::default()
        },
        outbound_apps: Vec::new(),
        access_keys: Vec::new(),
        sso_apps: Vec::new(),
        third_party_apps: Vec::new(),
    }
}

fn builtin_flow(ctx: &mut Ctx, id: &str, name: &str, description: &str) -> Flow {
    let welcome = ctx.new_id("SC");
    let verify = ctx.new_id("SC");
    let dsl = json!({
        "startTask": "1",
        "tasks": {
            "1": {"id": "1", "type": "screen", "screenId": welcome, "next": {"submit": "2"}},
            "2": {"id": "2", "type": "action", "action": "otp.email.signUpOrIn", "next": {"success": "3"}},
            "3": {"id": "3", "type": "screen", "screenId": verify, "next": {"submit": "4"}},
            "4": {"id": "4", "type": "action", "action": "otp.email.verify", "next": {"success": "5", "failure": "3"}},
            "5": {"id": "5", "type": "end"}
        }
    });
    let screens = vec![
        screen(id, &welcome, "Welcome", &["email"], "submit"),
        screen(id, &verify, "Enter the code we sent", &["code"], "verify"),
    ];
    let mut flow = Flow {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        disabled: false,
        version: 1,
        etag: String::new(),
        modified_time: ctx.now,
        components_version: "1.0.0".into(),
        fingerprint: String::new(),
        dsl,
        screens,
        references: json!({}),
    };
    flow.etag = flows_etag(&flow);
    flow
}

fn screen(flow_id: &str, screen_id: &str, title: &str, inputs: &[&str], button: &str) -> Value {
    let fields: Vec<Value> = inputs
        .iter()
        .map(|i| json!({"type": "input", "name": i, "required": true}))
        .collect();
    json!({
        "id": screen_id,
        "flowId": flow_id,
        "inputs": inputs.iter().map(|i| json!({"name": i, "type": "string"})).collect::<Vec<_>>(),
        "interactions": [{"id": button, "type": "button", "label": "Continue"}],
        "htmlTemplate": {
            "type": "container",
            "children": [
                {"type": "text", "value": title},
                {"type": "form", "children": fields},
                {"type": "button", "id": button, "value": "Continue"}
            ]
        }
    })
}

fn theme_template() -> Value {
    json!({
        "light": {
            "globals": {"typography": {"fontFamily": "Roboto, sans-serif"}},
            "components": {"button": {"primary": {"background": "#006af5", "color": "#ffffff"}}}
        },
        "dark": {
            "globals": {"typography": {"fontFamily": "Roboto, sans-serif"}},
            "components": {"button": {"primary": {"background": "#4c9bff", "color": "#0b0b0b"}}}
        }
    })
}
