//! A tenant's SSO configurations (`tenant_sso.<tenant>/<sso-id>`, `default` for the tenant's
//! default one), written in the config as an `sso:` map inside the tenant's entry: SAML, SAML
//! by metadata URL, or OIDC, each with its domains and redirect URL (docs/descope-api.md §11).
//!
//! Descope has no project-wide list: `GET /v2/mgmt/sso/settings/all?tenantId=` is read once per
//! tenant whose config declares `sso` (every tenant for `export`). Writes are the configure
//! calls, whose SAML `settings` replace the stored ones: the update carries over what the
//! config does not manage (groups priority, FGA mappings, the service provider's ACS URL and
//! entity id) from the live object. `disableSignRequest` is always sent, since leaving it out
//! turns request signing back on; `replaceDefaultSSORoles: true` is sent when the config's
//! default SSO roles are empty, since an empty list alone keeps the stored roles.
//!
//! The OIDC client secret, the OIDC `usePkce` switch and SAML request signing are accepted but
//! never returned: they are write-only fields (docs/design.md, "Secrets the API never gives
//! back"), compared with what the last apply sent. The display name is sent only when a
//! non-default configuration is created (`settings/new`); no load returns it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::entries::config_struct;
use super::{Fields, KindInfo, LiveContext, LiveRead, ReadFuture, ReadScope, Reference};
use super::{ResourceKind, Spec};
use crate::api::endpoints;
use crate::config::checks::ConfigCheck;
use crate::config::diagnostic::did_you_mean;
use crate::config::exported::{escape, Exported};
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, string_list, LiveGraph, LiveSnapshot};
use crate::resource::{sorted_set, DesiredResource, LiveResource};
use crate::secret::Secret;

pub struct TenantSsoKind;

pub const KIND: Kind = Kind::named("tenant_sso");

const INFO: KindInfo = KindInfo::new(
    KIND,
    "Tenant SSO configurations",
    &["domains", "redirect_url", "saml", "saml_metadata", "oidc"],
);

/// The key of the tenant's default configuration (sent without `ssoId`).
const DEFAULT: &str = "default";

/// Snapshot documents: `tenant_sso/<tenant>` holds that tenant's load-all answer.
const PREFIX: &str = "tenant_sso/";

const SECTION: ConfigSection = ConfigSection {
    within: Some("tenants"),
    key: "sso",
    schema: || {
        serde_json::to_value(schemars::schema_for!(BTreeMap<String, SsoConfigEntry>))
            .unwrap_or_default()
    },
};

/// Where write-only values sit in `Spec::fields()`.
const WRITE_ONLY: &[&str] = &[
    "/oidc/client_secret",
    "/oidc/use_pkce",
    "/saml/sign_requests",
    "/saml_metadata/sign_requests",
];

/// The secret attribute of this kind (a `SecretField`'s `attribute`).
const CLIENT_SECRET: &str = "/oidc/client_secret";

/// One configuration: an entry of a tenant's `sso:` map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoConfigEntry {
    /// Shown in Descope's console; sent when a non-default configuration is created (default:
    /// its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Email domains whose users sign in through this configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    /// Where users land after signing in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<SamlConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml_metadata: Option<SamlMetadataConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcConfig>,
    /// Refuse any plan that would delete this configuration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Fields left to others: never diffed or written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
}

config_struct! {
    pub struct SamlConfig {
        /// The IdP's single sign-on URL.
        pub idp_url: String,
        /// The IdP's entity id.
        pub entity_id: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub additional_certs: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub role_mappings: Vec<RoleMappingConfig>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub default_sso_roles: Vec<String>,
        ;
        /// The IdP's signing certificate, PEM.
        pub cert: String,
        /// A PEM file with the certificate, relative to the config file.
        pub cert_file: String,
        pub attribute_mapping: SamlAttributeMapping,
        /// Sign authentication requests (default true).
        pub sign_requests: bool,
    }
}

config_struct! {
    pub struct SamlMetadataConfig {
        /// The IdP's metadata URL, from which Descope reads its URL and certificate.
        pub metadata_url: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub role_mappings: Vec<RoleMappingConfig>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub default_sso_roles: Vec<String>,
        ;
        pub entity_id: String,
        pub attribute_mapping: SamlAttributeMapping,
        pub sign_requests: bool,
    }
}

config_struct! {
    /// IdP attribute names for Descope's user fields.
    pub struct SamlAttributeMapping {
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub custom_attributes: BTreeMap<String, String>,
        ;
        pub name: String,
        pub email: String,
        pub phone_number: String,
        pub group: String,
        pub given_name: String,
        pub middle_name: String,
        pub family_name: String,
        pub picture: String,
    }
}

/// IdP groups whose members get a role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleMappingConfig {
    pub groups: Vec<String>,
    pub role: String,
}

config_struct! {
    pub struct OidcConfig {
        /// The provider's name.
        pub name: String,
        pub client_id: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub scope: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub prompt: Vec<String>,
        ;
        /// Write-only: must be `${secret:VAR}`.
        pub client_secret: String,
        pub auth_url: String,
        pub token_url: String,
        pub user_data_url: String,
        pub jwks_url: String,
        pub issuer: String,
        pub attribute_mapping: OidcAttributeMapping,
        pub use_pkce: bool,
        pub callback_domain: String,
        /// `authorization_code` (default) or `implicit`.
        pub grant_type: String,
        pub manage_provider_tokens: bool,
    }
}

config_struct! {
    /// OIDC claim names for Descope's user fields.
    pub struct OidcAttributeMapping {
        ;
        pub login_id: String,
        pub name: String,
        pub given_name: String,
        pub middle_name: String,
        pub family_name: String,
        pub email: String,
        pub verified_email: String,
        pub username: String,
        pub phone_number: String,
        pub verified_phone: String,
        pub picture: String,
    }
}

/// Config name ↔ wire name of the SAML attribute mapping (PY `_attribute_mapping_to_dict`).
const SAML_ATTRS: [(&str, &str); 8] = [
    ("name", "name"),
    ("email", "email"),
    ("phone_number", "phoneNumber"),
    ("group", "group"),
    ("given_name", "givenName"),
    ("middle_name", "middleName"),
    ("family_name", "familyName"),
    ("picture", "picture"),
];

/// Config name ↔ wire name of the OIDC `userAttrMapping` (GO `OIDCAttributeMapping`).
const OIDC_ATTRS: [(&str, &str); 11] = [
    ("login_id", "loginId"),
    ("name", "name"),
    ("given_name", "givenName"),
    ("middle_name", "middleName"),
    ("family_name", "familyName"),
    ("email", "email"),
    ("verified_email", "verifiedEmail"),
    ("username", "username"),
    ("phone_number", "phoneNumber"),
    ("verified_phone", "verifiedPhone"),
    ("picture", "picture"),
];

/// The OIDC block's string fields: config name, wire name.
const OIDC_STRINGS: [(&str, &str); 7] = [
    ("auth_url", "authUrl"),
    ("token_url", "tokenUrl"),
    ("user_data_url", "userDataUrl"),
    ("jwks_url", "JWKsUrl"),
    ("issuer", "issuer"),
    ("callback_domain", "callbackDomain"),
    ("grant_type", "grantType"),
];

/// One configuration's managed fields under the config's names, each block in one canonical
/// form (unset strings `""`, lists sorted, empty mapping entries left out).
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSsoSpec {
    pub tenant: String,
    /// `None` for the default configuration.
    pub sso_id: Option<String>,
    pub display_name: Option<String>,
    pub fields: BTreeMap<&'static str, Value>,
}

impl Spec for TenantSsoSpec {
    fn fields(&self) -> Fields {
        self.fields.clone()
    }
}

impl Address {
    pub fn tenant_sso(tenant: &str, sso_id: &str) -> Self {
        Address::new(KIND, format!("{tenant}/{sso_id}"))
    }
}

/// (tenant, sso id or `None` for the default) of an address.
fn parts(address: &Address) -> (&str, Option<&str>) {
    let (tenant, id) = address
        .key()
        .split_once('/')
        .unwrap_or((address.key(), DEFAULT));
    (tenant, (id != DEFAULT).then_some(id))
}

/// The text of a PEM certificate as compared and sent: lines trimmed, `\r` and blank lines
/// dropped, ending in a newline as a PEM file does (RFC 7468), so an export applied elsewhere
/// sends the certificate exactly as a file or the console gave it.
fn normalize_cert(text: &str) -> String {
    let mut pem = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    if !pem.is_empty() {
        pem.push('\n');
    }
    pem
}

/// PEM armour around a base64 body (`util::x509::pem_der`).
fn check_pem(text: &str) -> Result<Vec<u8>, String> {
    crate::util::x509::pem_der(&normalize_cert(text))
}

fn mapping_object(pairs: impl IntoIterator<Item = (&'static str, Option<String>)>) -> Value {
    let m: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), json!(v)))
        })
        .collect();
    Value::Object(m)
}

fn saml_mapping_fields(m: Option<&SamlAttributeMapping>) -> Value {
    let m = m.cloned().unwrap_or_default();
    let mut v = mapping_object([
        ("name", m.name),
        ("email", m.email),
        ("phone_number", m.phone_number),
        ("group", m.group),
        ("given_name", m.given_name),
        ("middle_name", m.middle_name),
        ("family_name", m.family_name),
        ("picture", m.picture),
    ]);
    let custom: Map<String, Value> = m
        .custom_attributes
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, json!(v)))
        .collect();
    if !custom.is_empty() {
        v["custom_attributes"] = Value::Object(custom);
    }
    v
}

fn oidc_mapping_fields(m: Option<&OidcAttributeMapping>) -> Value {
    let m = m.cloned().unwrap_or_default();
    mapping_object([
        ("login_id", m.login_id),
        ("name", m.name),
        ("given_name", m.given_name),
        ("middle_name", m.middle_name),
        ("family_name", m.family_name),
        ("email", m.email),
        ("verified_email", m.verified_email),
        ("username", m.username),
        ("phone_number", m.phone_number),
        ("verified_phone", m.verified_phone),
        ("picture", m.picture),
    ])
}

fn role_mappings_fields(m: &[RoleMappingConfig]) -> Value {
    let mut v: Vec<(String, Vec<String>)> = m
        .iter()
        .map(|r| (r.role.clone(), sorted_set(r.groups.iter().cloned())))
        .collect();
    v.sort();
    Value::Array(
        v.into_iter()
            .map(|(role, groups)| json!({"groups": groups, "role": role}))
            .collect(),
    )
}

fn role_names(fields: &Fields) -> Vec<String> {
    let mut names = Vec::new();
    for block in ["saml", "saml_metadata"] {
        let Some(b) = fields.get(block) else { continue };
        names.extend(string_list(b, "default_sso_roles"));
        for m in b
            .get("role_mappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            names.push(string_field(m, "role"));
        }
    }
    sorted_set(names)
}

/// The config's blocks in their compared form; `cert` is the certificate's text (from
/// `cert_file` when given), `secret` the client secret's stand-in.
fn desired_fields(
    c: &SsoConfigEntry,
    cert: Option<String>,
    secret: Option<Value>,
) -> BTreeMap<&'static str, Value> {
    let mut f = BTreeMap::new();
    if let Some(d) = &c.domains {
        f.insert(
            "domains",
            json!(sorted_set(d.iter().map(|d| d.to_ascii_lowercase()))),
        );
    }
    if let Some(u) = &c.redirect_url {
        f.insert("redirect_url", json!(u));
    }
    if let Some(s) = &c.saml {
        f.insert(
            "saml",
            json!({
                "idp_url": s.idp_url,
                "entity_id": s.entity_id,
                "cert": normalize_cert(&cert.unwrap_or_default()),
                "additional_certs": s.additional_certs.iter().map(|c| normalize_cert(c)).collect::<Vec<_>>(),
                "attribute_mapping": saml_mapping_fields(s.attribute_mapping.as_ref()),
                "role_mappings": role_mappings_fields(&s.role_mappings),
                "default_sso_roles": sorted_set(s.default_sso_roles.iter().cloned()),
                "sign_requests": s.sign_requests.unwrap_or(true),
            }),
        );
    }
    if let Some(s) = &c.saml_metadata {
        f.insert(
            "saml_metadata",
            json!({
                "metadata_url": s.metadata_url,
                "entity_id": s.entity_id.clone().unwrap_or_default(),
                "attribute_mapping": saml_mapping_fields(s.attribute_mapping.as_ref()),
                "role_mappings": role_mappings_fields(&s.role_mappings),
                "default_sso_roles": sorted_set(s.default_sso_roles.iter().cloned()),
                "sign_requests": s.sign_requests.unwrap_or(true),
            }),
        );
    }
    if let Some(o) = &c.oidc {
        let mut v = json!({
            "name": o.name,
            "client_id": o.client_id,
            "scope": sorted_set(o.scope.iter().cloned()),
            "prompt": sorted_set(o.prompt.iter().cloned()),
            "attribute_mapping": oidc_mapping_fields(o.attribute_mapping.as_ref()),
            "manage_provider_tokens": o.manage_provider_tokens.unwrap_or(false),
        });
        for (k, _) in OIDC_STRINGS {
            let s = match k {
                "auth_url" => &o.auth_url,
                "token_url" => &o.token_url,
                "user_data_url" => &o.user_data_url,
                "jwks_url" => &o.jwks_url,
                "issuer" => &o.issuer,
                "callback_domain" => &o.callback_domain,
                _ => &o.grant_type,
            };
            let default = if k == "grant_type" {
                "authorization_code"
            } else {
                ""
            };
            v[k] = json!(s.clone().unwrap_or_else(|| default.to_string()));
        }
        if let Some(secret) = secret {
            v["client_secret"] = secret;
        }
        if let Some(p) = o.use_pkce {
            v["use_pkce"] = json!(p);
        }
        f.insert("oidc", v);
    }
    f
}

impl ResourceKind for TenantSsoKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_key(&self, key: &str) -> Result<(), String> {
        match key.split_once('/') {
            Some((t, id)) if !t.is_empty() && !id.is_empty() && !id.contains('/') => Ok(()),
            _ => Err("expected `tenant_sso.<tenant>/<sso-id>` (`default` for the tenant's default configuration)".into()),
        }
    }

    fn example_address(&self) -> String {
        "tenant_sso.<tenant>/<sso-id>".into()
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn accepts_secret_at(&self, pointer: &str) -> bool {
        let parts: Vec<&str> = pointer.split('/').collect();
        matches!(
            parts.as_slice(),
            ["", "tenants", _, "sso", _, "oidc", "client_secret"]
        )
    }

    fn write_only_fields(&self) -> &'static [&'static str] {
        WRITE_ONLY
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        let found: Vec<_> = cx.config.sections.of(&SECTION).cloned().collect();
        // Roles a mapping may name: the tenant's own, the project's, Descope's built-in ones.
        let roles: Vec<(String, String)> = cx
            .config
            .roles
            .iter()
            .map(|r| (r.tenant.clone().unwrap_or_default(), r.name.clone()))
            .collect();
        for v in found {
            let Some(entries) = v.value.as_object() else {
                cx.decode::<BTreeMap<String, SsoConfigEntry>>(&v);
                continue;
            };
            let tenant = v.owner.clone().unwrap_or_default();
            // One entry at a time, so one bad configuration does not hide the next.
            for (id, value) in entries {
                let at = format!("{}/{}", v.pointer, id.replace('~', "~0").replace('/', "~1"));
                let entry = crate::config::SectionValue {
                    pointer: at.clone(),
                    value: value.clone(),
                    ..v.clone()
                };
                let Some(c) = cx.decode::<SsoConfigEntry>(&entry) else {
                    continue;
                };
                let c = &c;
                if id.is_empty() || id.contains('/') {
                    cx.problem(
                        &at,
                        DiagnosticKind::InvalidValue,
                        format!("`{id}` is not an SSO configuration id (no `/`, not empty)"),
                        Some("`default` for the tenant's default configuration".into()),
                    );
                }
                let flavours = [
                    c.saml.is_some(),
                    c.saml_metadata.is_some(),
                    c.oidc.is_some(),
                ];
                match flavours.iter().filter(|f| **f).count() {
                    1 => {}
                    0 => cx.problem(
                        &at,
                        DiagnosticKind::MissingField,
                        format!("SSO configuration `{id}` needs one of `saml`, `saml_metadata`, `oidc`"),
                        None,
                    ),
                    _ => cx.problem(
                        &at,
                        DiagnosticKind::InvalidValue,
                        format!("SSO configuration `{id}` has more than one of `saml`, `saml_metadata`, `oidc`"),
                        Some("a configuration is one protocol; use another id for another".into()),
                    ),
                }
                if let Some(s) = &c.saml {
                    let sat = format!("{at}/saml");
                    match (&s.cert, &s.cert_file) {
                        (Some(_), Some(_)) | (None, None) => cx.problem(
                            &sat,
                            DiagnosticKind::MissingField,
                            "SAML needs exactly one of `cert` (PEM text) and `cert_file` (a PEM file)".into(),
                            None,
                        ),
                        (Some(text), None) => {
                            if let Err(why) = check_pem(text) {
                                cx.problem(&format!("{sat}/cert"), DiagnosticKind::InvalidValue, why, None);
                            }
                        }
                        (None, Some(rel)) => {
                            let read = crate::util::input::inside(
                                cx.base_dir,
                                rel,
                                crate::util::input::InputFile::Certificate,
                            )
                            .and_then(|p| crate::util::input::read(&p, crate::util::input::InputFile::Certificate));
                            match read {
                                Err(e) => cx.problem(
                                    &format!("{sat}/cert_file"),
                                    DiagnosticKind::MissingFile,
                                    e.to_string(),
                                    None,
                                ),
                                Ok(bytes) => {
                                    if let Err(why) = check_pem(&String::from_utf8_lossy(&bytes)) {
                                        cx.problem(
                                            &format!("{sat}/cert_file"),
                                            DiagnosticKind::InvalidValue,
                                            format!("{rel}: {why}"),
                                            None,
                                        );
                                    }
                                }
                            }
                        }
                    }
                    for (j, extra) in s.additional_certs.iter().enumerate() {
                        if let Err(why) = check_pem(extra) {
                            cx.problem(
                                &format!("{sat}/additional_certs/{j}"),
                                DiagnosticKind::InvalidValue,
                                why,
                                None,
                            );
                        }
                    }
                }
                if let Some(o) = &c.oidc {
                    if let (Some("implicit"), Some(true)) = (o.grant_type.as_deref(), o.use_pkce) {
                        cx.problem(
                            &format!("{at}/oidc/use_pkce"),
                            DiagnosticKind::InvalidValue,
                            "`use_pkce` cannot be used with the implicit grant".into(),
                            None,
                        );
                    }
                }
                // Role names: in role mappings and default SSO roles.
                let blocks: Vec<(&str, &[RoleMappingConfig], &[String])> = [
                    c.saml.as_ref().map(|s| {
                        (
                            "saml",
                            s.role_mappings.as_slice(),
                            s.default_sso_roles.as_slice(),
                        )
                    }),
                    c.saml_metadata.as_ref().map(|s| {
                        (
                            "saml_metadata",
                            s.role_mappings.as_slice(),
                            s.default_sso_roles.as_slice(),
                        )
                    }),
                ]
                .into_iter()
                .flatten()
                .collect();
                for (block, mappings, defaults) in blocks {
                    let mut names: Vec<(String, &str)> = mappings
                        .iter()
                        .enumerate()
                        .map(|(j, m)| {
                            (
                                format!("{at}/{block}/role_mappings/{j}/role"),
                                m.role.as_str(),
                            )
                        })
                        .collect();
                    names.extend(
                        defaults.iter().enumerate().map(|(j, n)| {
                            (format!("{at}/{block}/default_sso_roles/{j}"), n.as_str())
                        }),
                    );
                    for (pointer, name) in names {
                        let exists = roles
                            .iter()
                            .any(|(t, n)| n == name && (t.is_empty() || *t == tenant))
                            || crate::model::builtin::is_builtin_role(name);
                        if !exists {
                            let candidates: Vec<&str> = roles
                                .iter()
                                .filter(|(t, _)| t.is_empty() || *t == tenant)
                                .map(|(_, n)| n.as_str())
                                .collect();
                            cx.problem(
                                &pointer,
                                DiagnosticKind::UnknownRole,
                                format!("role `{name}` is neither a role of tenant `{tenant}` nor a project role"),
                                did_you_mean(name, candidates),
                            );
                        }
                    }
                }
                let allowed = self.managed_fields();
                cx.ignore_changes(&at, &c.ignore_changes, allowed, "SSO configurations");
            }
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, errors: &mut Vec<String>) {
        for v in input.config.sections.of(&SECTION) {
            let (Some(tenant), Ok(map)) = (
                v.owner.as_deref(),
                serde_json::from_value::<BTreeMap<String, SsoConfigEntry>>(v.value.clone()),
            ) else {
                continue; // validation reported it
            };
            for (id, c) in map {
                let address = Address::tenant_sso(tenant, &id);
                let at = format!("{}/{}", v.pointer, id.replace('~', "~0").replace('/', "~1"));
                let cert = match c.saml.as_ref() {
                    Some(s) => match (&s.cert, &s.cert_file) {
                        (Some(text), _) => Some(text.clone()),
                        (None, Some(rel)) => match (input.read_text)(rel) {
                            Ok(text) => Some(text),
                            Err(e) => {
                                errors.push(format!("{address}: cert_file {rel}: {e}"));
                                continue;
                            }
                        },
                        (None, None) => None,
                    },
                    None => None,
                };
                for text in cert
                    .iter()
                    .chain(c.saml.iter().flat_map(|s| s.additional_certs.iter()))
                {
                    if let Some(w) = crate::util::x509::expiry_warning(text) {
                        out.warnings.push(format!("{address}: {w}"));
                    }
                }
                let secret_pointer = format!("{at}/oidc/client_secret");
                let secret = match c.oidc.as_ref().and_then(|o| o.client_secret.as_ref()) {
                    Some(plain) => match out.secret_stand_in(
                        input,
                        &secret_pointer,
                        plain,
                        &address,
                        &[CLIENT_SECRET],
                    ) {
                        Some(stand_in) => Some(stand_in),
                        None => {
                            errors.push(format!(
                                "{secret_pointer}: an OIDC client secret must be written as ${{secret:VAR}} \
                                 (it is never stored in plan files, state or backups)"
                            ));
                            continue;
                        }
                    },
                    None => None,
                };
                let mut fields = desired_fields(&c, cert, secret);
                fields.retain(|k, _| !c.ignore_changes.iter().any(|f| f == k));
                let mut depends_on = vec![Address::tenant(tenant)];
                for name in role_names(&fields) {
                    let tenant_role = input
                        .config
                        .roles
                        .iter()
                        .any(|r| r.name == name && r.tenant.as_deref() == Some(tenant));
                    let project_role =
                        input.config.roles.iter().any(|r| {
                            r.name == name && r.tenant.as_deref().is_none_or(str::is_empty)
                        });
                    if tenant_role {
                        depends_on.push(Address::role(Some(tenant), &name));
                    } else if project_role {
                        depends_on.push(Address::role(None, &name));
                    }
                }
                out.insert(DesiredResource::new(
                    address,
                    TenantSsoSpec {
                        tenant: tenant.to_string(),
                        sso_id: (id != DEFAULT).then(|| id.clone()),
                        display_name: c.display_name.clone(),
                        fields,
                    },
                    depends_on,
                    c.protect,
                    false,
                    c.ignore_changes.clone(),
                ));
            }
        }
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, scope: &'a ReadScope) -> ReadFuture<'a> {
        Box::pin(async move {
            let mut tenants: Vec<String> = scope
                .addresses
                .iter()
                .filter(|a| a.kind() == KIND)
                .map(|a| parts(a).0.to_string())
                .collect();
            // `export` and `--prune tenant_sso` look at every tenant.
            if scope.everything || scope.kinds.contains(&KIND) {
                tenants.extend(super::per_tenant::every_tenant(io.gateway, io.snapshot).await?);
            }
            tenants.sort();
            tenants.dedup();
            let total = tenants.len();
            for (i, t) in tenants.iter().enumerate() {
                io.gateway.progress("SSO configurations", i, total);
                if io.snapshot.document(&format!("{PREFIX}{t}")).is_none() {
                    read_tenant(io.gateway, io.snapshot, t).await?;
                }
            }
            Ok(())
        })
    }

    fn read_count(&self, scope: &ReadScope) -> usize {
        let mut tenants: Vec<&str> = scope
            .addresses
            .iter()
            .filter(|a| a.kind() == KIND)
            .map(|a| parts(a).0)
            .collect();
        tenants.sort();
        tenants.dedup();
        tenants.len()
    }

    fn read_one<'a>(&'a self, io: LiveRead<'a>, address: &'a Address) -> ReadFuture<'a> {
        Box::pin(async move { read_tenant(io.gateway, io.snapshot, parts(address).0).await })
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        for (tenant, doc) in snapshot.documents_under(PREFIX) {
            for entry in doc
                .get("SSOSettings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(r) = live_resource(tenant, entry) {
                    out.insert(r);
                }
            }
        }
    }

    /// Less what is not this configuration's: the rest of the tenant object each load carries,
    /// and the time of the last test login.
    fn fingerprint(&self, raw: &Value) -> String {
        let mut raw = raw.clone();
        if let Some(t) = raw.get("tenant").cloned() {
            raw["tenant"] = json!({"authType": t.get("authType"), "domains": t.get("domains")});
        }
        for block in ["saml", "oidc"] {
            if let Some(b) = raw.get_mut(block).and_then(Value::as_object_mut) {
                b.remove("lastSuccessTestTime");
            }
        }
        crate::resource::fingerprint(&raw)
    }

    fn owner(&self, address: &Address) -> Option<Address> {
        Some(Address::tenant(parts(address).0))
    }

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        let Some(s) = super::spec_of::<TenantSsoSpec>(spec) else {
            return vec![];
        };
        let mut refs = vec![Reference::OwnedBy(Address::tenant(&s.tenant))];
        for name in role_names(&s.fields) {
            refs.push(Reference::UsesOneOf(vec![
                Address::role(Some(&s.tenant), &name),
                Address::role(None, &name),
            ]));
        }
        refs
    }

    /// Configures are idempotent, and a load answer cannot be compared with a configure body.
    fn verifiable(&self) -> bool {
        false
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let s = d.spec::<TenantSsoSpec>();
        let configure = configure_body(s, &Value::Null);
        match &s.sso_id {
            // A non-default configuration is created first, then configured.
            Some(id) => json!({
                "new": {
                    "tenantId": s.tenant,
                    "displayName": s.display_name.clone().unwrap_or_else(|| id.clone()),
                    "ssoId": id,
                },
                "configure": configure,
            }),
            None => configure,
        }
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        configure_body(d.spec::<TenantSsoSpec>(), live)
    }

    fn create_op(&self, address: &Address, body: &Value) -> Op {
        match (body.get("new"), body.get("configure")) {
            (Some(new), Some(configure)) => {
                Op::single(endpoints::sso_new(new.clone(), address.clone()))
                    .then(configure_op(address, configure))
            }
            _ => configure_op(address, body),
        }
    }

    fn update_op(&self, address: &Address, body: &Value) -> Op {
        configure_op(address, body)
    }

    fn delete_op(&self, address: &Address, _: &Value, _: bool) -> Op {
        let (tenant, id) = parts(address);
        Op::single(endpoints::sso_delete(tenant, id, address.clone()))
    }

    fn secret_body_pointer(&self, attribute: &str) -> Option<String> {
        (attribute == CLIENT_SECRET).then(|| "/settings/clientSecret".to_string())
    }

    fn read_saved(&self, address: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        live_resource(parts(address).0, object)
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let mut by_tenant: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for r in live {
            let s = r.spec::<TenantSsoSpec>();
            let id = s.sso_id.clone().unwrap_or_else(|| DEFAULT.to_string());
            let entry = export_entry(s, &id);
            let Ok(value) = serde_json::to_value(&entry) else {
                continue;
            };
            by_tenant
                .entry(s.tenant.clone())
                .or_default()
                .insert(id, value);
            out.addresses.push(r.address.clone());
        }
        for (tenant, map) in by_tenant {
            out.config
                .sections
                .push(&SECTION, Some(tenant), Value::Object(map));
        }
    }
}

/// The variable an exported OIDC client secret is read from: `ACME_GOOGLE_CLIENT_SECRET`.
pub fn secret_var(tenant: &str, id: &str) -> String {
    let word = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("{}_{}_CLIENT_SECRET", word(tenant), word(id))
}

fn export_entry(s: &TenantSsoSpec, id: &str) -> SsoConfigEntry {
    let f = &s.fields;
    let text = |v: &Value, k: &str| {
        Some(string_field(v, k))
            .filter(|t| !t.is_empty())
            .map(|t| escape(&t))
    };
    let list = |v: &Value, k: &str| string_list(v, k).iter().map(|t| escape(t)).collect();
    let role_mappings = |v: &Value| {
        v.get("role_mappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|m| RoleMappingConfig {
                groups: list(m, "groups"),
                role: escape(&string_field(m, "role")),
            })
            .collect()
    };
    let saml_mapping = |v: &Value| {
        let m = v.get("attribute_mapping").cloned().unwrap_or_default();
        let mapping = SamlAttributeMapping {
            name: text(&m, "name"),
            email: text(&m, "email"),
            phone_number: text(&m, "phone_number"),
            group: text(&m, "group"),
            given_name: text(&m, "given_name"),
            middle_name: text(&m, "middle_name"),
            family_name: text(&m, "family_name"),
            picture: text(&m, "picture"),
            custom_attributes: m
                .get("custom_attributes")
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), escape(v.as_str()?))))
                        .collect()
                })
                .unwrap_or_default(),
        };
        (mapping != SamlAttributeMapping::default()).then_some(mapping)
    };
    SsoConfigEntry {
        display_name: None,
        domains: f
            .get("domains")
            .map(|d| string_list(&json!({"d": d}), "d"))
            .filter(|d| !d.is_empty()),
        redirect_url: f
            .get("redirect_url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(escape),
        saml: f.get("saml").map(|v| SamlConfig {
            idp_url: escape(&string_field(v, "idp_url")),
            entity_id: escape(&string_field(v, "entity_id")),
            cert: Some(string_field(v, "cert")),
            cert_file: None,
            additional_certs: string_list(v, "additional_certs"),
            attribute_mapping: saml_mapping(v),
            role_mappings: role_mappings(v),
            default_sso_roles: list(v, "default_sso_roles"),
            // Not readable: signing is on unless the config turns it off.
            sign_requests: None,
        }),
        saml_metadata: f.get("saml_metadata").map(|v| SamlMetadataConfig {
            metadata_url: escape(&string_field(v, "metadata_url")),
            entity_id: text(v, "entity_id"),
            attribute_mapping: saml_mapping(v),
            role_mappings: role_mappings(v),
            default_sso_roles: list(v, "default_sso_roles"),
            sign_requests: None,
        }),
        oidc: f.get("oidc").map(|v| {
            let m = v.get("attribute_mapping").cloned().unwrap_or_default();
            let mapping = OidcAttributeMapping {
                login_id: text(&m, "login_id"),
                name: text(&m, "name"),
                given_name: text(&m, "given_name"),
                middle_name: text(&m, "middle_name"),
                family_name: text(&m, "family_name"),
                email: text(&m, "email"),
                verified_email: text(&m, "verified_email"),
                username: text(&m, "username"),
                phone_number: text(&m, "phone_number"),
                verified_phone: text(&m, "verified_phone"),
                picture: text(&m, "picture"),
            };
            OidcConfig {
                name: escape(&string_field(v, "name")),
                client_id: escape(&string_field(v, "client_id")),
                client_secret: Some(format!("${{secret:{}}}", secret_var(&s.tenant, id))),
                auth_url: text(v, "auth_url"),
                token_url: text(v, "token_url"),
                user_data_url: text(v, "user_data_url"),
                jwks_url: text(v, "jwks_url"),
                issuer: text(v, "issuer"),
                scope: list(v, "scope"),
                attribute_mapping: (mapping != OidcAttributeMapping::default()).then_some(mapping),
                use_pkce: None,
                callback_domain: text(v, "callback_domain"),
                grant_type: text(v, "grant_type").filter(|g| g != "authorization_code"),
                prompt: list(v, "prompt"),
                manage_provider_tokens: v
                    .get("manage_provider_tokens")
                    .and_then(Value::as_bool)
                    .filter(|b| *b),
            }
        }),
        protect: false,
        ignore_changes: vec![],
    }
}

/// The configure call for a body: the path follows from the settings it carries.
fn configure_op(address: &Address, body: &Value) -> Op {
    let settings = body.get("settings").cloned().unwrap_or_default();
    let path = if settings.get("clientId").is_some() {
        endpoints::SSO_CONFIGURE_OIDC
    } else if settings.get("idpMetadataUrl").is_some() {
        endpoints::SSO_CONFIGURE_SAML_METADATA
    } else {
        endpoints::SSO_CONFIGURE_SAML
    };
    Op::single(endpoints::sso_configure(
        path,
        body.clone(),
        address.clone(),
    ))
}

fn wire_saml_mapping(m: &Value) -> Value {
    let mut out = Map::new();
    for (config, wire) in SAML_ATTRS {
        if let Some(v) = m.get(config) {
            out.insert(wire.into(), v.clone());
        }
    }
    if let Some(c) = m.get("custom_attributes") {
        out.insert("customAttributes".into(), c.clone());
    }
    Value::Object(out)
}

fn wire_role_mappings(block: &Value) -> Value {
    Value::Array(
        block
            .get("role_mappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|m| json!({"groups": m.get("groups").cloned().unwrap_or(json!([])), "roleName": string_field(m, "role")}))
            .collect(),
    )
}

/// The configure body (docs/descope-api.md §11) from the desired fields; what the config does
/// not manage is carried over from the live configuration (the SAML settings are replaced
/// whole).
fn configure_body(s: &TenantSsoSpec, live: &Value) -> Value {
    let f = &s.fields;
    let mut body = Map::new();
    body.insert("tenantId".into(), json!(s.tenant));
    if let Some(id) = &s.sso_id {
        body.insert("ssoId".into(), json!(id));
    }
    if let Some(d) = f.get("domains") {
        body.insert("domains".into(), d.clone());
    }
    let redirect = f
        .get("redirect_url")
        .cloned()
        .or_else(|| live_redirect(live).map(Value::from));
    let saml_live = live.get("saml").cloned().unwrap_or_default();
    let oidc_live = live.get("oidc").cloned().unwrap_or_default();
    let carry = |settings: &mut Map<String, Value>, from: &Value, keys: &[&str]| {
        for k in keys {
            if let Some(v) = from.get(*k).filter(|v| !is_empty(v)) {
                settings.insert((*k).into(), v.clone());
            }
        }
    };
    let saml_block = f.get("saml").or_else(|| f.get("saml_metadata"));
    if let Some(b) = saml_block {
        let mut settings = Map::new();
        if f.contains_key("saml") {
            settings.insert("idpUrl".into(), json!(string_field(b, "idp_url")));
            settings.insert("entityId".into(), json!(string_field(b, "entity_id")));
            settings.insert("idpCert".into(), json!(string_field(b, "cert")));
            settings.insert(
                "idpAdditionalCerts".into(),
                json!(string_list(b, "additional_certs")),
            );
        } else {
            settings.insert(
                "idpMetadataUrl".into(),
                json!(string_field(b, "metadata_url")),
            );
            let entity = string_field(b, "entity_id");
            if !entity.is_empty() {
                settings.insert("entityId".into(), json!(entity));
            }
        }
        settings.insert(
            "attributeMapping".into(),
            wire_saml_mapping(b.get("attribute_mapping").unwrap_or(&Value::Null)),
        );
        settings.insert("roleMappings".into(), wire_role_mappings(b));
        let roles = string_list(b, "default_sso_roles");
        if roles.is_empty() {
            // An empty list alone keeps the stored roles.
            settings.insert("replaceDefaultSSORoles".into(), json!(true));
        }
        settings.insert("defaultSSORoles".into(), json!(roles));
        // Always sent: left out, Descope turns request signing back on.
        let sign = b
            .get("sign_requests")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        settings.insert("disableSignRequest".into(), json!(!sign));
        carry(
            &mut settings,
            &saml_live,
            &[
                "groupsPriority",
                "fgaMappings",
                "configFGATenantIDResourcePrefix",
                "configFGATenantIDResourceSuffix",
                "spACSUrl",
                "spEntityId",
            ],
        );
        body.insert("settings".into(), Value::Object(settings));
        if let Some(r) = redirect {
            body.insert("redirectUrl".into(), r);
        }
    } else if let Some(o) = f.get("oidc") {
        let mut settings = Map::new();
        settings.insert("name".into(), json!(string_field(o, "name")));
        settings.insert("clientId".into(), json!(string_field(o, "client_id")));
        if let Some(secret) = o.get("client_secret") {
            settings.insert("clientSecret".into(), secret.clone());
        }
        for (config, wire) in OIDC_STRINGS {
            settings.insert(wire.into(), json!(string_field(o, config)));
        }
        settings.insert("scope".into(), json!(string_list(o, "scope")));
        settings.insert("prompt".into(), json!(string_list(o, "prompt")));
        let mut mapping = Map::new();
        let m = o.get("attribute_mapping").cloned().unwrap_or_default();
        for (config, wire) in OIDC_ATTRS {
            if let Some(v) = m.get(config) {
                mapping.insert(wire.into(), v.clone());
            }
        }
        settings.insert("userAttrMapping".into(), Value::Object(mapping));
        settings.insert(
            "manageProviderTokens".into(),
            json!(o
                .get("manage_provider_tokens")
                .and_then(Value::as_bool)
                .unwrap_or(false)),
        );
        if let Some(p) = o.get("use_pkce") {
            settings.insert("usePkce".into(), p.clone());
        }
        if let Some(r) = redirect {
            settings.insert("redirectUrl".into(), r);
        }
        carry(
            &mut settings,
            &oidc_live,
            &["groupsPriority", "fgaMappings"],
        );
        body.insert("settings".into(), Value::Object(settings));
    }
    Value::Object(body)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The live configuration's protocol: `saml`, `saml_metadata`, `oidc`, or `None`.
fn live_flavour(v: &Value) -> Option<&'static str> {
    let auth = v
        .get("tenant")
        .map(|t| string_field(t, "authType"))
        .unwrap_or_default();
    let saml = v.get("saml").cloned().unwrap_or_default();
    match auth.as_str() {
        "saml" if !string_field(&saml, "idpMetadataUrl").is_empty() => Some("saml_metadata"),
        "saml" => Some("saml"),
        "oidc" => Some("oidc"),
        _ => None,
    }
}

fn live_redirect(v: &Value) -> Option<String> {
    let block = match live_flavour(v)? {
        "oidc" => "oidc",
        _ => "saml",
    };
    v.get(block).map(|b| string_field(b, "redirectUrl"))
}

fn live_saml_mapping(v: &Value) -> Value {
    let m = v.get("attributeMapping").cloned().unwrap_or_default();
    let mut out = mapping_object(
        SAML_ATTRS
            .iter()
            .map(|(config, wire)| (*config, Some(string_field(&m, wire)))),
    );
    let custom: Map<String, Value> = m
        .get("customAttributes")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter(|(_, v)| v.as_str().is_some_and(|s| !s.is_empty()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if !custom.is_empty() {
        out["custom_attributes"] = Value::Object(custom);
    }
    out
}

fn live_role_mappings(v: &Value) -> Value {
    let mut m: Vec<(String, Vec<String>)> = v
        .get("groupsMapping")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|g| {
            let role = g
                .get("role")
                .map(|r| string_field(r, "name"))
                .unwrap_or_default();
            (role, sorted_set(string_list(g, "groups")))
        })
        .collect();
    m.sort();
    Value::Array(
        m.into_iter()
            .map(|(role, groups)| json!({"groups": groups, "role": role}))
            .collect(),
    )
}

/// One entry of a load-all answer as a live resource; `None` for a default configuration that
/// was never configured (Descope loads it with empty blocks).
fn live_resource(tenant: &str, v: &Value) -> Option<LiveResource> {
    let sso_id = string_field(v, "ssoId");
    let flavour = live_flavour(v);
    if sso_id.is_empty() && flavour.is_none() {
        return None;
    }
    let id = if sso_id.is_empty() {
        DEFAULT.to_string()
    } else {
        sso_id.clone()
    };
    let address = Address::tenant_sso(tenant, &id);
    let mut fields = BTreeMap::new();
    let domains = v
        .get("tenant")
        .map(|t| string_list(t, "domains"))
        .unwrap_or_default();
    fields.insert(
        "domains",
        json!(sorted_set(domains.iter().map(|d| d.to_ascii_lowercase()))),
    );
    if let Some(r) = live_redirect(v) {
        fields.insert("redirect_url", json!(r));
    }
    let saml = v.get("saml").cloned().unwrap_or_default();
    let oidc = v.get("oidc").cloned().unwrap_or_default();
    match flavour {
        Some("saml") => {
            fields.insert(
                "saml",
                json!({
                    "idp_url": string_field(&saml, "idpSSOUrl"),
                    "entity_id": string_field(&saml, "idpEntityId"),
                    "cert": normalize_cert(&string_field(&saml, "idpCertificate")),
                    "additional_certs": string_list(&saml, "idpAdditionalCertificates").iter().map(|c| normalize_cert(c)).collect::<Vec<_>>(),
                    "attribute_mapping": live_saml_mapping(&saml),
                    "role_mappings": live_role_mappings(&saml),
                    "default_sso_roles": sorted_set(string_list(&saml, "defaultSSORoles")),
                }),
            );
        }
        Some("saml_metadata") => {
            fields.insert(
                "saml_metadata",
                json!({
                    "metadata_url": string_field(&saml, "idpMetadataUrl"),
                    "entity_id": string_field(&saml, "idpEntityId"),
                    "attribute_mapping": live_saml_mapping(&saml),
                    "role_mappings": live_role_mappings(&saml),
                    "default_sso_roles": sorted_set(string_list(&saml, "defaultSSORoles")),
                }),
            );
        }
        Some("oidc") => {
            let m = oidc.get("userAttrMapping").cloned().unwrap_or_default();
            let mut block = json!({
                "name": string_field(&oidc, "name"),
                "client_id": string_field(&oidc, "clientId"),
                "scope": sorted_set(string_list(&oidc, "scope")),
                "prompt": sorted_set(string_list(&oidc, "prompt")),
                "attribute_mapping": mapping_object(OIDC_ATTRS.iter().map(|(c, w)| (*c, Some(string_field(&m, w))))),
                "manage_provider_tokens": oidc.get("manageProviderTokens").and_then(Value::as_bool).unwrap_or(false),
            });
            for (config, wire) in OIDC_STRINGS {
                let s = string_field(&oidc, wire);
                block[config] = json!(if config == "grant_type" && s.is_empty() {
                    "authorization_code".to_string()
                } else {
                    s
                });
            }
            fields.insert("oidc", block);
        }
        _ => {}
    }
    // What Descope computes or returns read-only (`spCertificate`, `lastSuccessTestTime`, the
    // ACS URL and entity id) is in `raw` but in no compared field.
    let mut raw = v.clone();
    if let Some(o) = raw.get_mut("oidc").and_then(Value::as_object_mut) {
        // Write-only: a load answers "", which is no value of ours to record.
        o.remove("clientSecret");
    }
    Some(LiveResource::new(
        address,
        TenantSsoSpec {
            tenant: tenant.to_string(),
            sso_id: (!sso_id.is_empty()).then_some(sso_id),
            display_name: None,
            fields,
        },
        raw,
        false,
    ))
}

async fn read_tenant(
    gateway: &crate::api::gateway::Gateway,
    snapshot: &mut LiveSnapshot,
    tenant: &str,
) -> Result<(), crate::api::ApiError> {
    let req = endpoints::sso_load_all(tenant);
    let key = format!("{PREFIX}{tenant}");
    match gateway.read(req.clone()).await {
        Ok(v) if v.is_object() => {
            snapshot.put_document(key, v);
            Ok(())
        }
        Ok(_) => Err(crate::api::ApiError::decode(
            &req,
            "the answer is not a JSON object",
        )),
        // The tenant is gone: so are its configurations.
        Err(e) if e.is_not_found() => {
            snapshot.remove_document(&key);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::live::stand_in_var;

    #[test]
    fn pem_needs_armour_and_a_base64_body() {
        assert!(check_pem("MIIB").is_err());
        assert!(check_pem("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----").is_err());
        assert!(
            check_pem("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----")
                .is_err()
        );
        assert_eq!(
            check_pem("-----BEGIN CERTIFICATE-----\r\n aGVsbG8=\n-----END CERTIFICATE-----\n")
                .unwrap(),
            b"hello"
        );
        // Padding only at the end.
        assert!(
            check_pem("-----BEGIN CERTIFICATE-----\naGk=aGk=\n-----END CERTIFICATE-----").is_err()
        );
    }

    #[test]
    fn the_saml_body_always_says_whether_to_sign_and_clears_roles_explicitly() {
        let c: SsoConfigEntry = serde_json::from_value(json!({
            "domains": ["Acme.com"],
            "saml": {"idp_url": "https://idp", "entity_id": "e", "cert": "-----BEGIN CERTIFICATE-----\naGk=\n-----END CERTIFICATE-----",
                     "role_mappings": [{"groups": ["b", "a"], "role": "Admin"}], "sign_requests": false}
        }))
        .unwrap();
        let spec = TenantSsoSpec {
            tenant: "acme".into(),
            sso_id: None,
            display_name: None,
            fields: desired_fields(&c, c.saml.as_ref().unwrap().cert.clone(), None),
        };
        let live = json!({"saml": {"spACSUrl": "https://acs", "groupsPriority": []}});
        let body = configure_body(&spec, &live);
        assert_eq!(body["settings"]["disableSignRequest"], json!(true));
        assert_eq!(body["settings"]["replaceDefaultSSORoles"], json!(true));
        assert_eq!(body["settings"]["spACSUrl"], json!("https://acs"));
        assert_eq!(
            body["settings"]["roleMappings"],
            json!([{"groups": ["a", "b"], "roleName": "Admin"}])
        );
        assert_eq!(body["domains"], json!(["acme.com"]));
        assert!(body.get("ssoId").is_none());
    }

    #[test]
    fn exported_secret_names_are_visible_and_derived() {
        assert_eq!(secret_var("acme", "google"), "ACME_GOOGLE_CLIENT_SECRET");
        assert_eq!(
            secret_var("acme-eu", "okta.1"),
            "ACME_EU_OKTA_1_CLIENT_SECRET"
        );
    }

    #[test]
    fn stand_ins_are_recognised() {
        let s = crate::secret::SecretRef::new("V", "x", &Secret::new("k")).to_json();
        assert_eq!(stand_in_var(&s), Some("V"));
    }
}
