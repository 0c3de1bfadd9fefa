//! Tenants (`tenant.<id>`): name, self-provisioning domains, parent (set only at creation, so a
//! change is a replace), custom attributes (values may be `${secret:VAR}`), `enforceSSO`,
//! `disabled`. Updates are full overrides: read-modify-write over the updatable fields
//! (docs/descope-api.md §4). Names and domains are unique per project, so they are claims.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::{
    Claim, Fields, KindInfo, ListCall, LiveContext, LiveRead, ReadFuture, Reference, Release,
    ResourceKind, Spec, Swap,
};
use crate::api::endpoints;
use crate::api::gateway::Gateway;
use crate::config::exported::{escape, escape_value, Exported};
use crate::config::Settings;
use crate::config::TenantConfig;
use crate::model::{Address, Kind};
use crate::plan::{FieldChange, Op};
use crate::resource::desired::{DesiredGraph, DesiredInput, SecretField};
use crate::resource::live::{stand_in_var, string_field, string_list, LiveGraph, LiveSnapshot};
use crate::resource::{sorted_set, DesiredResource, LiveResource};
use crate::secret::{Secret, SecretRef};

#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    pub id: String,
    pub name: Option<String>,
    /// Descope `selfProvisioningDomains`; sorted, deduplicated, lower case.
    pub domains: Option<Vec<String>>,
    pub parent: Option<String>,
    pub custom_attributes: Option<BTreeMap<String, Value>>,
    pub enforce_sso: Option<bool>,
    pub disabled: Option<bool>,
}

impl Spec for TenantSpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        let mut put = |k: &'static str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k, v);
            }
        };
        put("name", self.name.clone().map(Value::from));
        put("domains", self.domains.clone().map(|v| json!(v)));
        put("parent", self.parent.clone().map(Value::from));
        put(
            "custom_attributes",
            self.custom_attributes.clone().map(|m| json!(m)),
        );
        put("enforce_sso", self.enforce_sso.map(Value::from));
        put("disabled", self.disabled.map(Value::from));
        m
    }
}

pub struct TenantKind;

pub const KIND: Kind = Kind::named("tenant");

const INFO: KindInfo = KindInfo::new(
    KIND,
    "Tenants",
    &[
        "name",
        "domains",
        "parent",
        "custom_attributes",
        "enforce_sso",
        "disabled",
        "default_roles",
    ],
);

impl Address {
    pub fn tenant(id: impl Into<String>) -> Self {
        Address::new(KIND, id)
    }
}

pub(super) const LIST: &str = "tenants";

/// Tenant fields the update endpoint accepts (docs/descope-api.md §4); everything else the load
/// returns (createdTime, successors, parent, defaultRoles, domains) is read-only there.
/// `authType` is not sent: no SDK sends it on update (it belongs to SSO and tenant settings).
const TENANT_UPDATABLE: &[&str] = &[
    "id",
    "name",
    "selfProvisioningDomains",
    "customAttributes",
    "enforceSSO",
    "enforceSSOExclusions",
    "federatedAppIds",
    "disabled",
    "roleInheritance",
];

/// Fields Descope derives from other resources: a child's creation changes the parent's
/// `successors`, and default roles are their own address. Leaving them out of the tenant's
/// fingerprint keeps one operation from making another look stale.
const DERIVED_FIELDS: &[&str] = &["successors", "defaultRoles"];

fn id_of(address: &Address) -> &str {
    address.key()
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn mask_attribute(raw: &mut Value, attribute: &str, var: &str, key: &Secret) {
    let Some(attrs) = raw
        .get_mut("customAttributes")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(v) = attrs.get_mut(attribute) {
        let plain = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        *v = SecretRef::new(var, &plain, key).to_json();
    }
}

impl ResourceKind for TenantKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        for (i, t) in input.config.tenants.iter().enumerate() {
            let address = Address::tenant(&t.id);
            let mut custom_attributes = t.custom_attributes.clone();
            if let Some(attrs) = custom_attributes.as_mut() {
                for (key, value) in attrs.iter_mut() {
                    let pointer = format!("/tenants/{i}/custom_attributes/{}", escape_pointer(key));
                    if let Some(var) = input.secrets.get(&pointer) {
                        let plain = value
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| value.to_string());
                        *value = SecretRef::new(var, &plain, input.key).to_json();
                        out.secret_fields.push(SecretField {
                            address: address.clone(),
                            attribute: key.clone(),
                            var: var.clone(),
                        });
                    }
                }
            }
            out.insert(DesiredResource::new(
                address,
                TenantSpec {
                    id: t.id.clone(),
                    name: Some(t.name.clone()),
                    domains: t
                        .domains
                        .clone()
                        .map(|d| sorted_set(d.into_iter().map(|d| d.to_ascii_lowercase()))),
                    parent: t.parent.clone().filter(|p| !p.is_empty()),
                    custom_attributes,
                    enforce_sso: t.enforce_sso,
                    disabled: t.disabled,
                },
                t.parent
                    .iter()
                    .filter(|p| !p.is_empty())
                    .map(Address::tenant)
                    .collect(),
                t.protect,
                t.delete_cascade,
                t.ignore_changes.clone(),
            ));
        }
    }

    fn list(&self) -> Option<ListCall> {
        Some(ListCall {
            request: endpoints::tenant_load_all,
            key: LIST,
        })
    }

    /// One tenant load instead of the whole list.
    fn read_one<'a>(&'a self, io: LiveRead<'a>, address: &'a Address) -> ReadFuture<'a> {
        Box::pin(read_tenant(io.gateway, id_of(address), io.snapshot))
    }

    fn live(&self, snapshot: &LiveSnapshot, cx: &LiveContext<'_>, out: &mut LiveGraph) {
        for (text, t) in snapshot.list_with_text(LIST) {
            let t = &t;
            let id = string_field(t, "id");
            if id.is_empty() {
                out.warnings
                    .push(format!("tenant without an id ignored: {t}"));
                continue;
            }
            let address = Address::tenant(&id);
            let mut raw = t.clone();
            for f in cx.secret_fields.iter().filter(|f| f.address == address) {
                mask_attribute(&mut raw, &f.attribute, &f.var, cx.key);
            }
            let custom_attributes: BTreeMap<String, Value> = raw
                .get("customAttributes")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let spec = TenantSpec {
                id,
                name: Some(string_field(t, "name")),
                domains: Some(sorted_set(
                    string_list(t, "selfProvisioningDomains")
                        .into_iter()
                        .map(|d| d.to_ascii_lowercase()),
                )),
                // An answer without `parent` says nothing about it: unknown, never a replace.
                parent: t
                    .get("parent")
                    .map(|p| p.as_str().unwrap_or_default().to_string()),
                custom_attributes: Some(custom_attributes),
                enforce_sso: Some(t.get("enforceSSO").and_then(Value::as_bool) == Some(true)),
                disabled: Some(t.get("disabled").and_then(Value::as_bool) == Some(true)),
            };
            // 10k tenants are the largest thing a plan holds: unless a secret was masked, the
            // resource keeps the text the list was read as.
            out.insert(if &raw == t {
                LiveResource::with_text(address, spec, t, text, false)
            } else {
                LiveResource::new(address, spec, raw, false)
            });
        }
    }

    fn fingerprint(&self, raw: &Value) -> String {
        match raw.as_object() {
            Some(o) => {
                let mut o = o.clone();
                for f in DERIVED_FIELDS {
                    o.remove(*f);
                }
                crate::resource::fingerprint(&Value::Object(o))
            }
            None => crate::resource::fingerprint(raw),
        }
    }

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        super::spec_of::<TenantSpec>(spec)
            .and_then(|t| t.parent.as_deref())
            .filter(|p| !p.is_empty())
            .map(|p| vec![Reference::ChildOf(Address::tenant(p))])
            .unwrap_or_default()
    }

    /// Unique values a tenant claims (its name and domains), lower-cased as Descope compares
    /// them.
    fn claims(&self, spec: &dyn Spec) -> Vec<Claim> {
        let Some(t) = super::spec_of::<TenantSpec>(spec) else {
            return vec![];
        };
        t.name
            .iter()
            .map(|n| format!("name {}", n.to_lowercase()))
            .chain(t.domains.iter().flatten().map(|d| format!("domain {d}")))
            .collect()
    }

    fn body_claims(&self, body: &Value) -> Vec<Claim> {
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .map(|n| format!("name {}", n.to_lowercase()));
        let domains = string_list(body, "selfProvisioningDomains")
            .into_iter()
            .map(|d| format!("domain {}", d.to_ascii_lowercase()));
        name.into_iter().chain(domains).collect()
    }

    fn replace_fields(&self) -> &'static [&'static str] {
        &["parent"]
    }

    fn cascades(&self) -> bool {
        true
    }

    fn restore_carried(&self) -> &'static [&'static str] {
        &[
            "enforceSSOExclusions",
            "federatedAppIds",
            "roleInheritance",
            "authType",
        ]
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let t = d.spec::<TenantSpec>();
        let mut m = Map::new();
        m.insert("id".into(), json!(t.id));
        m.insert(
            "name".into(),
            json!(t.name.clone().unwrap_or_else(|| t.id.clone())),
        );
        m.insert(
            "selfProvisioningDomains".into(),
            json!(t.domains.clone().unwrap_or_default()),
        );
        if let Some(attrs) = &t.custom_attributes {
            m.insert("customAttributes".into(), json!(attrs));
        }
        m.insert("enforceSSO".into(), json!(t.enforce_sso.unwrap_or(false)));
        m.insert("disabled".into(), json!(t.disabled.unwrap_or(false)));
        // A saved or live tenant without a parent reads as `parent: ""`; creating it sends none.
        if let Some(p) = t.parent.as_deref().filter(|p| !p.is_empty()) {
            m.insert("parent".into(), json!(p));
        }
        Value::Object(m)
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let t = d.spec::<TenantSpec>();
        let mut m = Map::new();
        if let Some(obj) = live.as_object() {
            for key in TENANT_UPDATABLE {
                if let Some(v) = obj.get(*key) {
                    m.insert((*key).into(), v.clone());
                }
            }
        }
        m.insert("id".into(), json!(t.id));
        let mut set = |field: &str, key: &str, v: Option<Value>| {
            if let (Some(v), false) = (v, d.ignores(field)) {
                m.insert(key.into(), v);
            }
        };
        set("name", "name", t.name.clone().map(Value::from));
        set(
            "domains",
            "selfProvisioningDomains",
            t.domains.clone().map(|v| json!(v)),
        );
        set(
            "custom_attributes",
            "customAttributes",
            t.custom_attributes.clone().map(|v| json!(v)),
        );
        set("enforce_sso", "enforceSSO", t.enforce_sso.map(Value::from));
        set("disabled", "disabled", t.disabled.map(Value::from));
        Value::Object(m)
    }

    fn secret_body_pointer(&self, attribute: &str) -> Option<String> {
        Some(format!("/customAttributes/{}", escape_pointer(attribute)))
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::tenant_create(body.clone()))
    }

    fn update_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::tenant_update(body.clone()))
    }

    fn delete_op(&self, address: &Address, _: &Value, cascade: bool) -> Op {
        Op::single(endpoints::tenant_delete(id_of(address), cascade))
    }

    /// Keep only the live name and domains nobody else wants, starting from the real body (same
    /// managed values and secret stand-ins); a freed name becomes a temporary one.
    fn release_for_swap(&self, swap: &Swap<'_>) -> Option<Release> {
        let (address, live, body, frees) = (swap.address, swap.live, swap.body, swap.frees);
        let id = id_of(address);
        let raw = live.raw();
        let live_name = raw.get("name").and_then(Value::as_str).unwrap_or(id);
        let live_domains = string_list(&raw, "selfProvisioningDomains");
        let frees_name = frees.iter().any(|v| v.starts_with("name "));
        let name = if frees_name {
            format!("{live_name} (swap {id})")
        } else {
            live_name.to_string()
        };
        let domains: Vec<String> = live_domains
            .iter()
            .filter(|d| !frees.contains(&format!("domain {}", d.to_ascii_lowercase())))
            .cloned()
            .collect();
        let mut body = body.clone();
        if let Some(o) = body.as_object_mut() {
            o.insert("name".into(), Value::from(name.clone()));
            if o.contains_key("newName") {
                o.insert("newName".into(), Value::from(name.clone()));
            }
            o.insert(
                "selfProvisioningDomains".into(),
                Value::from(domains.clone()),
            );
        }
        let mut fields = Vec::new();
        if frees_name {
            fields.push(FieldChange {
                field: "name".into(),
                before: Some(Value::from(live_name)),
                after: Some(Value::from(name)),
            });
        }
        if domains.len() != live_domains.len() {
            let lower = |v: &[String]| sorted_set(v.iter().map(|d| d.to_ascii_lowercase()));
            fields.push(FieldChange {
                field: "domains".into(),
                before: Some(json!(lower(&live_domains))),
                after: Some(json!(lower(&domains))),
            });
        }
        let values = frees
            .iter()
            .map(|v| match v.strip_prefix("name ") {
                Some(_) => format!("name \"{live_name}\""),
                None => v.clone(),
            })
            .collect();
        Some(Release {
            body,
            fields,
            values,
        })
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let tenants: Vec<&TenantSpec> = live.iter().map(|r| r.spec::<TenantSpec>()).collect();
        for t in parents_first(&tenants) {
            out.config.tenants.push(TenantConfig {
                id: escape(&t.id),
                name: escape(t.name.as_deref().unwrap_or(&t.id)),
                domains: t
                    .domains
                    .as_ref()
                    .map(|ds| ds.iter().map(|d| escape(d)).collect()),
                parent: t.parent.as_deref().filter(|p| !p.is_empty()).map(escape),
                custom_attributes: t.custom_attributes.as_ref().map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let value = match stand_in_var(v) {
                                Some(var) => Value::String(format!("${{secret:{var}}}")),
                                None => escape_value(v),
                            };
                            (k.clone(), value)
                        })
                        .collect()
                }),
                enforce_sso: t.enforce_sso,
                disabled: t.disabled,
                // Filled in by the default-roles kind, which exports after tenants.
                default_roles: Some(Vec::new()),
                ..Default::default()
            });
        }
        out.addresses.extend(live.iter().map(|r| r.address.clone()));
        let ids: Vec<&str> = tenants.iter().map(|t| t.id.as_str()).collect();
        out.config.settings.tenant_id_pattern =
            tenant_id_pattern(&out.config.settings.tenant_id_pattern, ids);
    }
}

async fn read_tenant(
    gateway: &Gateway,
    id: &str,
    snapshot: &mut LiveSnapshot,
) -> Result<(), crate::api::ApiError> {
    let mut found = Vec::new();
    match gateway.read(endpoints::tenant_load(id)).await {
        Ok(body) => {
            let tenant = crate::api::wire::tenant_object(&body).map_err(|e| {
                crate::api::ApiError::decode(
                    &endpoints::tenant_load(id).for_address(Address::tenant(id)),
                    e,
                )
            })?;
            found.push(tenant);
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    snapshot.put_list(LIST, found);
    Ok(())
}

/// The configured pattern when every id satisfies it, else the house default when that fits,
/// else a character class of what the ids use (Descope-generated `T2…` ids and the like).
pub fn tenant_id_pattern<'a>(current: &str, ids: impl IntoIterator<Item = &'a str>) -> String {
    let ids: Vec<&str> = ids.into_iter().collect();
    let fits = |pattern: &str| {
        regex::Regex::new(pattern).is_ok_and(|re| ids.iter().all(|id| re.is_match(id)))
    };
    for candidate in [current, Settings::DEFAULT_TENANT_ID_PATTERN] {
        if fits(candidate) {
            return candidate.to_string();
        }
    }
    let specials: BTreeSet<char> = ids
        .iter()
        .flat_map(|id| id.chars())
        .filter(|c| !c.is_ascii_alphanumeric())
        .collect();
    let mut class: String = specials
        .iter()
        .filter(|c| **c != '-')
        .map(|c| regex::escape(&c.to_string()))
        .collect();
    if specials.contains(&'-') {
        class.push('-');
    }
    let longest = ids.iter().map(|id| id.chars().count()).max().unwrap_or(1);
    let derived = format!("^[A-Za-z0-9{class}]{{1,{}}}$", longest.max(50));
    if fits(&derived) {
        derived
    } else {
        "^.+$".to_string()
    }
}

/// Roots first, each followed by its descendants, siblings by id: the file reads like the tree.
fn parents_first<'a>(tenants: &[&'a TenantSpec]) -> Vec<&'a TenantSpec> {
    let ids: BTreeSet<&str> = tenants.iter().map(|t| t.id.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&'a TenantSpec>> = BTreeMap::new();
    let mut roots = Vec::new();
    for &t in tenants {
        match t.parent.as_deref().filter(|p| ids.contains(p)) {
            Some(p) => children.entry(p).or_default().push(t),
            None => roots.push(t),
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&TenantSpec> = roots.into_iter().rev().collect();
    while let Some(t) = stack.pop() {
        if !seen.insert(t.id.as_str()) {
            continue;
        }
        out.push(t);
        if let Some(cs) = children.get(t.id.as_str()) {
            stack.extend(cs.iter().rev());
        }
    }
    // A parent cycle (only possible through a broken project) leaves tenants unvisited; they
    // still belong in the file, where validation reports the cycle.
    for &t in tenants {
        if !seen.contains(t.id.as_str()) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::default_roles::DefaultRolesSpec;

    #[test]
    fn tenant_id_pattern_fits_every_id() {
        assert_eq!(
            tenant_id_pattern(Settings::DEFAULT_TENANT_ID_PATTERN, ["acme", "acme-emea"]),
            Settings::DEFAULT_TENANT_ID_PATTERN
        );
        let p = tenant_id_pattern(
            Settings::DEFAULT_TENANT_ID_PATTERN,
            ["T2abcDEF", "x.y_z", "a-b", "T"],
        );
        let re = regex::Regex::new(&p).unwrap();
        for id in ["T2abcDEF", "x.y_z", "a-b", "T"] {
            assert!(re.is_match(id), "{p} {id}");
        }
        assert!(!re.is_match("has space"));
        let odd = tenant_id_pattern("^[a-z]+$", ["a]b^c\\d", "é"]);
        let re = regex::Regex::new(&odd).unwrap();
        assert!(re.is_match("a]b^c\\d") && re.is_match("é"), "{odd}");
    }

    /// A tenant keeps the text it was listed as (unless a secret was masked in it), and reads
    /// and fingerprints as the object that text holds.
    #[test]
    fn a_listed_tenant_keeps_its_text() {
        let text = r#"{ "name": "A", "id" : "a" }"#;
        let mut snap = LiveSnapshot::default();
        snap.put_raw_list(
            LIST,
            vec![serde_json::value::RawValue::from_string(text.into()).unwrap()],
        );
        let g = crate::resource::live::build(&snap, &[], &Secret::new("k"));
        let l = &g.resources[&Address::tenant("a")];
        assert_eq!(l.raw(), json!({"id": "a", "name": "A"}));
        assert_eq!(
            l.fingerprint(),
            TenantKind.fingerprint(&json!({"id": "a", "name": "A"}))
        );
    }

    #[test]
    fn tenants_read_tolerantly_and_parent_missing_is_unknown() {
        let mut snap = LiveSnapshot::default();
        snap.put_list(
            "tenants",
            vec![
                json!({"id":"a","name":"A","selfProvisioningDomains":["B.com","a.com"],"extra":1}),
                json!({"id":"b","name":"B","parent":"a","defaultRoles":["x"]}),
            ],
        );
        let g = crate::resource::live::build(&snap, &[], &Secret::new("k"));
        let a = g.resources[&Address::tenant("a")].spec::<TenantSpec>();
        assert_eq!(a.parent, None);
        assert_eq!(a.domains.as_deref().unwrap(), ["a.com", "b.com"]);
        assert_eq!(a.disabled, Some(false));
        let bt = g.resources[&Address::tenant("b")].spec::<TenantSpec>();
        assert_eq!(bt.parent.as_deref(), Some("a"));
        let d = g.resources[&Address::default_roles("b")].spec::<DefaultRolesSpec>();
        assert_eq!(d.roles, ["x"]);
    }
}
