//! Third-party applications (`third_party_app.<name>`), written under a top-level
//! `third_party_apps:` section (docs/descope-api.md §19). Descope generates each app's id
//! (whether it honours one sent on create is unverified, docs/emulator.md), so the config names
//! an app by its name, unique in a project, and updates and deletes take the id from the live
//! object. Updates are full overrides: the body is the live app with the managed fields
//! replaced.
//!
//! The application secret is Descope's: the create answers it and the secret call hands it out
//! whenever asked. This kind discards the first and never makes the second; nothing the tool
//! reads, plans, exports or backs up holds it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::entries::{self, config_struct, UniqueField};
use super::fields;
use super::{Fields, KindInfo, ListCall, LiveContext, ResourceKind, Spec};
use crate::api::endpoints;
use crate::config::checks::ConfigCheck;
use crate::config::exported::Exported;
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, LiveGraph, LiveSnapshot};
use crate::resource::{DesiredResource, LiveResource};

pub struct ThirdPartyAppKind;

pub const KIND: Kind = Kind::named("third_party_app");

/// (config name, wire name, value when a load leaves it out)
type FieldDef = (&'static str, &'static str, fn() -> Value);

const FIELDS: &[FieldDef] = &[
    ("description", "description", || json!("")),
    ("logo", "logo", || json!("")),
    ("login_page_url", "loginPageUrl", || json!("")),
    ("approved_callback_urls", "approvedCallbackUrls", || {
        json!([])
    }),
    ("permissions_scopes", "permissionsScopes", || json!([])),
    ("attributes_scopes", "attributesScopes", || json!([])),
    ("custom_attributes", "customAttributes", || json!({})),
    ("force_pkce", "forcePkce", || json!(false)),
    ("default_audience", "defaultAudience", || json!("")),
];

/// (wire name, value when a load leaves it out)
type Carried = (&'static str, fn() -> Value);

/// Fields an update carries as read although the config does not manage them, so the full
/// override does not clear them.
const CARRIED: &[Carried] = &[
    ("scopeClaimMapping", || json!([])),
    ("jwtBearerSettings", || json!({})),
];

const INFO: KindInfo = KindInfo::new(
    KIND,
    "Third-party applications",
    &[
        "description",
        "logo",
        "login_page_url",
        "approved_callback_urls",
        "permissions_scopes",
        "attributes_scopes",
        "custom_attributes",
        "force_pkce",
        "default_audience",
    ],
);

const SECTION: ConfigSection = ConfigSection {
    within: None,
    key: "third_party_apps",
    schema: || {
        serde_json::to_value(schemars::schema_for!(Vec<ThirdPartyAppConfig>)).unwrap_or_default()
    },
};

/// The snapshot's name for the apps list (the answer's array is `apps`, a key other
/// application calls share).
const LIST: &str = "third_party_apps";

const NAME: UniqueField<ThirdPartyAppConfig> = UniqueField::name(
    |c| &c.name,
    "a third-party application needs a name",
    "third-party application `{}` is declared twice",
    Some("Descope requires third-party application names to be unique"),
);

config_struct! {
    /// One entry of `third_party_apps:`.
    pub struct ThirdPartyAppConfig {
        /// Unique in the project; the app's address is `third_party_app.<name>`.
        pub name: String,
        ;
        pub description: String,
        pub logo: String,
        pub login_page_url: String,
        /// Compared as a set.
        pub approved_callback_urls: Vec<String>,
        pub permissions_scopes: Vec<ThirdPartyAppScope>,
        pub attributes_scopes: Vec<ThirdPartyAppScope>,
        /// Per-app custom attribute values, by attribute name.
        pub custom_attributes: Map<String, Value>,
        pub force_pkce: bool,
        /// `projectId`, `clientId`, or empty (both).
        pub default_audience: String,
    }
    protect = " Plans that would delete this app are errors.";
}

/// A scope the app may request: `values` are what it grants (Descope's console offers role
/// names for permission scopes and user attributes for attribute scopes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThirdPartyAppScope {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThirdPartyAppSpec {
    pub name: String,
    /// Managed fields by config name, in their compared form.
    pub fields: BTreeMap<&'static str, Value>,
}

impl Spec for ThirdPartyAppSpec {
    fn fields(&self) -> Fields {
        self.fields.iter().map(|(k, v)| (*k, v.clone())).collect()
    }
}

impl Address {
    pub fn third_party_app(name: impl Into<String>) -> Self {
        Address::new(KIND, name)
    }
}

/// A value in the form the planner compares: callback URLs as a set, scopes with every key.
fn compared(config_name: &str, v: Value) -> Value {
    match config_name {
        "approved_callback_urls" => fields::string_set(Some(&v)),
        "permissions_scopes" | "attributes_scopes" => Value::Array(
            v.as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let values: Vec<Value> = s
                        .get("values")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    json!({
                        "name": string_field(s, "name"),
                        "description": string_field(s, "description"),
                        "values": values,
                    })
                })
                .collect(),
        ),
        _ => v,
    }
}

fn config_fields(c: &ThirdPartyAppConfig) -> BTreeMap<&'static str, Value> {
    let v = serde_json::to_value(c).unwrap_or_default();
    FIELDS
        .iter()
        .filter_map(|(name, ..)| {
            v.get(*name)
                .map(|value| (*name, compared(name, value.clone())))
        })
        .collect()
}

fn live_fields(app: &Value) -> BTreeMap<&'static str, Value> {
    FIELDS
        .iter()
        .map(|(name, wire_name, default)| {
            (
                *name,
                compared(name, fields::loaded(app, wire_name, *default)),
            )
        })
        .collect()
}

impl ResourceKind for ThirdPartyAppKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        for (at, a) in entries::checked(cx, &SECTION, &[NAME]) {
            if let Some(aud) = &a.default_audience {
                if !["", "projectId", "clientId"].contains(&aud.as_str()) {
                    cx.problem(
                        &format!("{at}/default_audience"),
                        DiagnosticKind::InvalidValue,
                        format!("default audience `{aud}` is not `projectId` or `clientId`"),
                        Some("leave it out for both".into()),
                    );
                }
            }
            let login_page_url = a.login_page_url.as_deref();
            fields::check_absolute_url(cx, &format!("{at}/login_page_url"), login_page_url);
            let allowed = INFO.managed_fields;
            cx.ignore_changes(&at, &a.ignore_changes, allowed, "a third-party application");
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        for (_, a) in entries::decoded::<ThirdPartyAppConfig>(&input.config.sections, &SECTION) {
            let mut fields = config_fields(&a);
            fields.retain(|k, _| !a.ignore_changes.iter().any(|x| x == k));
            out.insert(entries::desired(
                Address::third_party_app(&a.name),
                ThirdPartyAppSpec {
                    name: a.name.clone(),
                    fields,
                },
                a.protect,
                &a.ignore_changes,
            ));
        }
    }

    fn read_when_named(&self) -> bool {
        true
    }

    fn list(&self) -> Option<ListCall> {
        Some(ListCall {
            request: endpoints::third_party_app_load_all,
            key: LIST,
        })
    }

    fn list_answer_key(&self) -> Option<&'static str> {
        Some("apps")
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        let mut seen = std::collections::BTreeSet::new();
        for a in snapshot.list(LIST) {
            let a = &a;
            let name = string_field(a, "name");
            if name.is_empty() || string_field(a, "id").is_empty() {
                out.warnings.push(format!(
                    "third-party application without a name or id ignored: {a}"
                ));
                continue;
            }
            if !seen.insert(name.clone()) {
                out.warnings.push(format!(
                    "two third-party applications are named `{name}`; only the first is shown as third_party_app.{name}"
                ));
                continue;
            }
            out.insert(LiveResource::new(
                Address::third_party_app(&name),
                ThirdPartyAppSpec {
                    fields: live_fields(a),
                    name,
                },
                a.clone(),
                false,
            ));
        }
    }

    /// No `id`: Descope generates it (module doc).
    fn create_body(&self, d: &DesiredResource) -> Value {
        let s = d.spec::<ThirdPartyAppSpec>();
        let mut m = Map::new();
        m.insert("name".into(), json!(s.name));
        for (name, wire_name, _) in FIELDS {
            if let Some(v) = s.fields.get(name) {
                m.insert((*wire_name).into(), v.clone());
            }
        }
        Value::Object(m)
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let s = d.spec::<ThirdPartyAppSpec>();
        let mut m = Map::new();
        m.insert("id".into(), json!(string_field(live, "id")));
        m.insert("name".into(), json!(s.name));
        for (name, wire_name, default) in FIELDS {
            let v = match s.fields.get(name) {
                Some(v) => v.clone(),
                None => fields::loaded(live, wire_name, *default),
            };
            m.insert((*wire_name).into(), v);
        }
        for (wire_name, default) in CARRIED {
            m.insert(
                (*wire_name).into(),
                fields::loaded(live, wire_name, *default),
            );
        }
        Value::Object(m)
    }

    fn restore_carried(&self) -> &'static [&'static str] {
        &["scopeClaimMapping", "jwtBearerSettings"]
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::third_party_app_create(body.clone()))
    }

    fn update_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::third_party_app_update(body.clone()))
    }

    fn delete_op(&self, address: &Address, live: &Value, _: bool) -> Op {
        let id = string_field(live, "id");
        Op::single(endpoints::third_party_app_delete(&id, address.key())).batched(
            endpoints::THIRD_PARTY_APP_DELETE_BATCH,
            "ids",
            json!(id),
            None,
        )
    }

    fn created_note(&self, address: &Address) -> Option<String> {
        Some(format!(
            "{address}: Descope holds this application's secret; descope-mgmt discarded it and never stores it. \
             Read it in the console (Applications) or with the application secret call \
             (GET /v1/mgmt/thirdparty/app/secret?id=<the app's id, from `descope-mgmt state show {address}`>)"
        ))
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let apps: Vec<Value> = live
            .iter()
            .filter_map(|r| {
                let s = r.spec::<ThirdPartyAppSpec>();
                out.addresses.push(r.address.clone());
                let mut m = Map::new();
                m.insert("name".into(), json!(s.name));
                for (name, _, default) in FIELDS {
                    match s.fields.get(name) {
                        Some(v) if *v != default() => {
                            m.insert((*name).into(), v.clone());
                        }
                        _ => {}
                    }
                }
                let c: ThirdPartyAppConfig = serde_json::from_value(Value::Object(m)).ok()?;
                entries::exported_entry(&c)
            })
            .collect();
        entries::export_section(out, &SECTION, apps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_is_the_live_app_with_the_managed_fields_replaced() {
        let c: ThirdPartyAppConfig = serde_yaml_ng::from_str(
            "{name: Partner, approved_callback_urls: [https://b, https://a]}",
        )
        .unwrap();
        let d = DesiredResource::new(
            Address::third_party_app("Partner"),
            ThirdPartyAppSpec {
                name: c.name.clone(),
                fields: config_fields(&c),
            },
            vec![],
            false,
            false,
            vec![],
        );
        let live = json!({"id": "TPA1", "name": "Partner", "description": "kept", "clientId": "C",
            "scopeClaimMapping": [{"scope": "s"}], "forcePkce": true});
        let body = ThirdPartyAppKind.update_body(&d, &live);
        assert_eq!(
            body,
            json!({"id": "TPA1", "name": "Partner", "description": "kept", "logo": "", "loginPageUrl": "",
                "approvedCallbackUrls": ["https://a", "https://b"], "permissionsScopes": [],
                "attributesScopes": [], "customAttributes": {}, "forcePkce": true, "defaultAudience": "",
                "scopeClaimMapping": [{"scope": "s"}], "jwtBearerSettings": {}})
        );
        let del = ThirdPartyAppKind.delete_op(&d.address, &live, false);
        assert_eq!(del.steps[0].body, Some(json!({"id": "TPA1"})));
        assert!(ThirdPartyAppKind.create_body(&d).get("id").is_none());
    }
}
