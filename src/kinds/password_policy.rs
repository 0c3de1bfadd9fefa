//! Password policy (`password_policy` for the project, `password_policy.<tenant>` for a
//! tenant's own): whether passwords are enabled, their minimum length and required character
//! classes, expiry, reuse history and lockout (docs/descope-api.md §14). Written as a top-level
//! `password_policy:` block and as a `password_policy:` block inside a tenant entry.
//!
//! Descope answers one call per policy and has no list, so policies are read only for what the
//! config declares (`export`: the project's and every tenant's). A tenant without a policy of
//! its own answers with the project's; `export` writes a tenant's block only where it differs.
//! The update is sent whole (the live object with the managed fields replaced), so it means
//! the same whether Descope treats it as a full override or as a merge. A tenant's policy
//! follows the project's when the config sets both (a new tenant policy inherits the new
//! project values); an existing tenant policy keeps, in the fields its block leaves out, the
//! values it had when planned.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::per_tenant::PerTenantDocuments;
use super::{KindInfo, Reference, ResourceKind, Spec};
use crate::api::endpoints;
use crate::config::checks::ConfigCheck;
use crate::config::exported::Exported;
use crate::config::{ConfigSection, DiagnosticKind};
use crate::kinds::Fields;
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::LiveSnapshot;
use crate::resource::{DesiredResource, LiveResource};
use crate::secret::Secret;

pub struct PasswordPolicyKind;

pub const KIND: Kind = Kind::named("password_policy");

const INFO: KindInfo = KindInfo::new(KIND, "Password policies", FIELD_NAMES).singleton();

const DOCS: PerTenantDocuments = PerTenantDocuments {
    kind: KIND,
    prefix: "password_policy/",
    load: endpoints::password_settings_load,
    project: true,
    to_live: live_resource,
};

const PROJECT: ConfigSection = ConfigSection {
    within: None,
    key: "password_policy",
    schema,
};

const PER_TENANT: ConfigSection = ConfigSection {
    within: Some("tenants"),
    key: "password_policy",
    schema,
};

fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(PasswordPolicyConfig)).unwrap_or_default()
}

/// A `password_policy:` block. Counts of zero turn the rule off.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicyConfig {
    /// Whether users may sign in with a password at all.
    pub enabled: Option<bool>,
    pub min_length: Option<u32>,
    pub lowercase: Option<bool>,
    pub uppercase: Option<bool>,
    pub number: Option<bool>,
    pub non_alphanumeric: Option<bool>,
    /// Passwords expire after this many weeks; 0: never.
    pub expiration_weeks: Option<u32>,
    /// The last N passwords may not be used again; 0: no history.
    pub reuse_history: Option<u32>,
    /// Lock the account after this many failed attempts; 0: never.
    pub lockout_attempts: Option<u32>,
    /// Fields left to others: never diffed or written.
    pub ignore_changes: Vec<String>,
}

/// Config name, wire key, and for a count the wire switch it turns on (`expiration` for
/// `expirationWeeks`); a switch of `None` is a plain flag or number.
const FIELDS: [(&str, &str, Option<&str>); 9] = [
    ("enabled", "enabled", None),
    ("min_length", "minLength", None),
    ("lowercase", "lowercase", None),
    ("uppercase", "uppercase", None),
    ("number", "number", None),
    ("non_alphanumeric", "nonAlphanumeric", None),
    ("expiration_weeks", "expirationWeeks", Some("expiration")),
    ("reuse_history", "reuseAmount", Some("reuse")),
    ("lockout_attempts", "lockAttempts", Some("lock")),
];

const FIELD_NAMES: &[&str] = &[
    "enabled",
    "min_length",
    "lowercase",
    "uppercase",
    "number",
    "non_alphanumeric",
    "expiration_weeks",
    "reuse_history",
    "lockout_attempts",
];

#[derive(Debug, Clone, PartialEq)]
pub struct PasswordPolicySpec {
    /// Empty for the project's policy.
    pub tenant: String,
    pub fields: Fields,
}

impl Spec for PasswordPolicySpec {
    fn fields(&self) -> Fields {
        self.fields.clone()
    }
}

impl Address {
    /// `tenant` empty: the project's policy.
    pub fn password_policy(tenant: impl Into<String>) -> Self {
        Address::new(KIND, tenant)
    }
}

/// The managed fields of a config block (as JSON values, under their config names).
fn config_fields(c: &PasswordPolicyConfig) -> Fields {
    let values: [Option<Value>; 9] = [
        c.enabled.map(Value::from),
        c.min_length.map(Value::from),
        c.lowercase.map(Value::from),
        c.uppercase.map(Value::from),
        c.number.map(Value::from),
        c.non_alphanumeric.map(Value::from),
        c.expiration_weeks.map(Value::from),
        c.reuse_history.map(Value::from),
        c.lockout_attempts.map(Value::from),
    ];
    FIELDS
        .iter()
        .zip(values)
        .filter(|((name, _, _), _)| !c.ignore_changes.iter().any(|f| f == name))
        .filter_map(|((name, _, _), v)| Some((*name, v?)))
        .collect()
}

/// Every managed field of a live policy; a count whose switch is off reads as 0.
fn live_fields(v: &Value) -> Fields {
    FIELDS
        .iter()
        .map(|(name, wire, switch)| {
            let value = match switch {
                // The one plain number; the rest without a switch are flags.
                None if *name == "min_length" => {
                    Value::from(v.get(wire).and_then(Value::as_u64).unwrap_or(0))
                }
                None => Value::from(v.get(wire).and_then(Value::as_bool).unwrap_or(false)),
                Some(on) if v.get(on).and_then(Value::as_bool) == Some(true) => {
                    Value::from(v.get(wire).and_then(Value::as_u64).unwrap_or(0))
                }
                Some(_) => Value::from(0),
            };
            (*name, value)
        })
        .collect()
}

impl ResourceKind for PasswordPolicyKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn per_tenant(&self) -> Option<&'static PerTenantDocuments> {
        Some(&DOCS)
    }

    fn check_key(&self, _: &str) -> Result<(), String> {
        Ok(()) // `password_policy.<tenant>`
    }

    fn example_address(&self) -> String {
        "password_policy, password_policy.<tenant-id>".into()
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[PROJECT, PER_TENANT]
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        let found: Vec<_> = [PROJECT, PER_TENANT]
            .iter()
            .flat_map(|s| cx.config.sections.of(s).cloned().collect::<Vec<_>>())
            .collect();
        for v in found {
            let Some(c) = cx.decode::<PasswordPolicyConfig>(&v) else {
                continue;
            };
            if c.min_length == Some(0) {
                cx.problem(
                    &format!("{}/min_length", v.pointer),
                    DiagnosticKind::InvalidValue,
                    "a minimum length of 0 allows empty passwords".into(),
                    Some("write 1 or more (Descope's default is 8)".into()),
                );
            }
            cx.ignore_changes(
                &v.pointer,
                &c.ignore_changes,
                FIELD_NAMES,
                "a password policy",
            );
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        // A tenant's policy starts from the project's (a new one inherits it): when the config
        // also sets the project's, that goes first, so what the tenant inherits does not
        // depend on which request happens to run first.
        let project_declared = input.config.sections.of(&PROJECT).next().is_some();
        for section in [PROJECT, PER_TENANT] {
            for v in input.config.sections.of(&section) {
                let tenant = match section.within {
                    None => String::new(),
                    Some(_) => match &v.owner {
                        Some(t) => t.clone(),
                        None => continue, // a tenant without an id: validation reported it
                    },
                };
                let Ok(c) = serde_json::from_value::<PasswordPolicyConfig>(v.value.clone()) else {
                    continue;
                };
                let mut deps = Vec::new();
                if !tenant.is_empty() {
                    deps.push(Address::tenant(&tenant));
                    if project_declared {
                        deps.push(Address::password_policy(""));
                    }
                }
                out.insert(DesiredResource::new(
                    Address::password_policy(&tenant),
                    PasswordPolicySpec {
                        fields: config_fields(&c),
                        tenant,
                    },
                    deps,
                    false,
                    false,
                    c.ignore_changes.clone(),
                ));
            }
        }
    }

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        match super::spec_of::<PasswordPolicySpec>(spec) {
            Some(s) if !s.tenant.is_empty() => vec![Reference::OwnedBy(Address::tenant(&s.tenant))],
            _ => vec![],
        }
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        self.update_body(d, &Value::Null)
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let s = d.spec::<PasswordPolicySpec>();
        let mut body: Map<String, Value> = live.as_object().cloned().unwrap_or_default();
        body.insert("tenantId".into(), Value::from(s.tenant.clone()));
        for (name, wire, switch) in FIELDS {
            let Some(v) = s.fields.get(name) else {
                continue;
            };
            body.insert(wire.into(), v.clone());
            if let Some(on) = switch {
                body.insert(on.into(), Value::from(v.as_u64().unwrap_or(0) > 0));
            }
        }
        Value::Object(body)
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::password_settings_update(body.clone()))
    }

    fn read_saved(&self, address: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        Some(live_resource(address.clone(), object))
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let project = live
            .iter()
            .find(|r| r.address.key().is_empty())
            .map(|r| r.spec::<PasswordPolicySpec>().fields.clone());
        for r in live {
            let s = r.spec::<PasswordPolicySpec>();
            // A tenant on the project's policy has none of its own worth writing.
            if !s.tenant.is_empty() && project.as_ref() == Some(&s.fields) {
                continue;
            }
            let value: Map<String, Value> = s
                .fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            let (section, owner) = match s.tenant.is_empty() {
                true => (PROJECT, None),
                false => (PER_TENANT, Some(s.tenant.clone())),
            };
            out.config
                .sections
                .push(&section, owner, Value::Object(value));
            out.addresses.push(r.address.clone());
        }
    }
}

fn live_resource(address: Address, v: &Value) -> LiveResource {
    LiveResource::new(
        address.clone(),
        PasswordPolicySpec {
            tenant: address.key().to_string(),
            fields: live_fields(v),
        },
        v.clone(),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_turn_their_switch_on_and_off() {
        let c = PasswordPolicyConfig {
            min_length: Some(12),
            lockout_attempts: Some(5),
            expiration_weeks: Some(0),
            ..Default::default()
        };
        let d = DesiredResource::new(
            Address::password_policy(""),
            PasswordPolicySpec {
                tenant: String::new(),
                fields: config_fields(&c),
            },
            vec![],
            false,
            false,
            vec![],
        );
        let live =
            json!({"enabled": true, "minLength": 8, "expiration": true, "expirationWeeks": 4});
        let body = PasswordPolicyKind.update_body(&d, &live);
        assert_eq!(
            body,
            json!({"tenantId": "", "enabled": true, "minLength": 12, "expiration": false,
                   "expirationWeeks": 0, "lock": true, "lockAttempts": 5})
        );
        // Read back, the body shows exactly what the config asked for.
        let fields = live_fields(&body);
        for (k, v) in config_fields(&c) {
            assert_eq!(fields[k], v, "{k}");
        }
        assert_eq!(fields["uppercase"], json!(false));
    }

    #[test]
    fn a_count_whose_switch_is_off_reads_as_zero() {
        let f = live_fields(&json!({"reuse": false, "reuseAmount": 3}));
        assert_eq!(f["reuse_history"], json!(0));
        assert_eq!(f["min_length"], json!(0));
    }
}
