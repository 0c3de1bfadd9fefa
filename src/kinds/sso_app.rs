//! SSO applications, Descope as the identity provider (`sso_app.<id>`), written under a
//! top-level `sso_apps:` section (docs/descope-api.md §13). The caller chooses each app's id,
//! so the config's `id` is the address key and the id Descope uses. An app is OIDC (an
//! `oidc:` block) or SAML (a `saml:` block); the two have different create and update calls,
//! so switching between them is a replace, as is a change of the OIDC `client_id`, which
//! Descope takes only at creation. Updates are full overrides: the body is the live app with
//! the managed fields replaced, never carrying the create-only client id.
//!
//! The application secret is Descope's: it comes from the secret call whenever asked, and this
//! kind never asks. Nothing the tool reads, plans, exports or backs up holds it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::entries::{self, config_struct, UniqueField};
use super::fields;
use super::{Fields, KeyedCalls, KindInfo, ListCall, LiveContext, Reference, ResourceKind, Spec};
use crate::api::endpoints;
use crate::config::checks::ConfigCheck;
use crate::config::exported::Exported;
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::builtin::is_builtin_role;
use crate::model::{Address, Kind};
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, LiveGraph, LiveSnapshot};
use crate::resource::{DesiredResource, LiveResource};

pub struct SsoAppKind;

pub const KIND: Kind = Kind::named("sso_app");

/// Where a field sits in a loaded app: at the top, or inside its `oidcSettings` /
/// `samlSettings`. Requests are flat: every field at the top.
#[derive(Clone, Copy, PartialEq)]
enum At {
    Top,
    Settings,
}

/// Which flavour a field belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Flavour {
    Both,
    Oidc,
    Saml,
}

/// (config name, wire name, where a load puts it, flavour, value when a load leaves it out)
type FieldDef = (&'static str, &'static str, At, Flavour, fn() -> Value);

const FIELDS: &[FieldDef] = &[
    ("name", "name", At::Top, Flavour::Both, || json!("")),
    ("description", "description", At::Top, Flavour::Both, || {
        json!("")
    }),
    ("enabled", "enabled", At::Top, Flavour::Both, || {
        json!(false)
    }),
    ("logo", "logo", At::Top, Flavour::Both, || json!("")),
    (
        "custom_attributes",
        "customAttributes",
        At::Top,
        Flavour::Both,
        || json!({}),
    ),
    (
        "login_page_url",
        "loginPageUrl",
        At::Settings,
        Flavour::Both,
        || json!(""),
    ),
    (
        "force_authentication",
        "forceAuthentication",
        At::Settings,
        Flavour::Both,
        || json!(false),
    ),
    ("client_id", "clientId", At::Settings, Flavour::Oidc, || {
        json!("")
    }),
    (
        "client_type",
        "clientType",
        At::Settings,
        Flavour::Oidc,
        || json!(""),
    ),
    (
        "approved_redirect_urls",
        "approvedRedirectUrls",
        At::Settings,
        Flavour::Oidc,
        || json!([]),
    ),
    (
        "force_pkce",
        "forcePkce",
        At::Settings,
        Flavour::Oidc,
        || json!(false),
    ),
    (
        "default_audience",
        "defaultAudience",
        At::Settings,
        Flavour::Oidc,
        || json!(""),
    ),
    (
        "back_channel_logout_url",
        "backChannelLogoutUrl",
        At::Settings,
        Flavour::Oidc,
        || json!(""),
    ),
    (
        "authorization_code_disabled",
        "authorizationCodeDisabled",
        At::Settings,
        Flavour::Oidc,
        || json!(false),
    ),
    (
        "client_credentials_disabled",
        "clientCredentialsDisabled",
        At::Settings,
        Flavour::Oidc,
        || json!(false),
    ),
    (
        "refresh_token_disabled",
        "refreshTokenDisabled",
        At::Settings,
        Flavour::Oidc,
        || json!(false),
    ),
    (
        "jwt_bearer_disabled",
        "jwtBearerDisabled",
        At::Settings,
        Flavour::Oidc,
        || json!(false),
    ),
    (
        "device_code_disabled",
        "deviceCodeDisabled",
        At::Settings,
        Flavour::Oidc,
        || json!(false),
    ),
    (
        "use_metadata_info",
        "useMetadataInfo",
        At::Settings,
        Flavour::Saml,
        || json!(false),
    ),
    (
        "metadata_url",
        "metadataUrl",
        At::Settings,
        Flavour::Saml,
        || json!(""),
    ),
    ("entity_id", "entityId", At::Settings, Flavour::Saml, || {
        json!("")
    }),
    ("acs_url", "acsUrl", At::Settings, Flavour::Saml, || {
        json!("")
    }),
    (
        "certificate",
        "certificate",
        At::Settings,
        Flavour::Saml,
        || json!(""),
    ),
    (
        "attribute_mapping",
        "attributeMapping",
        At::Settings,
        Flavour::Saml,
        || json!([]),
    ),
    (
        "groups_mapping",
        "groupsMapping",
        At::Settings,
        Flavour::Saml,
        || json!([]),
    ),
    (
        "acs_allowed_callbacks",
        "acsAllowedCallbacks",
        At::Settings,
        Flavour::Saml,
        || json!([]),
    ),
    (
        "subject_name_id_type",
        "subjectNameIdType",
        At::Settings,
        Flavour::Saml,
        || json!(""),
    ),
    (
        "subject_name_id_format",
        "subjectNameIdFormat",
        At::Settings,
        Flavour::Saml,
        || json!(""),
    ),
    (
        "default_relay_state",
        "defaultRelayState",
        At::Settings,
        Flavour::Saml,
        || json!(""),
    ),
    (
        "logout_redirect_url",
        "logoutRedirectUrl",
        At::Settings,
        Flavour::Saml,
        || json!(""),
    ),
    (
        "default_signature_algorithm",
        "defaultSignatureAlgorithm",
        At::Settings,
        Flavour::Saml,
        || json!(""),
    ),
];

/// Settings a load shows and an update request carries although the config does not manage
/// them (kept as read, so a full-override update does not clear them).
const CARRIED_OIDC: &[&str] = &["jwtBearerSettings"];

const CALLS: KeyedCalls = KeyedCalls {
    create: endpoints::sso_app_create,
    update: endpoints::sso_app_update,
    delete: endpoints::sso_app_delete,
};

const INFO: KindInfo = KindInfo::new(
    KIND,
    "SSO applications",
    &[
        "type",
        "name",
        "description",
        "enabled",
        "logo",
        "custom_attributes",
        "login_page_url",
        "force_authentication",
        "client_id",
        "client_type",
        "approved_redirect_urls",
        "force_pkce",
        "default_audience",
        "back_channel_logout_url",
        "authorization_code_disabled",
        "client_credentials_disabled",
        "refresh_token_disabled",
        "jwt_bearer_disabled",
        "device_code_disabled",
        "use_metadata_info",
        "metadata_url",
        "entity_id",
        "acs_url",
        "certificate",
        "attribute_mapping",
        "groups_mapping",
        "acs_allowed_callbacks",
        "subject_name_id_type",
        "subject_name_id_format",
        "default_relay_state",
        "logout_redirect_url",
        "default_signature_algorithm",
    ],
);

const SECTION: ConfigSection = ConfigSection {
    within: None,
    key: "sso_apps",
    schema: || serde_json::to_value(schemars::schema_for!(Vec<SsoAppConfig>)).unwrap_or_default(),
};

/// The snapshot's name for the apps list (the answer's array is `apps`, a key other
/// application calls share).
const LIST: &str = "sso_apps";

const ID: UniqueField<SsoAppConfig> = UniqueField {
    value: |c| &c.id,
    field: "id",
    usable: |id| !id.trim().is_empty() && !id.contains(char::is_whitespace) && !id.contains('/'),
    unusable: "`{}` is not a usable SSO application id",
    unusable_hint: Some("an id is a non-empty word without spaces or `/`"),
    twice: "SSO application `{}` is declared twice",
    twice_hint: None,
};

const NAME: UniqueField<SsoAppConfig> = UniqueField::name(
    |c| &c.name,
    "an SSO application needs a name",
    "two SSO applications are named `{}`",
    Some("Descope requires SSO application names to be unique"),
);

config_struct! {
    /// One entry of `sso_apps:`.
    pub struct SsoAppConfig {
        /// The app's id in Descope, chosen here; the address is `sso_app.<id>`.
        pub id: String,
        pub name: String,
        ;
        pub description: String,
        pub enabled: bool,
        pub logo: String,
        /// Per-app custom attribute values, by attribute name.
        pub custom_attributes: Map<String, Value>,
        pub login_page_url: String,
        pub force_authentication: bool,
        /// An OIDC application (exactly one of `oidc` and `saml`).
        pub oidc: SsoAppOidcConfig,
        /// A SAML application (exactly one of `oidc` and `saml`).
        pub saml: SsoAppSamlConfig,
    }
    protect = " Plans that would delete this app are errors.";
}

config_struct! {
    pub struct SsoAppOidcConfig {
        ;
        /// Set only at creation (importing an existing OIDC client); a change is a replace.
        /// Absent: Descope computes one.
        pub client_id: String,
        /// `confidential` or `public`; empty keeps Descope's legacy behaviour.
        pub client_type: String,
        pub approved_redirect_urls: Vec<String>,
        pub force_pkce: bool,
        /// `projectId`, `clientId`, or empty (both).
        pub default_audience: String,
        pub back_channel_logout_url: String,
        pub authorization_code_disabled: bool,
        pub client_credentials_disabled: bool,
        pub refresh_token_disabled: bool,
        pub jwt_bearer_disabled: bool,
        pub device_code_disabled: bool,
    }
}

config_struct! {
    pub struct SsoAppSamlConfig {
        ;
        /// Read the service provider's settings from `metadata_url`.
        pub use_metadata_info: bool,
        pub metadata_url: String,
        pub entity_id: String,
        pub acs_url: String,
        /// The service provider's certificate (PEM).
        pub certificate: String,
        pub attribute_mapping: Vec<SsoAppAttribute>,
        pub groups_mapping: Vec<SsoAppGroup>,
        pub acs_allowed_callbacks: Vec<String>,
        pub subject_name_id_type: String,
        pub subject_name_id_format: String,
        pub default_relay_state: String,
        pub logout_redirect_url: String,
        /// `sha256`, or empty for Descope's default.
        pub default_signature_algorithm: String,
    }
}

/// A SAML attribute: the assertion attribute `name` carries the Descope `value`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoAppAttribute {
    pub name: String,
    #[serde(default, rename = "type")]
    pub attr_type: String,
    #[serde(default)]
    pub value: String,
}

/// A group sent to the service provider for users with any of `roles` (project role names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoAppGroup {
    pub name: String,
    #[serde(default, rename = "type")]
    pub group_type: String,
    #[serde(default)]
    pub filter_type: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SsoAppSpec {
    pub id: String,
    /// `oidc` or `saml`.
    pub app_type: String,
    /// Managed fields by config name, in their compared form.
    pub fields: BTreeMap<&'static str, Value>,
}

impl Spec for SsoAppSpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        m.insert("type", json!(self.app_type));
        for (k, v) in &self.fields {
            m.insert(k, v.clone());
        }
        m
    }
}

impl Address {
    pub fn sso_app(id: impl Into<String>) -> Self {
        Address::new(KIND, id)
    }
}

/// A wire value in the form the planner compares: lists of URLs as sets, group mappings
/// with the role names only (the config names roles; Descope adds their ids).
fn compared(config_name: &str, v: Value) -> Value {
    match config_name {
        "approved_redirect_urls" | "acs_allowed_callbacks" => fields::string_set(Some(&v)),
        "attribute_mapping" => Value::Array(
            v.as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    json!({
                        "name": string_field(a, "name"),
                        "type": string_field(a, "type"),
                        "value": string_field(a, "value"),
                    })
                })
                .collect(),
        ),
        "groups_mapping" => Value::Array(
            v.as_array()
                .into_iter()
                .flatten()
                .map(|g| {
                    let mut roles: Vec<String> = g
                        .get("roles")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|r| {
                            r.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| string_field(r, "name"))
                        })
                        .collect();
                    roles.sort();
                    json!({
                        "name": string_field(g, "name"),
                        "type": string_field(g, "type"),
                        "filter_type": string_field(g, "filterType"),
                        "value": string_field(g, "value"),
                        "roles": roles,
                    })
                })
                .collect(),
        ),
        _ => v,
    }
}

/// The compared form back to the wire (a request's field).
fn wire(config_name: &str, v: &Value) -> Value {
    match config_name {
        "groups_mapping" => Value::Array(
            v.as_array()
                .into_iter()
                .flatten()
                .map(|g| {
                    // The config names roles; the role's id is Descope's to fill in
                    // (docs/emulator.md).
                    let roles: Vec<Value> = g["roles"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|r| json!({"id": "", "name": r}))
                        .collect();
                    json!({
                        "name": g["name"],
                        "type": g["type"],
                        "filterType": g["filter_type"],
                        "value": g["value"],
                        "roles": roles,
                    })
                })
                .collect(),
        ),
        _ => v.clone(),
    }
}

fn flavour_of(app_type: &str) -> Flavour {
    if app_type == "saml" {
        Flavour::Saml
    } else {
        Flavour::Oidc
    }
}

/// The config's fields, by config name, in compared form (absent: not managed).
fn config_fields(c: &SsoAppConfig) -> BTreeMap<&'static str, Value> {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    let mut flat = Map::new();
    for block in ["oidc", "saml"] {
        if let Some(Value::Object(inner)) = v.as_object_mut().and_then(|m| m.remove(block)) {
            flat.extend(inner);
        }
    }
    if let Value::Object(top) = v {
        flat.extend(top);
    }
    let mut out = BTreeMap::new();
    for (name, ..) in FIELDS {
        if let Some(value) = flat.get(*name) {
            let value = match *name {
                "attribute_mapping" => {
                    let items: Vec<Value> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| json!({"name": a["name"], "type": a["type"], "value": a["value"]}))
                        .collect();
                    compared(name, Value::Array(items))
                }
                "groups_mapping" => {
                    // The config form is already the compared form, less the order of roles.
                    let items: Vec<Value> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|g| {
                            json!({"name": g["name"], "type": g["type"], "filterType": g["filter_type"],
                                   "value": g["value"], "roles": g["roles"]})
                        })
                        .collect();
                    compared(name, Value::Array(items))
                }
                _ => compared(name, value.clone()),
            };
            out.insert(*name, value);
        }
    }
    out
}

/// A loaded app's fields, by config name, in compared form.
fn live_fields(app: &Value, app_type: &str) -> BTreeMap<&'static str, Value> {
    let settings = &app[settings_key(app_type)];
    let flavour = flavour_of(app_type);
    FIELDS
        .iter()
        .filter(|(_, _, _, f, _)| *f == Flavour::Both || *f == flavour)
        .map(|(name, wire_name, at, _, default)| {
            let from = if *at == At::Top { app } else { settings };
            (
                *name,
                compared(name, fields::loaded(from, wire_name, *default)),
            )
        })
        .collect()
}

fn settings_key(app_type: &str) -> &'static str {
    if app_type == "saml" {
        "samlSettings"
    } else {
        "oidcSettings"
    }
}

impl ResourceKind for SsoAppKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        for (at, a) in entries::checked(cx, &SECTION, &[ID, NAME]) {
            match (&a.oidc, &a.saml) {
                (Some(_), Some(_)) => cx.problem(
                    &format!("{at}/saml"),
                    DiagnosticKind::InvalidValue,
                    "an SSO application is either OIDC or SAML, not both".into(),
                    Some("keep one of `oidc:` and `saml:`".into()),
                ),
                (None, None) => cx.problem(
                    &at,
                    DiagnosticKind::MissingField,
                    format!(
                        "SSO application `{}` needs an `oidc:` or a `saml:` block",
                        a.id
                    ),
                    Some("`oidc: {}` makes an OIDC application with Descope's defaults".into()),
                ),
                _ => {}
            }
            if let Some(o) = &a.oidc {
                if let Some(t) = &o.client_type {
                    if !["", "confidential", "public"].contains(&t.as_str()) {
                        cx.problem(
                            &format!("{at}/oidc/client_type"),
                            DiagnosticKind::InvalidValue,
                            format!("client type `{t}` is not `confidential` or `public`"),
                            None,
                        );
                    }
                }
            }
            if let Some(s) = &a.saml {
                if s.use_metadata_info == Some(true)
                    && s.metadata_url.as_deref().unwrap_or("").is_empty()
                {
                    cx.problem(
                        &format!("{at}/saml"),
                        DiagnosticKind::MissingField,
                        "`use_metadata_info: true` needs a `metadata_url`".into(),
                        None,
                    );
                }
                for (g, group) in s.groups_mapping.iter().flatten().enumerate() {
                    for (r, role) in group.roles.iter().enumerate() {
                        if !fields::is_project_role(cx.config, role) {
                            cx.problem(
                                &format!("{at}/saml/groups_mapping/{g}/roles/{r}"),
                                DiagnosticKind::UnknownRole,
                                format!("role `{role}` is not a project role of this config"),
                                Some("declare it under `roles:` (without `tenant`)".into()),
                            );
                        }
                    }
                }
            }
            let mut urls = vec![("login_page_url", a.login_page_url.clone())];
            if let Some(o) = &a.oidc {
                urls.push((
                    "oidc/back_channel_logout_url",
                    o.back_channel_logout_url.clone(),
                ));
            }
            if let Some(s) = &a.saml {
                urls.push(("saml/metadata_url", s.metadata_url.clone()));
                urls.push(("saml/acs_url", s.acs_url.clone()));
                urls.push(("saml/logout_redirect_url", s.logout_redirect_url.clone()));
                if let Some(cert) = s.certificate.as_deref().filter(|c| !c.trim().is_empty()) {
                    if crate::util::x509::pem_der(cert).is_err() {
                        cx.problem(
                            &format!("{at}/saml/certificate"),
                            DiagnosticKind::InvalidValue,
                            "the certificate is not PEM: `-----BEGIN CERTIFICATE-----`, a base64 body, `-----END CERTIFICATE-----`".into(),
                            Some("paste the service provider's certificate as its PEM file shows it".into()),
                        );
                    }
                }
            }
            for (field, url) in urls {
                fields::check_absolute_url(cx, &format!("{at}/{field}"), url.as_deref());
            }
            let allowed = INFO.managed_fields;
            cx.ignore_changes(&at, &a.ignore_changes, allowed, "an SSO application");
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        for (_, a) in entries::decoded::<SsoAppConfig>(&input.config.sections, &SECTION) {
            let mut fields = config_fields(&a);
            fields.retain(|k, _| !a.ignore_changes.iter().any(|x| x == k));
            out.insert(entries::desired(
                Address::sso_app(&a.id),
                SsoAppSpec {
                    id: a.id.clone(),
                    app_type: if a.saml.is_some() { "saml" } else { "oidc" }.into(),
                    fields,
                },
                a.protect,
                &a.ignore_changes,
            ));
        }
    }

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        let Some(s) = super::spec_of::<SsoAppSpec>(spec) else {
            return vec![];
        };
        s.fields
            .get("groups_mapping")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|g| g["roles"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r.as_str().map(str::to_string))
            .filter(|r| !is_builtin_role(r))
            .map(|r| Reference::Uses(Address::role(None, &r)))
            .collect()
    }

    fn replace_fields(&self) -> &'static [&'static str] {
        &["type", "client_id"]
    }

    fn read_when_named(&self) -> bool {
        true
    }

    fn list(&self) -> Option<ListCall> {
        Some(ListCall {
            request: endpoints::sso_app_load_all,
            key: LIST,
        })
    }

    fn list_answer_key(&self) -> Option<&'static str> {
        Some("apps")
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        for a in snapshot.list(LIST) {
            let a = &a;
            let id = string_field(a, "id");
            if id.is_empty() {
                out.warnings
                    .push(format!("SSO application without an id ignored: {a}"));
                continue;
            }
            let app_type = string_field(a, "appType");
            // WS-Federation apps are Descope's and shown, never planned: the config has no form
            // for them.
            let foreign = !["oidc", "saml"].contains(&app_type.as_str());
            out.insert(LiveResource::new(
                Address::sso_app(&id),
                SsoAppSpec {
                    fields: live_fields(a, &app_type),
                    app_type,
                    id,
                },
                a.clone(),
                foreign,
            ));
        }
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let s = d.spec::<SsoAppSpec>();
        let mut m = Map::new();
        m.insert("id".into(), json!(s.id));
        for (name, wire_name, ..) in FIELDS {
            if let Some(v) = s.fields.get(name) {
                m.insert((*wire_name).into(), wire(name, v));
            }
        }
        mark_flavour(&mut m, &s.app_type);
        Value::Object(m)
    }

    /// The live app, flattened into a request, with the managed fields replaced; never the
    /// client id (create-only: sent on update it would clear the stored secret).
    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let s = d.spec::<SsoAppSpec>();
        let flavour = flavour_of(&s.app_type);
        let settings = &live[settings_key(&s.app_type)];
        let mut m = Map::new();
        m.insert("id".into(), json!(s.id));
        for (name, wire_name, at, f, default) in FIELDS {
            if *name == "client_id" || !(*f == Flavour::Both || *f == flavour) {
                continue;
            }
            let v = match s.fields.get(name) {
                Some(v) => wire(name, v),
                None => {
                    let from = if *at == At::Top { live } else { settings };
                    fields::loaded(from, wire_name, *default)
                }
            };
            m.insert((*wire_name).into(), v);
        }
        if flavour == Flavour::Oidc {
            for key in CARRIED_OIDC {
                if let Some(v) = settings.get(*key).filter(|v| !v.is_null()) {
                    m.insert((*key).into(), v.clone());
                }
            }
        }
        mark_flavour(&mut m, &s.app_type);
        Value::Object(m)
    }

    fn keyed_calls(&self) -> Option<&'static KeyedCalls> {
        Some(&CALLS)
    }

    fn created_note(&self, address: &Address) -> Option<String> {
        Some(format!(
            "{address}: Descope holds this application's secret; descope-mgmt never reads or stores it. \
             Read it in the console (Applications) or with the application secret call \
             (GET /v1/mgmt/sso/idp/app/secret?id={})",
            address.key()
        ))
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let apps: Vec<Value> = live
            .iter()
            .filter(|r| !r.system)
            .filter_map(|r| {
                let s = r.spec::<SsoAppSpec>();
                out.addresses.push(r.address.clone());
                entries::exported_entry(&export_config(s))
            })
            .collect();
        entries::export_section(out, &SECTION, apps);
    }
}

/// The request marks its flavour for the op (`useMetadataInfo` is a SAML request field that
/// every SAML body carries, and no OIDC body does).
fn mark_flavour(m: &mut Map<String, Value>, app_type: &str) {
    if app_type == "saml" {
        m.entry("useMetadataInfo").or_insert(json!(false));
    } else {
        m.remove("useMetadataInfo");
    }
}

/// A live app as a config entry: every field, defaults left out to keep it short.
fn export_config(s: &SsoAppSpec) -> SsoAppConfig {
    let mut top = Map::new();
    let mut block = Map::new();
    for (name, _, _, f, default) in FIELDS {
        let Some(v) = s.fields.get(name) else {
            continue;
        };
        // The client id is Descope's unless imported, and the export cannot tell which.
        if *name == "client_id" || (*v == default() && !["name", "enabled"].contains(name)) {
            continue;
        }
        let v = match *name {
            "groups_mapping" => Value::Array(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|g| {
                        json!({"name": g["name"], "type": g["type"], "filter_type": g["filter_type"],
                               "value": g["value"], "roles": g["roles"]})
                    })
                    .collect(),
            ),
            _ => v.clone(),
        };
        match f {
            Flavour::Both => top.insert((*name).into(), v),
            _ => block.insert((*name).into(), v),
        };
    }
    top.insert("id".into(), json!(s.id));
    top.insert(s.app_type.clone(), Value::Object(block));
    serde_json::from_value(Value::Object(top)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(yaml: &str) -> DesiredResource {
        let c: SsoAppConfig = serde_yaml_ng::from_str(yaml).unwrap();
        DesiredResource::new(
            Address::sso_app(&c.id),
            SsoAppSpec {
                id: c.id.clone(),
                app_type: if c.saml.is_some() { "saml" } else { "oidc" }.into(),
                fields: config_fields(&c),
            },
            vec![],
            false,
            false,
            vec![],
        )
    }

    #[test]
    fn an_update_keeps_what_the_config_leaves_alone_and_never_sends_the_client_id() {
        let d = desired(
            "{id: portal, name: Portal, oidc: {approved_redirect_urls: [https://b, https://a]}}",
        );
        let live = json!({"id": "portal", "name": "Old", "description": "kept", "enabled": true, "logo": "",
            "appType": "oidc", "customAttributes": {"x": 1},
            "oidcSettings": {"loginPageUrl": "https://login", "issuer": "i", "discoveryUrl": "u",
                "forceAuthentication": true, "clientId": "C1", "jwtBearerSettings": {"issuers": {}}}});
        let body = SsoAppKind.update_body(&d, &live);
        assert_eq!(
            body,
            json!({"id": "portal", "name": "Portal", "description": "kept", "enabled": true, "logo": "",
                "customAttributes": {"x": 1}, "loginPageUrl": "https://login", "forceAuthentication": true,
                "clientType": "", "approvedRedirectUrls": ["https://a", "https://b"], "forcePkce": false,
                "defaultAudience": "", "backChannelLogoutUrl": "", "authorizationCodeDisabled": false,
                "clientCredentialsDisabled": false, "refreshTokenDisabled": false, "jwtBearerDisabled": false,
                "deviceCodeDisabled": false, "jwtBearerSettings": {"issuers": {}}})
        );
        assert_eq!(
            SsoAppKind.update_op(&d.address, &body).steps[0].path,
            endpoints::SSO_APP_OIDC_UPDATE
        );
    }

    #[test]
    fn group_mappings_compare_by_role_name() {
        let d = desired(
            "{id: wiki, name: Wiki, saml: {groups_mapping: [{name: g, filter_type: roles, roles: [b, a]}]}}",
        );
        let live = json!({"id": "wiki", "appType": "saml", "samlSettings": {"groupsMapping": [
            {"name": "g", "type": "", "filterType": "roles", "value": "", "roles": [{"id": "R1", "name": "a"}, {"id": "R2", "name": "b"}]}]}});
        let l = live_fields(&live, "saml");
        assert_eq!(
            l["groups_mapping"],
            d.spec::<SsoAppSpec>().fields["groups_mapping"]
        );
        let body = SsoAppKind.create_body(&d);
        assert_eq!(
            body["groupsMapping"][0]["roles"][0],
            json!({"id": "", "name": "a"})
        );
        assert_eq!(
            SsoAppKind.create_op(&d.address, &body).steps[0].path,
            endpoints::SSO_APP_SAML_CREATE
        );
    }
}
