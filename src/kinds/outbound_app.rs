//! Outbound applications (`outbound_app.<id>`): the OAuth providers Descope fetches tokens
//! from on a user's behalf (docs/descope-api.md §19), written under a top-level
//! `outbound_apps:` list keyed by a caller-chosen `id`. One `outbound/apps` read shows them all.
//! Create sends a flat body; update wraps it as `{"app": …}` and overrides everything, so its
//! body is the live app with the managed fields replaced. The client secret is write-only:
//! `client_secret: ${secret:VAR}`, compared with what the last apply sent
//! (`src/resource/write_only.rs`), never read back, exported as a placeholder.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::entries::{self, config_struct, UniqueField};
use super::fields;
use super::{
    Fields, KeyedCalls, KindInfo, LiveContext, LiveRead, ReadFuture, ReadScope, ResourceKind, Spec,
};
use crate::api::endpoints;
use crate::config::checks::ConfigCheck;
use crate::config::exported::{escape, escape_value, Exported};
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::{Address, Kind};
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, LiveGraph, LiveSnapshot};
use crate::resource::{DesiredResource, LiveResource};
use crate::secret::Secret;

pub struct OutboundAppKind;

pub const KIND: Kind = Kind::named("outbound_app");

const CALLS: KeyedCalls = KeyedCalls {
    create: endpoints::outbound_app_create,
    update: endpoints::outbound_app_update,
    delete: endpoints::outbound_app_delete,
};

const INFO: KindInfo = KindInfo::new(KIND, "Outbound applications", FIELD_NAMES);

const SECTION: ConfigSection = ConfigSection {
    within: None,
    key: "outbound_apps",
    schema: || {
        serde_json::to_value(schemars::schema_for!(Vec<OutboundAppConfig>)).unwrap_or_default()
    },
};

/// The snapshot list (not `apps`: third-party applications answer under that key too).
const LIST: &str = "outbound_apps";

const NAME: UniqueField<OutboundAppConfig> = UniqueField::name(
    |c| &c.name,
    "an outbound application needs a name",
    "two outbound applications are named `{}`",
    Some("outbound application names are unique in a project"),
);

const ID: UniqueField<OutboundAppConfig> = UniqueField {
    value: |c| &c.id,
    field: "id",
    usable: |id| !id.trim().is_empty() && !id.contains('/'),
    unusable: "an outbound application needs an id without `/`",
    unusable_hint: Some("the id is part of the app's address, `outbound_app.<id>`"),
    twice: "outbound application `{}` is declared twice",
    twice_hint: None,
};

/// Config name and wire key of every managed field but `name` and the secret.
const FIELDS: [(&str, &str); 16] = [
    ("description", "description"),
    ("logo", "logo"),
    ("template_id", "templateId"),
    ("client_id", "clientId"),
    ("discovery_url", "discoveryUrl"),
    ("authorization_url", "authorizationUrl"),
    ("authorization_url_params", "authorizationUrlParams"),
    ("token_url", "tokenUrl"),
    ("token_url_params", "tokenUrlParams"),
    ("revocation_url", "revocationUrl"),
    ("default_scopes", "defaultScopes"),
    ("default_redirect_url", "defaultRedirectUrl"),
    ("callback_domain", "callbackDomain"),
    ("pkce", "pkce"),
    ("access_type", "accessType"),
    ("prompt", "prompt"),
];

const FIELD_NAMES: &[&str] = &[
    "name",
    "description",
    "logo",
    "template_id",
    "client_id",
    "client_secret",
    "discovery_url",
    "authorization_url",
    "authorization_url_params",
    "token_url",
    "token_url_params",
    "revocation_url",
    "default_scopes",
    "default_redirect_url",
    "callback_domain",
    "pkce",
    "access_type",
    "prompt",
];

const URL_FIELDS: [&str; 5] = [
    "discovery_url",
    "authorization_url",
    "token_url",
    "revocation_url",
    "default_redirect_url",
];

config_struct! {
    /// One entry of `outbound_apps:`.
    pub struct OutboundAppConfig {
        /// Chosen by you, unique in the project; the app's address is `outbound_app.<id>`.
        pub id: String,
        /// Unique in the project.
        pub name: String,
        ;
        pub description: String,
        /// A logo URL.
        pub logo: String,
        /// The Descope template the app was made from.
        pub template_id: String,
        pub client_id: String,
        /// Write-only: `${secret:VAR}`. Descope never returns it; a plan compares it with what the
        /// last apply sent.
        pub client_secret: String,
        pub discovery_url: String,
        pub authorization_url: String,
        /// Extra query parameters of the authorization request.
        pub authorization_url_params: Vec<UrlParamConfig>,
        pub token_url: String,
        /// Extra parameters of the token request.
        pub token_url_params: Vec<UrlParamConfig>,
        pub revocation_url: String,
        /// Compared as a set.
        pub default_scopes: Vec<String>,
        pub default_redirect_url: String,
        pub callback_domain: String,
        pub pkce: bool,
        pub access_type: AccessTypeConfig,
        /// OAuth `prompt` values, compared as a set.
        pub prompt: Vec<PromptConfig>,
    }
    protect = " Plans that would delete this app are errors.";
}

/// A URL parameter, `{name, value}` (what PY sends; docs/descope-api.md §19).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlParamConfig {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessTypeConfig {
    Offline,
    Online,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromptConfig {
    None,
    Login,
    Consent,
    SelectAccount,
}

/// Managed fields by config name, values in the config's form (URL params as `{name, value}`,
/// scopes and prompts sorted); `client_secret` is a stand-in.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundAppSpec {
    pub id: String,
    pub fields: Fields,
}

impl Spec for OutboundAppSpec {
    fn fields(&self) -> Fields {
        self.fields.clone()
    }
}

impl Address {
    pub fn outbound_app(id: impl Into<String>) -> Self {
        Address::new(KIND, id)
    }
}

fn valid_url(s: &str) -> bool {
    reqwest::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host())
}

/// URL parameters in one form, whatever the server kept (`name` from PY, `key` from GO).
fn params_of(v: Option<&Value>) -> Value {
    let params: Vec<Value> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let name = p.get("name").or_else(|| p.get("key"));
            json!({
                "name": name.and_then(Value::as_str).unwrap_or_default(),
                "value": p.get("value").and_then(Value::as_str).unwrap_or_default(),
            })
        })
        .collect();
    Value::Array(params)
}

/// A live app's managed fields, in the config's form.
fn live_fields(app: &Value) -> Fields {
    let mut m = Fields::new();
    m.insert("name", Value::from(string_field(app, "name")));
    for (name, wire) in FIELDS {
        let v = app.get(wire);
        let value = match name {
            "authorization_url_params" | "token_url_params" => params_of(v),
            "default_scopes" | "prompt" => fields::string_set(v),
            "pkce" => Value::from(v.and_then(Value::as_bool).unwrap_or(false)),
            _ => Value::from(v.and_then(Value::as_str).unwrap_or_default()),
        };
        m.insert(name, value);
    }
    m
}

/// The config's fields (as JSON, under their config names), less the ignored ones.
fn config_fields(c: &OutboundAppConfig) -> Fields {
    let v = serde_json::to_value(c).unwrap_or_default();
    let mut m = Fields::new();
    m.insert("name", Value::from(c.name.clone()));
    for (name, _) in FIELDS {
        let Some(value) = v.get(name) else {
            continue;
        };
        let value = match name {
            "default_scopes" | "prompt" => fields::string_set(Some(value)),
            _ => value.clone(),
        };
        m.insert(name, value);
    }
    m.retain(|k, _| !c.ignore_changes.iter().any(|f| f == k));
    m
}

fn live_resource(app: &Value) -> Option<LiveResource> {
    let id = string_field(app, "id");
    (!id.is_empty()).then(|| {
        LiveResource::new(
            Address::outbound_app(&id),
            OutboundAppSpec {
                id,
                fields: live_fields(app),
            },
            app.clone(),
            false,
        )
    })
}

/// The managed fields of `spec` written into `body` under their wire keys.
fn put_fields(body: &mut Map<String, Value>, spec: &OutboundAppSpec) {
    if let Some(name) = spec.fields.get("name") {
        body.insert("name".into(), name.clone());
    }
    for (name, wire) in FIELDS {
        if let Some(v) = spec.fields.get(name) {
            body.insert(wire.into(), v.clone());
        }
    }
    if let Some(secret) = spec.fields.get("client_secret") {
        body.insert("clientSecret".into(), secret.clone());
    }
}

/// The variable an exported app's secret is read from: visible, derived from the address.
fn secret_variable(id: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect();
    format!("OUTBOUND_APP_{id}_CLIENT_SECRET")
}

/// Where a `${secret:VAR}` may stand: an entry's `client_secret`.
fn secret_pointer(pointer: &str) -> Option<usize> {
    match pointer.split('/').collect::<Vec<_>>().as_slice() {
        ["", "outbound_apps", i, "client_secret"] => i.parse().ok(),
        _ => None,
    }
}

/// The apps list, read whether or not the snapshot has it.
async fn read_apps(io: LiveRead<'_>) -> Result<(), crate::api::ApiError> {
    let apps = io
        .gateway
        .read_list(endpoints::outbound_apps_load_all(), "apps")
        .await?;
    io.snapshot.put_raw_list(LIST, apps);
    Ok(())
}

impl ResourceKind for OutboundAppKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn accepts_secret_at(&self, config_pointer: &str) -> bool {
        secret_pointer(config_pointer).is_some()
    }

    fn write_only_fields(&self) -> &'static [&'static str] {
        &["/client_secret"]
    }

    /// The secret sits flat in a create and inside `app` in an update.
    fn secret_body_pointer(&self, attribute: &str) -> Option<String> {
        matches!(attribute, "clientSecret" | "app/clientSecret").then(|| format!("/{attribute}"))
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        for (at, a) in entries::checked(cx, &SECTION, &[ID, NAME]) {
            let value = serde_json::to_value(&a).unwrap_or_default();
            for field in URL_FIELDS {
                if let Some(url) = value.get(field).and_then(Value::as_str) {
                    if !valid_url(url) {
                        cx.problem(
                            &format!("{at}/{field}"),
                            DiagnosticKind::InvalidValue,
                            format!("`{url}` is not an http(s) URL"),
                            Some("e.g. `https://oauth2.googleapis.com/token`".into()),
                        );
                    }
                }
            }
            cx.ignore_changes(
                &at,
                &a.ignore_changes,
                FIELD_NAMES,
                "an outbound application",
            );
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, errors: &mut Vec<String>) {
        for (at, a) in entries::decoded::<OutboundAppConfig>(&input.config.sections, &SECTION) {
            let address = Address::outbound_app(&a.id);
            let mut fields = config_fields(&a);
            let pointer = format!("{at}/client_secret");
            match &a.client_secret {
                Some(_) if a.ignore_changes.iter().any(|f| f == "client_secret") => {}
                Some(plain) => match out.secret_stand_in(
                    input,
                    &pointer,
                    plain,
                    &address,
                    &["clientSecret", "app/clientSecret"],
                ) {
                    Some(stand_in) => {
                        fields.insert("client_secret", stand_in);
                    }
                    None => errors.push(format!(
                        "{address}: client_secret must be a `${{secret:VAR}}` reference (a literal \
                         would be stored in plan files)"
                    )),
                },
                None => {}
            }
            out.insert(entries::desired(
                address,
                OutboundAppSpec {
                    id: a.id.clone(),
                    fields,
                },
                a.protect,
                &a.ignore_changes,
            ));
        }
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, scope: &'a ReadScope) -> ReadFuture<'a> {
        Box::pin(async move {
            if !scope.names_kind(KIND) || io.snapshot.has_list(LIST) {
                return Ok(());
            }
            read_apps(io).await
        })
    }

    fn read_count(&self, scope: &ReadScope) -> usize {
        usize::from(scope.names_kind(KIND))
    }

    /// After a write the list is read afresh, whatever the snapshot already holds.
    fn read_one<'a>(&'a self, io: LiveRead<'a>, _: &'a Address) -> ReadFuture<'a> {
        Box::pin(read_apps(io))
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        for app in snapshot.list(LIST) {
            let app = &app;
            match live_resource(app) {
                Some(r) => out.insert(r),
                None => out
                    .warnings
                    .push(format!("outbound application without an id ignored: {app}")),
            }
        }
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let s = d.spec::<OutboundAppSpec>();
        let mut body = Map::new();
        body.insert("id".into(), json!(s.id));
        put_fields(&mut body, s);
        Value::Object(body)
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let s = d.spec::<OutboundAppSpec>();
        let mut body = live.as_object().cloned().unwrap_or_default();
        body.insert("id".into(), json!(s.id));
        put_fields(&mut body, s);
        Value::Object(body)
    }

    fn keyed_calls(&self) -> Option<&'static KeyedCalls> {
        Some(&CALLS)
    }

    fn read_saved(&self, address: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        live_resource(object).filter(|r| &r.address == address)
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let apps: Vec<Value> = live
            .iter()
            .map(|r| {
                let s = r.spec::<OutboundAppSpec>();
                let mut entry = Map::new();
                entry.insert("id".into(), json!(escape(&s.id)));
                for name in FIELD_NAMES {
                    let Some(v) = s.fields.get(name) else {
                        continue;
                    };
                    let empty = match v {
                        Value::String(x) => x.is_empty(),
                        Value::Array(x) => x.is_empty(),
                        Value::Bool(b) => !b,
                        _ => v.is_null(),
                    };
                    if !empty || *name == "name" {
                        entry.insert(name.to_string(), escape_value(v));
                    }
                }
                // The secret cannot be read: a placeholder the user sets, for apps that have a
                // client (an app without a client id has no secret worth asking for).
                if entry.contains_key("client_id") {
                    entry.insert(
                        "client_secret".into(),
                        json!(format!("${{secret:{}}}", secret_variable(&s.id))),
                    );
                }
                out.addresses.push(r.address.clone());
                Value::Object(entry)
            })
            .collect();
        entries::export_section(out, &SECTION, apps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(fields: Fields) -> DesiredResource {
        DesiredResource::new(
            Address::outbound_app("google"),
            OutboundAppSpec {
                id: "google".into(),
                fields,
            },
            vec![],
            false,
            false,
            vec![],
        )
    }

    #[test]
    fn an_update_is_the_whole_app_wrapped_and_a_create_is_flat() {
        let mut f = Fields::new();
        f.insert("name", json!("Google"));
        f.insert("token_url_params", json!([{"name": "aud", "value": "x"}]));
        f.insert("client_secret", json!({"secret": "S", "hmac": "h"}));
        let d = desired(f);
        let live = json!({"id": "google", "name": "Old", "description": "kept",
                          "tokenUrlParams": [{"key": "aud", "value": "y"}]});
        let op = OutboundAppKind.update_op(
            &Address::outbound_app("google"),
            &OutboundAppKind.update_body(&d, &live),
        );
        assert_eq!(
            op.steps[0].body,
            Some(
                json!({"app": {"id": "google", "name": "Google", "description": "kept",
                "tokenUrlParams": [{"name": "aud", "value": "x"}],
                "clientSecret": {"secret": "S", "hmac": "h"}}})
            )
        );
        let create = OutboundAppKind.create_body(&d);
        assert_eq!(create["id"], "google");
        assert_eq!(create["clientSecret"]["secret"], "S");
        // The secret is resolved exactly where each body holds it.
        assert_eq!(
            OutboundAppKind.secret_body_pointer("app/clientSecret"),
            Some("/app/clientSecret".into())
        );
    }

    #[test]
    fn live_url_params_read_the_same_in_either_sdks_form() {
        let a = live_fields(&json!({"tokenUrlParams": [{"key": "k", "value": "v"}]}));
        let b = live_fields(&json!({"tokenUrlParams": [{"name": "k", "value": "v"}]}));
        assert_eq!(a["token_url_params"], b["token_url_params"]);
        assert_eq!(a["pkce"], json!(false));
        assert!(!a.contains_key("client_secret"));
    }
}
