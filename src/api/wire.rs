//! The JSON Descope exchanges (docs/descope-api.md §4-7).
//!
//! Response types are tolerant on purpose: unknown fields are
//! ignored, and a missing field or a JSON `null` reads as its default, because the server and the
//! SDKs disagree on whether default values are sent (GO sends `null` slices). The envelope is
//! not: a list answer without its list, or an export without its document, is an error, never
//! an empty project (issue 14 §2). Fingerprints are taken over the raw live objects, so
//! `list_objects` and `tenant_object` hand those out as they came.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A missing field and `null` both mean "not set" (docs/descope-api.md §3).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Timestamps and versions are integers, but a float or a numeric string must not make a whole
/// listing unreadable.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or_default(),
        Value::String(s) => s.trim().parse().unwrap_or_default(),
        _ => 0,
    })
}

/// `parent` is only in the DOCS schema; a response without it says nothing about the parent
/// (docs/design.md §2: an unreturned field is unknown, never a reason to replace).
fn present_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(Option::<String>::deserialize(d)?.unwrap_or_default()))
}

// ---------------------------------------------------------------- responses

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Tenant {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(rename = "selfProvisioningDomains", deserialize_with = "nullable")]
    pub self_provisioning_domains: Vec<String>,
    #[serde(rename = "customAttributes", deserialize_with = "nullable")]
    pub custom_attributes: Map<String, Value>,
    #[serde(rename = "authType", deserialize_with = "nullable")]
    pub auth_type: String,
    #[serde(deserialize_with = "nullable")]
    pub domains: Vec<String>,
    #[serde(rename = "createdTime", deserialize_with = "lenient_i64")]
    pub created_time: i64,
    #[serde(deserialize_with = "nullable")]
    pub disabled: bool,
    #[serde(rename = "enforceSSO", deserialize_with = "nullable")]
    pub enforce_sso: bool,
    #[serde(rename = "enforceSSOExclusions", deserialize_with = "nullable")]
    pub enforce_sso_exclusions: Vec<String>,
    #[serde(rename = "federatedAppIds", deserialize_with = "nullable")]
    pub federated_app_ids: Vec<String>,
    /// `None` when the response did not carry the field (unknown), `Some("")` for a root tenant.
    #[serde(deserialize_with = "present_string")]
    pub parent: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub successors: Vec<String>,
    #[serde(rename = "defaultRoles", deserialize_with = "nullable")]
    pub default_roles: Vec<String>,
    #[serde(rename = "roleInheritance", deserialize_with = "nullable")]
    pub role_inheritance: String,
}

impl Tenant {
    /// The parent tenant id, if known and set.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent.as_deref().filter(|p| !p.is_empty())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    #[serde(deserialize_with = "nullable")]
    pub domains: Vec<String>,
    #[serde(rename = "selfProvisioningDomains", deserialize_with = "nullable")]
    pub self_provisioning_domains: Vec<String>,
    #[serde(rename = "authType", deserialize_with = "nullable")]
    pub auth_type: String,
    /// Session settings enabled (GO calls it `sessionSettingsEnabled`; the wire says `enabled`).
    #[serde(deserialize_with = "nullable")]
    pub enabled: bool,
    #[serde(rename = "refreshTokenExpiration", deserialize_with = "lenient_i64")]
    pub refresh_token_expiration: i64,
    #[serde(rename = "refreshTokenExpirationUnit", deserialize_with = "nullable")]
    pub refresh_token_expiration_unit: String,
    #[serde(rename = "sessionTokenExpiration", deserialize_with = "lenient_i64")]
    pub session_token_expiration: i64,
    #[serde(rename = "sessionTokenExpirationUnit", deserialize_with = "nullable")]
    pub session_token_expiration_unit: String,
    #[serde(rename = "stepupTokenExpiration", deserialize_with = "lenient_i64")]
    pub stepup_token_expiration: i64,
    #[serde(rename = "stepupTokenExpirationUnit", deserialize_with = "nullable")]
    pub stepup_token_expiration_unit: String,
    #[serde(rename = "enableInactivity", deserialize_with = "nullable")]
    pub enable_inactivity: bool,
    /// NODE's type spells it with a capital I; accepted too.
    #[serde(
        rename = "inactivityTime",
        alias = "InactivityTime",
        deserialize_with = "lenient_i64"
    )]
    pub inactivity_time: i64,
    #[serde(
        rename = "inactivityTimeUnit",
        alias = "InactivityTimeUnit",
        deserialize_with = "nullable"
    )]
    pub inactivity_time_unit: String,
    #[serde(rename = "JITDisabled", deserialize_with = "nullable")]
    pub jit_disabled: bool,
    /// Opaque: `{"enabled", "styleId", "disabledFeatures": {..}}`.
    #[serde(rename = "ssoSetupSuiteSettings", deserialize_with = "nullable")]
    pub sso_setup_suite_settings: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Role {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub description: String,
    #[serde(rename = "permissionNames", deserialize_with = "nullable")]
    pub permission_names: Vec<String>,
    #[serde(rename = "createdTime", deserialize_with = "lenient_i64")]
    pub created_time: i64,
    /// `""` for a project role.
    #[serde(rename = "tenantId", deserialize_with = "nullable")]
    pub tenant_id: String,
    #[serde(deserialize_with = "nullable")]
    pub default: bool,
    #[serde(deserialize_with = "nullable")]
    pub private: bool,
}

impl Role {
    /// The tenant of a tenant-scoped role; `None` for a project role.
    pub fn tenant(&self) -> Option<&str> {
        Some(self.tenant_id.as_str()).filter(|t| !t.is_empty())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Permission {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub description: String,
    /// Shipped with the project; never modified or deleted by this tool.
    #[serde(rename = "systemDefault", deserialize_with = "nullable")]
    pub system_default: bool,
}

/// One entry of `flow/list`. `version`/`etag`/`modifiedTime` are what plan fingerprints a flow by.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FlowSummary {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub description: String,
    #[serde(deserialize_with = "nullable")]
    pub disabled: bool,
    #[serde(deserialize_with = "lenient_i64")]
    pub version: i64,
    #[serde(deserialize_with = "nullable")]
    pub etag: String,
    #[serde(rename = "modifiedTime", deserialize_with = "lenient_i64")]
    pub modified_time: i64,
}

/// Answer of the license handshake: `tier1`..`tier4` (free, pro, growth, enterprise).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct License {
    #[serde(rename = "rateLimitTier", deserialize_with = "nullable")]
    pub rate_limit_tier: String,
}

// ---------------------------------------------------------------- reading bodies

/// The raw objects of a list response (`{"tenants": [..]}` with `field = "tenants"`), as the
/// server sent them. A missing or `null` list is empty.
pub fn list_objects(body: Value, field: &str) -> Result<Vec<Value>, String> {
    let Value::Object(mut obj) = body else {
        return Err(format!(
            "expected a JSON object with a `{field}` list, got {}",
            short(&body)
        ));
    };
    // Taken out of the answer, not copied: a 50k-tenant list is the largest thing a plan holds.
    match obj.remove(field) {
        // A body without the list is not an empty project: reading it as one would plan to
        // create everything that exists (issue 14 §2).
        None => Err(format!(
            "expected a JSON object with a `{field}` list, got {}",
            short(&Value::Object(obj))
        )),
        // Go servers write an empty slice as `null` (docs/descope-api.md: `null` means not set).
        Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            if let Some((i, bad)) = items.iter().enumerate().find(|(_, v)| !v.is_object()) {
                return Err(format!(
                    "entry {i} of `{field}` is not a JSON object: {}",
                    short(bad)
                ));
            }
            Ok(items)
        }
        Some(other) => Err(format!("`{field}` is not a list: {}", short(&other))),
    }
}

/// [`list_objects`] read off a body's text without parsing the objects: each comes back as
/// the server wrote it. `None` when the body is not a JSON object at all (the caller's decode
/// says what it is); every other refusal is `list_objects`' own, in its words.
pub fn list_raw(body: &[u8], field: &str) -> Option<Result<Vec<Box<RawValue>>, String>> {
    let top: HashMap<String, &RawValue> = serde_json::from_slice(body).ok()?;
    // Only a refusal parses the whole answer, for `list_objects` to describe it.
    let refusal = || {
        let parsed = serde_json::from_slice(body).unwrap_or(Value::Null);
        list_objects(parsed, field)
            .err()
            .unwrap_or_else(|| format!("`{field}` could not be read"))
    };
    let Some(list) = top.get(field) else {
        return Some(Err(refusal()));
    };
    if list.get().trim() == "null" {
        return Some(Ok(Vec::new()));
    }
    match serde_json::from_str::<Vec<Box<RawValue>>>(list.get()) {
        Ok(items) if items.iter().all(|i| i.get().trim_start().starts_with('{')) => Some(Ok(items)),
        _ => Some(Err(refusal())),
    }
}

/// One object of a list `list_raw` handed out, parsed. The text is JSON the server sent and
/// `list_raw` checked; an object too deeply nested for the parser reads as null, which every
/// kind reports as unreadable.
pub fn list_object(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The text of a parsed object, as `list_raw` hands objects out.
pub fn raw_text(object: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(object).expect("a serde_json::Value always serializes")
}

/// A list response decoded into typed entries.
pub fn parse_list<T: for<'de> Deserialize<'de>>(
    body: &Value,
    field: &str,
) -> Result<Vec<T>, String> {
    list_objects(body.clone(), field)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| serde_json::from_value(v).map_err(|e| format!("entry {i} of `{field}`: {e}")))
        .collect()
}

/// Decode one object into a typed value.
pub fn parse<T: for<'de> Deserialize<'de>>(body: &Value) -> Result<T, String> {
    if !body.is_object() {
        return Err(format!("expected a JSON object, got {}", short(body)));
    }
    serde_json::from_value(body.clone()).map_err(|e| e.to_string())
}

/// The raw tenant of a load-one answer. All SDKs read it unwrapped; the DOCS show
/// `{"tenant": {..}}`; both are accepted. A body with its own `id` is a tenant even if one of its
/// custom fields were called `tenant`.
pub fn tenant_object(body: &Value) -> Result<Value, String> {
    let Some(obj) = body.as_object() else {
        return Err(format!("expected a tenant object, got {}", short(body)));
    };
    let tenant = match obj.get("tenant") {
        Some(inner @ Value::Object(_)) if !obj.contains_key("id") => inner.clone(),
        _ => body.clone(),
    };
    match tenant.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(tenant),
        _ => Err(format!(
            "expected a tenant object with an `id`, got {}",
            short(body)
        )),
    }
}

/// An exported document (`{"flow": {…}}`, `{"theme": {…}}`): the object under `key` must be
/// there and not empty. `null`, `[]`, `{}` or a missing key are errors, not a blank document.
pub fn document(body: &Value, key: &str) -> Result<(), String> {
    match body.get(key) {
        Some(Value::Object(o)) if !o.is_empty() => Ok(()),
        _ => Err(format!(
            "expected an exported document with a non-empty `{key}` object, got {}",
            short(body)
        )),
    }
}

pub fn tenant_from_load(body: &Value) -> Result<Tenant, String> {
    parse(&tenant_object(body)?)
}

pub fn tenants(body: &Value) -> Result<Vec<Tenant>, String> {
    parse_list(body, "tenants")
}

pub fn roles(body: &Value) -> Result<Vec<Role>, String> {
    parse_list(body, "roles")
}

pub fn permissions(body: &Value) -> Result<Vec<Permission>, String> {
    parse_list(body, "permissions")
}

pub fn flows(body: &Value) -> Result<Vec<FlowSummary>, String> {
    parse_list(body, "flows")
}

/// The inside of a `{"flow": ..}` or `{"theme": ..}` export answer.
pub fn unwrap_field(body: &Value, field: &str) -> Result<Value, String> {
    match body.get(field) {
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        _ => Err(format!(
            "expected a JSON object with a `{field}` object, got {}",
            short(body)
        )),
    }
}

/// A bounded rendering of an unexpected value for error messages.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_and_missing_fields_read_as_defaults() {
        let t: Tenant =
            parse(&json!({"id": "a", "selfProvisioningDomains": null, "x": 1})).unwrap();
        assert_eq!(t.id, "a");
        assert!(t.self_provisioning_domains.is_empty());
        assert_eq!(t.parent, None);
        let t: Tenant = parse(&json!({"id": "a", "parent": null})).unwrap();
        assert_eq!(t.parent, Some(String::new()));
        assert_eq!(t.parent_id(), None);
    }

    #[test]
    fn bad_list_shapes_are_errors_not_panics() {
        assert!(list_objects(json!([]), "roles").is_err());
        assert!(list_objects(json!({"roles": 3}), "roles").is_err());
        assert!(list_objects(json!({"roles": [1]}), "roles").is_err());
        assert!(list_objects(json!({}), "roles").is_err());
        assert_eq!(
            list_objects(json!({"roles": null}), "roles").unwrap().len(),
            0
        );
        assert!(tenant_from_load(&json!("x")).is_err());
    }

    /// The text reading takes and refuses what the parsed one does, in the same words.
    #[test]
    fn raw_lists_read_and_refuse_like_parsed_ones() {
        let body = br#"{"next": 1, "roles": [ {"name":"a", "x": [1, {"y": "}"}]} ,{"name":"b"}]}"#;
        let raw = list_raw(body, "roles").unwrap().unwrap();
        let texts: Vec<&str> = raw.iter().map(|r| r.get()).collect();
        assert_eq!(
            texts,
            [r#"{"name":"a", "x": [1, {"y": "}"}]}"#, r#"{"name":"b"}"#]
        );
        assert!(list_raw(br#"{"roles": null}"#, "roles")
            .unwrap()
            .unwrap()
            .is_empty());
        for bad in [
            json!({"roles": 3}),
            json!({"roles": [1]}),
            json!({"roles": [{}, "x"]}),
            json!({}),
        ] {
            let text = serde_json::to_vec(&bad).unwrap();
            assert_eq!(
                list_raw(&text, "roles").unwrap().unwrap_err(),
                list_objects(bad, "roles").unwrap_err()
            );
        }
        // Not an object: left to the caller's decode, which names what it is.
        assert!(list_raw(b"[]", "roles").is_none());
        assert!(list_raw(b"not json", "roles").is_none());
    }

    /// Descope's reference types `modifiedTime` as a string; older answers carry a number.
    #[test]
    fn flow_modified_time_reads_as_a_string_or_a_number() {
        for raw in [json!("1716000001"), json!(1716000001)] {
            let f: FlowSummary = parse(&json!({"id": "sign-in", "modifiedTime": raw})).unwrap();
            assert_eq!(f.modified_time, 1716000001);
        }
    }
}
