//! A tenant's session settings (`tenant_settings.<tenant>`), written in the config as a
//! `settings:` block inside the tenant's entry: whether the tenant's own session settings are
//! enabled, the session, refresh and step-up token lifetimes, the inactivity timeout and JIT
//! provisioning. Descope keeps them behind `GET|POST /v1/mgmt/tenant/settings`
//! (docs/descope-api.md §4), one call per tenant, so they are read only for the tenants whose
//! config declares them (every tenant for `export`).
//!
//! Lifetimes are written `10m`, `12h`, `30d`, `2w`; on the wire they are a number and a unit
//! (`minutes`, `hours`, `days`, `weeks`). Both sides are compared in one canonical form (the
//! largest unit that divides the duration), so `60m` in the config equals `1 hours` live.
//!
//! The update sends the tenant id, the managed fields and `selfProvisioningDomains` (the PY SDK
//! always sends them; docs/emulator.md records what the emulator does with absent keys): the
//! tenant's configured domains when the config manages them, else the live ones, so this
//! update never undoes a domain change the same plan makes to the tenant.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::per_tenant::PerTenantDocuments;
use super::{Fields, KindInfo, Reference, ResourceKind, Spec};
use crate::api::endpoints;
use crate::config::checks::ConfigCheck;
use crate::config::exported::Exported;
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, string_list, LiveSnapshot};
use crate::resource::{sorted_set, DesiredResource, LiveResource};
use crate::secret::Secret;

pub struct TenantSettingsKind;

pub const KIND: Kind = Kind::named("tenant_settings");

const INFO: KindInfo = KindInfo::new(
    KIND,
    "Tenant settings",
    &[
        "enabled",
        "session_token_expiration",
        "refresh_token_expiration",
        "stepup_token_expiration",
        "inactivity_timeout",
        "jit_provisioning",
    ],
);

const DOCS: PerTenantDocuments = PerTenantDocuments {
    kind: KIND,
    prefix: "tenant_settings/",
    load: endpoints::tenant_load_settings,
    project: false,
    to_live: live_resource,
};

const SECTION: ConfigSection = ConfigSection {
    within: Some("tenants"),
    key: "settings",
    schema: || {
        serde_json::to_value(schemars::schema_for!(TenantSettingsConfig)).unwrap_or_default()
    },
};

/// The `settings:` block of a tenant entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettingsConfig {
    /// Use this tenant's own session settings instead of the project's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Session token lifetime: `10m`, `12h`, `30d`, `2w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_expiration: Option<String>,
    /// Refresh token lifetime: `10m`, `12h`, `30d`, `2w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expiration: Option<String>,
    /// Step-up token lifetime: `10m`, `12h`, `30d`, `2w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stepup_token_expiration: Option<String>,
    /// Sign users out after this long without activity (`30m`), or `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactivity_timeout: Option<String>,
    /// Create SSO users on their first sign-in (Descope's `JITDisabled` is the opposite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jit_provisioning: Option<bool>,
    /// Fields left to others (the tenant's admins): never diffed or written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
}

/// Managed fields by their config names; a duration is its canonical text (`""` for unset).
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSettingsSpec {
    pub tenant: String,
    pub fields: BTreeMap<&'static str, Value>,
    /// The tenant's configured self-provisioning domains, sent with the update (module doc).
    pub tenant_domains: Option<Vec<String>>,
    /// Each lifetime as written in the config (desired) or stored by Descope (live), as a wire
    /// number and unit: compared in canonical form, but sent and exported in the user's own
    /// unit, so `14d` stays 14 days in the console instead of becoming 2 weeks.
    pub written: BTreeMap<&'static str, (u64, &'static str)>,
}

impl TenantSettingsSpec {
    /// How to send the lifetime `name` of `minutes`: as written when it was written so, else
    /// in the canonical unit.
    fn wire_form(&self, name: &str, minutes: u64) -> (u64, &'static str) {
        match self.written.get(name) {
            Some(&(n, unit)) if wire_minutes(n, unit) == Some(minutes) => (n, unit),
            _ => {
                let (_, n, unit) = canonical(minutes);
                (n, unit)
            }
        }
    }
}

fn wire_minutes(n: u64, unit: &str) -> Option<u64> {
    UNITS
        .iter()
        .find(|u| u.1 == unit)
        .and_then(|u| n.checked_mul(u.2))
}

impl Spec for TenantSettingsSpec {
    fn fields(&self) -> Fields {
        self.fields.clone()
    }
}

/// The three token lifetimes: config name, wire value key, wire unit key.
const LIFETIMES: [(&str, &str, &str); 3] = [
    (
        "session_token_expiration",
        "sessionTokenExpiration",
        "sessionTokenExpirationUnit",
    ),
    (
        "refresh_token_expiration",
        "refreshTokenExpiration",
        "refreshTokenExpirationUnit",
    ),
    (
        "stepup_token_expiration",
        "stepupTokenExpiration",
        "stepupTokenExpirationUnit",
    ),
];

/// Descope's units, largest first, with their length in minutes.
const UNITS: [(&str, &str, u64); 4] = [
    ("w", "weeks", 7 * 24 * 60),
    ("d", "days", 24 * 60),
    ("h", "hours", 60),
    ("m", "minutes", 1),
];

/// `30d` → minutes. Whole positive numbers with one unit only.
fn parse_duration(text: &str) -> Result<u64, String> {
    parse_written(text).map(|(minutes, _, _)| minutes)
}

/// `14d` → (minutes, 14, "days"): the duration and its wire form as written.
fn parse_written(text: &str) -> Result<(u64, u64, &'static str), String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let (_, long, per) = UNITS
        .iter()
        .copied()
        .find(|(short, _, _)| *short == unit)
        .ok_or_else(|| {
            format!("`{text}` is not a duration: write a whole number and m, h, d or w (`30d`)")
        })?;
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: the number is missing or too large"))?;
    if n == 0 {
        return Err(format!("`{text}`: a lifetime must be above zero"));
    }
    let minutes = n
        .checked_mul(per)
        .ok_or_else(|| format!("`{text}` is too long"))?;
    Ok((minutes, n, long))
}

/// Minutes → the largest unit that divides them: (text, wire number, wire unit).
fn canonical(minutes: u64) -> (String, u64, &'static str) {
    let (short, long, per) = UNITS
        .iter()
        .copied()
        .find(|(_, _, per)| minutes.is_multiple_of(*per))
        .unwrap_or(UNITS[3]);
    (format!("{}{short}", minutes / per), minutes / per, long)
}

/// A live lifetime in canonical text; `""` when unset (zero or no unit).
fn live_duration(v: &Value, value_key: &str, unit_key: &str) -> String {
    let n = v.get(value_key).and_then(Value::as_u64).unwrap_or(0);
    let unit = string_field(v, unit_key);
    match UNITS.iter().find(|u| u.1 == unit) {
        Some(u) if n > 0 => canonical(n * u.2).0,
        _ => String::new(),
    }
}

/// `14d` → (14, "days"): the wire form of a duration as written.
fn wire_form(text: &str) -> Option<(u64, &'static str)> {
    parse_written(text).ok().map(|(_, n, long)| (n, long))
}

/// A wire number and unit as config text: (14, "days") → `14d`.
fn written_text((n, long): (u64, &str)) -> Option<String> {
    UNITS
        .iter()
        .find(|u| u.1 == long)
        .map(|u| format!("{n}{}", u.0))
}

/// A live lifetime's wire form, when set.
fn live_wire_form(v: &Value, value_key: &str, unit_key: &str) -> Option<(u64, &'static str)> {
    let n = v.get(value_key).and_then(Value::as_u64).unwrap_or(0);
    let unit = string_field(v, unit_key);
    UNITS
        .iter()
        .find(|u| u.1 == unit)
        .filter(|_| n > 0)
        .map(|u| (n, u.1))
}

/// The config's value in canonical text (validation reported anything unreadable).
fn config_duration(text: &str) -> Option<String> {
    parse_duration(text).ok().map(|m| canonical(m).0)
}

fn tenant_of(address: &Address) -> &str {
    address.key()
}

impl Address {
    pub fn tenant_settings(tenant: impl Into<String>) -> Self {
        Address::new(KIND, tenant)
    }
}

impl ResourceKind for TenantSettingsKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn per_tenant(&self) -> Option<&'static PerTenantDocuments> {
        Some(&DOCS)
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        let found: Vec<_> = cx.config.sections.of(&SECTION).cloned().collect();
        for v in found {
            let Some(c) = cx.decode::<TenantSettingsConfig>(&v) else {
                continue;
            };
            for (name, _, _) in LIFETIMES {
                let text = match name {
                    "session_token_expiration" => &c.session_token_expiration,
                    "refresh_token_expiration" => &c.refresh_token_expiration,
                    _ => &c.stepup_token_expiration,
                };
                if let Some(Err(why)) = text.as_deref().map(parse_duration) {
                    cx.problem(
                        &format!("{}/{name}", v.pointer),
                        DiagnosticKind::InvalidValue,
                        why,
                        Some("e.g. `10m`, `12h`, `30d` or `2w`".into()),
                    );
                }
            }
            if let Some(t) = c.inactivity_timeout.as_deref().filter(|t| *t != "off") {
                if let Err(why) = parse_duration(t) {
                    cx.problem(
                        &format!("{}/inactivity_timeout", v.pointer),
                        DiagnosticKind::InvalidValue,
                        why,
                        Some("e.g. `30m`, or `off`".into()),
                    );
                }
            }
            let allowed = self.managed_fields();
            cx.ignore_changes(&v.pointer, &c.ignore_changes, allowed, "tenant settings");
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        for v in input.config.sections.of(&SECTION) {
            let (Some(tenant), Ok(c)) = (
                v.owner.as_deref(),
                serde_json::from_value::<TenantSettingsConfig>(v.value.clone()),
            ) else {
                continue; // validation reported it
            };
            let mut fields = BTreeMap::new();
            let mut put = |k: &'static str, v: Option<Value>| {
                if let Some(v) = v.filter(|_| !c.ignore_changes.iter().any(|f| f == k)) {
                    fields.insert(k, v);
                }
            };
            put("enabled", c.enabled.map(Value::from));
            put(
                "session_token_expiration",
                c.session_token_expiration
                    .as_deref()
                    .and_then(config_duration)
                    .map(Value::from),
            );
            put(
                "refresh_token_expiration",
                c.refresh_token_expiration
                    .as_deref()
                    .and_then(config_duration)
                    .map(Value::from),
            );
            put(
                "stepup_token_expiration",
                c.stepup_token_expiration
                    .as_deref()
                    .and_then(config_duration)
                    .map(Value::from),
            );
            put(
                "inactivity_timeout",
                c.inactivity_timeout
                    .as_deref()
                    .and_then(|t| {
                        if t == "off" {
                            Some("off".to_string())
                        } else {
                            config_duration(t)
                        }
                    })
                    .map(Value::from),
            );
            put("jit_provisioning", c.jit_provisioning.map(Value::from));
            let mut written = BTreeMap::new();
            for (name, text) in [
                ("session_token_expiration", &c.session_token_expiration),
                ("refresh_token_expiration", &c.refresh_token_expiration),
                ("stepup_token_expiration", &c.stepup_token_expiration),
                ("inactivity_timeout", &c.inactivity_timeout),
            ] {
                if let Some(form) = text.as_deref().and_then(wire_form) {
                    written.insert(name, form);
                }
            }
            let tenant_domains = input
                .config
                .tenants
                .iter()
                .find(|t| t.id == tenant)
                .and_then(|t| t.domains.clone())
                .map(|d| sorted_set(d.into_iter().map(|d| d.to_lowercase())));
            out.insert(DesiredResource::new(
                Address::tenant_settings(tenant),
                TenantSettingsSpec {
                    tenant: tenant.to_string(),
                    fields,
                    tenant_domains,
                    written,
                },
                vec![Address::tenant(tenant)],
                false,
                false,
                c.ignore_changes.clone(),
            ));
        }
    }

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        super::spec_of::<TenantSettingsSpec>(spec)
            .map(|s| vec![Reference::OwnedBy(Address::tenant(&s.tenant))])
            .unwrap_or_default()
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        self.update_body(d, &Value::Null)
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let s = d.spec::<TenantSettingsSpec>();
        let mut body = Map::new();
        body.insert("tenantId".into(), Value::from(s.tenant.clone()));
        let domains = s.tenant_domains.clone().or_else(|| {
            live.get("selfProvisioningDomains")
                .map(|_| string_list(live, "selfProvisioningDomains"))
        });
        if let Some(domains) = domains {
            body.insert("selfProvisioningDomains".into(), json!(domains));
        }
        for (k, v) in &s.fields {
            match *k {
                "enabled" => {
                    body.insert("enabled".into(), v.clone());
                }
                "jit_provisioning" => {
                    body.insert("JITDisabled".into(), Value::from(v.as_bool() != Some(true)));
                }
                "inactivity_timeout" => match v.as_str().and_then(|t| parse_duration(t).ok()) {
                    Some(minutes) => {
                        let (n, unit) = s.wire_form(k, minutes);
                        body.insert("enableInactivity".into(), Value::from(true));
                        body.insert("inactivityTime".into(), Value::from(n));
                        body.insert("inactivityTimeUnit".into(), Value::from(unit));
                    }
                    None => {
                        body.insert("enableInactivity".into(), Value::from(false));
                    }
                },
                name => {
                    let Some((_, value_key, unit_key)) =
                        LIFETIMES.iter().find(|(n, _, _)| *n == name)
                    else {
                        continue;
                    };
                    if let Some(minutes) = v.as_str().and_then(|t| parse_duration(t).ok()) {
                        let (n, unit) = s.wire_form(k, minutes);
                        body.insert((*value_key).into(), Value::from(n));
                        body.insert((*unit_key).into(), Value::from(unit));
                    }
                }
            }
        }
        Value::Object(body)
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::tenant_update_settings(body.clone()))
    }

    fn read_saved(&self, address: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        Some(live_resource(address.clone(), object))
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        for r in live {
            let s = r.spec::<TenantSettingsSpec>();
            // Lifetimes in the unit Descope stores them in, so an export applied elsewhere
            // reproduces them exactly.
            let text = |k: &str| {
                s.fields
                    .get(k)
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(|t| match s.written.get(k) {
                        Some(&form) if t != "off" => written_text(form).unwrap_or(t.to_string()),
                        _ => t.to_string(),
                    })
            };
            let c = TenantSettingsConfig {
                enabled: s.fields.get("enabled").and_then(Value::as_bool),
                session_token_expiration: text("session_token_expiration"),
                refresh_token_expiration: text("refresh_token_expiration"),
                stepup_token_expiration: text("stepup_token_expiration"),
                inactivity_timeout: text("inactivity_timeout"),
                jit_provisioning: s.fields.get("jit_provisioning").and_then(Value::as_bool),
                ignore_changes: vec![],
            };
            // A tenant on Descope's defaults gets no block: nothing to manage, and a project of
            // hundreds of tenants would otherwise export hundreds of identical blocks.
            let defaults = TenantSettingsConfig {
                inactivity_timeout: Some("off".into()),
                jit_provisioning: Some(true),
                enabled: Some(false),
                ..TenantSettingsConfig::default()
            };
            if c == defaults {
                continue;
            }
            let Ok(value) = serde_json::to_value(&c) else {
                continue;
            };
            out.config
                .sections
                .push(&SECTION, Some(s.tenant.clone()), value);
            out.addresses.push(r.address.clone());
        }
    }
}

/// Settings as read: every managed field is known (zero lifetimes are `""`, unset).
fn live_resource(address: Address, v: &Value) -> LiveResource {
    let tenant = tenant_of(&address).to_string();
    let mut fields = BTreeMap::new();
    fields.insert(
        "enabled",
        Value::from(v.get("enabled").and_then(Value::as_bool).unwrap_or(false)),
    );
    let mut written = BTreeMap::new();
    for (name, value_key, unit_key) in LIFETIMES {
        fields.insert(name, Value::from(live_duration(v, value_key, unit_key)));
        if let Some(form) = live_wire_form(v, value_key, unit_key) {
            written.insert(name, form);
        }
    }
    if let Some(form) = live_wire_form(v, "inactivityTime", "inactivityTimeUnit") {
        written.insert("inactivity_timeout", form);
    }
    let inactive = v
        .get("enableInactivity")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let timeout = live_duration(v, "inactivityTime", "inactivityTimeUnit");
    fields.insert(
        "inactivity_timeout",
        Value::from(if inactive && !timeout.is_empty() {
            timeout
        } else {
            "off".to_string()
        }),
    );
    fields.insert(
        "jit_provisioning",
        Value::from(
            !v.get("JITDisabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
    );
    LiveResource::new(
        address,
        TenantSettingsSpec {
            tenant,
            fields,
            tenant_domains: None,
            written,
        },
        v.clone(),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_compare_in_one_canonical_form() {
        assert_eq!(parse_duration("60m"), Ok(60));
        assert_eq!(canonical(60), ("1h".to_string(), 1, "hours"));
        assert_eq!(canonical(parse_duration("14d").unwrap()).0, "2w");
        assert_eq!(canonical(90).0, "90m");
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999w").is_err());
        let live = json!({"sessionTokenExpiration": 1440, "sessionTokenExpirationUnit": "minutes"});
        assert_eq!(
            live_duration(
                &live,
                "sessionTokenExpiration",
                "sessionTokenExpirationUnit"
            ),
            "1d"
        );
        assert_eq!(live_duration(&json!({}), "x", "y"), "");
    }

    #[test]
    fn the_update_sends_managed_fields_in_wire_form_and_keeps_the_domains() {
        let mut fields = BTreeMap::new();
        fields.insert("session_token_expiration", Value::from("2w"));
        fields.insert("inactivity_timeout", Value::from("off"));
        fields.insert("jit_provisioning", Value::from(false));
        let d = DesiredResource::new(
            Address::tenant_settings("acme"),
            TenantSettingsSpec {
                tenant: "acme".into(),
                fields,
                tenant_domains: None,
                written: BTreeMap::new(),
            },
            vec![],
            false,
            false,
            vec![],
        );
        let live = json!({"selfProvisioningDomains": ["acme.com"], "enabled": true});
        assert_eq!(
            TenantSettingsKind.update_body(&d, &live),
            json!({
                "tenantId": "acme",
                "selfProvisioningDomains": ["acme.com"],
                "sessionTokenExpiration": 2,
                "sessionTokenExpirationUnit": "weeks",
                "enableInactivity": false,
                "JITDisabled": true
            })
        );
    }

    #[test]
    fn a_lifetime_is_sent_in_the_unit_it_was_written_in_and_compared_canonically() {
        assert_eq!(wire_form("14d"), Some((14, "days")));
        assert_eq!(wire_form("2w"), Some((2, "weeks")));
        assert_eq!(wire_form("0d"), None);
        assert_eq!(written_text((14, "days")).as_deref(), Some("14d"));
        let spec = |written: BTreeMap<&'static str, (u64, &'static str)>| TenantSettingsSpec {
            tenant: "acme".into(),
            fields: BTreeMap::from([("refresh_token_expiration", Value::from("2w"))]),
            tenant_domains: None,
            written,
        };
        let d = |written| {
            DesiredResource::new(
                Address::tenant_settings("acme"),
                spec(written),
                vec![],
                false,
                false,
                vec![],
            )
        };
        let body = TenantSettingsKind.update_body(
            &d(BTreeMap::from([("refresh_token_expiration", (14, "days"))])),
            &Value::Null,
        );
        assert_eq!(body["refreshTokenExpiration"], 14);
        assert_eq!(body["refreshTokenExpirationUnit"], "days");
        let body = TenantSettingsKind.update_body(&d(BTreeMap::new()), &Value::Null);
        assert_eq!(body["refreshTokenExpiration"], 2);
        assert_eq!(body["refreshTokenExpirationUnit"], "weeks");
        // 14 days live and 2w in the config are the same lifetime: no change.
        let live = live_resource(
            Address::tenant_settings("acme"),
            &json!({"refreshTokenExpiration": 14, "refreshTokenExpirationUnit": "days"}),
        );
        assert_eq!(
            live.spec::<TenantSettingsSpec>().fields["refresh_token_expiration"],
            "2w"
        );
        assert_eq!(
            live.spec::<TenantSettingsSpec>().written["refresh_token_expiration"],
            (14, "days")
        );
    }
}
