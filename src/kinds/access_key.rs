//! Access keys (`access_key.<name>`), written under a top-level `access_keys:` section
//! (docs/descope-api.md §17). One `accesskey/search` with no filter shows them all. Descope
//! gives each key an id; the config names a key by its name, so updates and deletes take the
//! id from the live object, and two live keys with one name are an error naming both ids.
//!
//! Updates are partial: fields left out keep their values, so an update body carries only
//! the managed fields that differ. `active` is its own call (activate/deactivate). The expiry
//! and the bound user cannot be updated: a change is a replace, and a replaced key gets a new
//! secret.
//!
//! A new key's cleartext comes back once, in the create's answer: the create step says where
//! (`issues_secret`), and apply writes it to `--access-key-out DIR` and nowhere else
//! (src/apply/issued.rs). `descope-mgmt access-key rotate` is the one other way to get one
//! ([`rotate`]).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::entries::{self, config_struct, UniqueField};
use super::fields;
use super::{
    Fields, KindInfo, ListCall, LiveContext, LiveRead, ReadFuture, ReadScope, Reference,
    ResourceKind, Spec,
};
use crate::api::gateway::{Gateway, NoCheck, WriteOutcome};
use crate::api::{endpoints, ApiError};
use crate::config::checks::ConfigCheck;
use crate::config::exported::{escape, Exported};
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, string_list, LiveGraph, LiveSnapshot};
use crate::resource::{sorted_set, DesiredResource, LiveResource};
use crate::secret::Secret;

pub struct AccessKeyKind;

pub const KIND: Kind = Kind::named("access_key");

const NAME: UniqueField<AccessKeyConfig> = UniqueField::name(
    |c| &c.name,
    "an access key needs a name",
    "access key `{}` is declared twice",
    Some("the configuration names access keys by name: one entry per name"),
);

const INFO: KindInfo = KindInfo::new(
    KIND,
    "Access keys",
    &[
        "description",
        "roles",
        "tenant_roles",
        "expires",
        "permitted_ips",
        "custom_claims",
        "active",
        "user_id",
    ],
);

const SECTION: ConfigSection = ConfigSection {
    within: None,
    key: "access_keys",
    schema: || {
        serde_json::to_value(schemars::schema_for!(Vec<AccessKeyConfig>)).unwrap_or_default()
    },
};

/// The key of the search answer's array, and of the keys in the snapshot.
const KEYS: &str = "keys";

/// Where the create's answer carries the cleartext (docs/descope-api.md §17).
const CLEARTEXT: &str = "/cleartext";

config_struct! {
    /// One entry of `access_keys:`.
    pub struct AccessKeyConfig {
        /// Unique in the configuration; the key's address is `access_key.<name>`.
        pub name: String,
        ;
        pub description: String,
        /// Project roles (declared under `roles:`, or built in).
        pub roles: Vec<String>,
        /// Roles in tenants of this configuration: `[{tenant: <id>, roles: [...]}]`.
        pub tenant_roles: Vec<KeyTenantConfig>,
        /// `never`, or an RFC 3339 date-time (`2027-01-31T00:00:00Z`) or date (`2027-01-31`,
        /// midnight UTC). A change replaces the key.
        pub expires: String,
        /// IP addresses and CIDR ranges the key may be used from.
        pub permitted_ips: Vec<String>,
        /// Claims added to the key's JWTs.
        pub custom_claims: BTreeMap<String, Value>,
        /// `false` deactivates the key (it stays, and can be activated again).
        pub active: bool,
        /// Binds the key to a user (whose authorization it then carries). A change replaces the key.
        pub user_id: String,
    }
    protect = " Plans that would delete (or replace) this key are errors.";
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyTenantConfig {
    /// A tenant id declared under `tenants:`.
    pub tenant: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccessKeySpec {
    pub name: String,
    pub description: Option<String>,
    /// Sorted and deduplicated.
    pub roles: Option<Vec<String>>,
    /// (tenant id, sorted roles), sorted by tenant.
    pub tenant_roles: Option<Vec<(String, Vec<String>)>>,
    /// Epoch seconds; 0 = never.
    pub expires: Option<i64>,
    pub permitted_ips: Option<Vec<String>>,
    pub custom_claims: Option<Map<String, Value>>,
    pub active: Option<bool>,
    pub user_id: Option<String>,
}

impl Spec for AccessKeySpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        if let Some(d) = &self.description {
            m.insert("description", json!(d));
        }
        if let Some(r) = &self.roles {
            m.insert("roles", json!(r));
        }
        if let Some(t) = &self.tenant_roles {
            m.insert("tenant_roles", tenant_roles_json(t));
        }
        if let Some(e) = self.expires {
            m.insert("expires", json!(expires_text(e)));
        }
        if let Some(i) = &self.permitted_ips {
            m.insert("permitted_ips", json!(i));
        }
        if let Some(c) = &self.custom_claims {
            m.insert("custom_claims", Value::Object(c.clone()));
        }
        if let Some(a) = self.active {
            m.insert("active", json!(a));
        }
        if let Some(u) = &self.user_id {
            m.insert("user_id", json!(u));
        }
        m
    }
}

impl Address {
    pub fn access_key(name: impl Into<String>) -> Self {
        Address::new(KIND, name)
    }
}

fn tenant_roles_json(t: &[(String, Vec<String>)]) -> Value {
    Value::Array(
        t.iter()
            .map(|(tenant, roles)| json!({"tenant": tenant, "roles": roles}))
            .collect(),
    )
}

fn normalize_tenant_roles(
    t: impl IntoIterator<Item = (String, Vec<String>)>,
) -> Vec<(String, Vec<String>)> {
    let mut by_tenant: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (tenant, roles) in t {
        by_tenant.entry(tenant).or_default().extend(roles);
    }
    by_tenant
        .into_iter()
        .map(|(t, r)| (t, r.into_iter().collect()))
        .collect()
}

/// `never`, or the moment in RFC 3339 (UTC).
fn expires_text(epoch: i64) -> String {
    if epoch == 0 {
        return "never".into();
    }
    OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| epoch.to_string())
}

/// `never` → 0; an RFC 3339 date-time, or a date (midnight UTC) → epoch seconds.
fn parse_expires(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s == "never" {
        return Ok(0);
    }
    let t = match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(s, &format)
                .map(|d| d.midnight().assume_utc())
                .map_err(|_| {
                    format!("`{s}` is not `never`, an RFC 3339 date-time or a date (YYYY-MM-DD)")
                })?
        }
    };
    match t.unix_timestamp() {
        n if n > 0 => Ok(n),
        _ => Err(format!("`{s}` is before 1970")),
    }
}

/// Live keys that share a name: (name, their ids).
fn duplicates(keys: impl IntoIterator<Item = Value>) -> BTreeMap<String, Vec<String>> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in keys {
        by_name
            .entry(string_field(&k, "name"))
            .or_default()
            .push(string_field(&k, "id"));
    }
    by_name.retain(|n, ids| !n.is_empty() && ids.len() > 1);
    by_name
}

fn duplicate_message(name: &str, ids: &[String]) -> String {
    format!(
        "{} live access keys are named `{name}` (ids {}); the configuration names keys by name, \
         so it cannot tell which one `access_key.{name}` is. Delete or rename all but one in the \
         Descope console",
        ids.len(),
        ids.join(", ")
    )
}

/// The live key as the planner compares it: `keyTenants` without the server's `tenantName`
/// and the bound user under the name a create sends (`userId`), so a create's body reads back.
fn normalized_raw(k: &Value) -> Value {
    let mut raw = k.clone();
    if let Some(o) = raw.as_object_mut() {
        if let Some(Value::Array(ts)) = o.get_mut("keyTenants") {
            for t in ts.iter_mut().filter_map(Value::as_object_mut) {
                t.remove("tenantName");
            }
        }
        let user = string_field(k, "boundUserId");
        if !user.is_empty() {
            o.insert("userId".into(), json!(user));
        }
    }
    raw
}

fn live_tenant_roles(k: &Value) -> Vec<(String, Vec<String>)> {
    let tenants = k
        .get("keyTenants")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    normalize_tenant_roles(
        tenants
            .iter()
            .map(|t| (string_field(t, "tenantId"), string_list(t, "roleNames"))),
    )
}

fn spec_of_live(k: &Value) -> AccessKeySpec {
    AccessKeySpec {
        name: string_field(k, "name"),
        description: Some(string_field(k, "description")),
        roles: Some(sorted_set(string_list(k, "roleNames"))),
        tenant_roles: Some(live_tenant_roles(k)),
        expires: Some(k.get("expireTime").and_then(Value::as_i64).unwrap_or(0)),
        permitted_ips: Some(sorted_set(string_list(k, "permittedIps"))),
        custom_claims: Some(
            k.get("customClaims")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        ),
        // Anything but `inactive` can be used.
        active: Some(string_field(k, "status") != "inactive"),
        user_id: Some(string_field(k, "boundUserId")),
    }
}

fn key_tenants_body(t: &[(String, Vec<String>)]) -> Value {
    Value::Array(
        t.iter()
            .map(|(tenant, roles)| json!({"tenantId": tenant, "roleNames": roles}))
            .collect(),
    )
}

impl ResourceKind for AccessKeyKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        let tenant_roles: BTreeSet<(String, String)> = cx
            .config
            .roles
            .iter()
            .filter_map(|r| Some((r.tenant.clone()?, r.name.clone())))
            .collect();
        let tenants: BTreeSet<String> = cx.config.tenants.iter().map(|t| t.id.clone()).collect();
        let config = cx.config;
        let project_role = |r: &str| fields::is_project_role(config, r);
        for (at, k) in entries::checked(cx, &SECTION, &[NAME]) {
            for (j, r) in k.roles.iter().flatten().enumerate() {
                if !project_role(r) {
                    cx.problem(
                        &format!("{at}/roles/{j}"),
                        DiagnosticKind::InvalidValue,
                        format!("role `{r}` is not a project role declared under `roles`"),
                        Some(format!("declare it: roles: [{{name: \"{r}\"}}]")),
                    );
                }
            }
            for (j, t) in k.tenant_roles.iter().flatten().enumerate() {
                if !tenants.contains(&t.tenant) {
                    cx.problem(
                        &format!("{at}/tenant_roles/{j}/tenant"),
                        DiagnosticKind::UnknownTenant,
                        format!("tenant `{}` is not declared under `tenants`", t.tenant),
                        None,
                    );
                    continue;
                }
                for (n, r) in t.roles.iter().enumerate() {
                    if !project_role(r) && !tenant_roles.contains(&(t.tenant.clone(), r.clone())) {
                        cx.problem(
                            &format!("{at}/tenant_roles/{j}/roles/{n}"),
                            DiagnosticKind::InvalidValue,
                            format!(
                                "role `{r}` is neither a project role nor a role of tenant `{}` \
                                 declared under `roles`",
                                t.tenant
                            ),
                            None,
                        );
                    }
                }
            }
            if let Some(e) = &k.expires {
                if let Err(why) = parse_expires(e) {
                    cx.problem(
                        &format!("{at}/expires"),
                        DiagnosticKind::InvalidValue,
                        why,
                        Some("e.g. `never`, `2027-01-31` or `2027-01-31T12:00:00Z`".into()),
                    );
                }
            }
            let ips = k.permitted_ips.iter().flatten();
            fields::check_ips(cx, &format!("{at}/permitted_ips"), ips);
            cx.ignore_changes(&at, &k.ignore_changes, INFO.managed_fields, "an access key");
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        for (_, k) in entries::decoded::<AccessKeyConfig>(&input.config.sections, &SECTION) {
            let managed = |f: &str| !k.ignore_changes.iter().any(|x| x == f);
            let spec = AccessKeySpec {
                name: k.name.clone(),
                description: k.description.clone().filter(|_| managed("description")),
                roles: k.roles.clone().filter(|_| managed("roles")).map(sorted_set),
                tenant_roles: k
                    .tenant_roles
                    .clone()
                    .filter(|_| managed("tenant_roles"))
                    .map(|t| normalize_tenant_roles(t.into_iter().map(|t| (t.tenant, t.roles)))),
                expires: k
                    .expires
                    .as_deref()
                    .filter(|_| managed("expires"))
                    .and_then(|e| parse_expires(e).ok()),
                permitted_ips: k
                    .permitted_ips
                    .clone()
                    .filter(|_| managed("permitted_ips"))
                    .map(|i| sorted_set(i.into_iter().map(|s| s.trim().to_string()))),
                custom_claims: k
                    .custom_claims
                    .clone()
                    .filter(|_| managed("custom_claims"))
                    .map(|c| c.into_iter().collect()),
                active: k.active.filter(|_| managed("active")),
                user_id: k.user_id.clone().filter(|_| managed("user_id")),
            };
            // Created after the roles and tenants it names (deletes run the other way), each
            // of which must exist live or be planned. A tenant's role name means the tenant's
            // own role when the config declares one, else the project role.
            let mut depends_on: Vec<Address> = spec
                .roles
                .iter()
                .flatten()
                .map(|r| Address::role(None, r))
                .collect();
            for (tenant, roles) in spec.tenant_roles.iter().flatten() {
                depends_on.push(Address::tenant(tenant));
                for r in roles {
                    let own = input
                        .config
                        .roles
                        .iter()
                        .any(|c| c.tenant.as_deref() == Some(tenant.as_str()) && &c.name == r);
                    depends_on.push(Address::role(own.then_some(tenant.as_str()), r));
                }
            }
            out.insert(DesiredResource::new(
                Address::access_key(&k.name),
                spec,
                depends_on,
                k.protect,
                false,
                k.ignore_changes.clone(),
            ));
        }
    }

    fn read_when_named(&self) -> bool {
        true
    }

    fn list(&self) -> Option<ListCall> {
        Some(ListCall {
            request: endpoints::access_key_search,
            key: KEYS,
        })
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, scope: &'a ReadScope) -> ReadFuture<'a> {
        Box::pin(async move {
            if !scope.names_kind(KIND) {
                return Ok(());
            }
            io.snapshot
                .read_list(io.gateway, endpoints::access_key_search(), KEYS)
                .await?;
            // A key the command works on must be one key; others sharing a name are reported
            // (and left out) by `live`.
            let dups = duplicates(io.snapshot.list(KEYS));
            let named = dups.iter().find(|(name, _)| {
                scope.everything
                    || scope
                        .addresses
                        .contains(&Address::access_key(name.as_str()))
            });
            match named {
                Some((name, ids)) => Err(ApiError::setup(
                    endpoints::ACCESS_KEY_SEARCH,
                    &Address::access_key(name.as_str()).to_string(),
                    duplicate_message(name, ids),
                )),
                None => Ok(()),
            }
        })
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        let keys: Vec<Value> = snapshot.list(KEYS).collect();
        let dups = duplicates(keys.iter().cloned());
        for (name, ids) in &dups {
            out.warnings.push(duplicate_message(name, ids));
        }
        for k in &keys {
            let name = string_field(k, "name");
            if name.is_empty() {
                out.warnings.push(format!(
                    "access key without a name ignored: id {}",
                    string_field(k, "id")
                ));
                continue;
            }
            if dups.contains_key(&name) {
                continue;
            }
            out.insert(LiveResource::new(
                Address::access_key(&name),
                spec_of_live(k),
                normalized_raw(k),
                false,
            ));
        }
    }

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        let Some(k) = super::spec_of::<AccessKeySpec>(spec) else {
            return vec![];
        };
        let mut refs: Vec<Reference> = k
            .roles
            .iter()
            .flatten()
            .map(|r| Reference::Uses(Address::role(None, r)))
            .collect();
        for (tenant, roles) in k.tenant_roles.iter().flatten() {
            refs.push(Reference::Uses(Address::tenant(tenant)));
            for r in roles {
                refs.push(Reference::UsesOneOf(vec![
                    Address::role(Some(tenant), r),
                    Address::role(None, r),
                ]));
            }
        }
        refs
    }

    fn replace_fields(&self) -> &'static [&'static str] {
        &["expires", "user_id"]
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let k = d.spec::<AccessKeySpec>();
        let mut m = Map::new();
        m.insert("name".into(), json!(k.name));
        m.insert("expireTime".into(), json!(k.expires.unwrap_or(0)));
        m.insert(
            "roleNames".into(),
            json!(k.roles.clone().unwrap_or_default()),
        );
        m.insert(
            "keyTenants".into(),
            key_tenants_body(k.tenant_roles.as_deref().unwrap_or_default()),
        );
        if let Some(u) = k.user_id.as_ref().filter(|u| !u.is_empty()) {
            m.insert("userId".into(), json!(u));
        }
        if let Some(c) = &k.custom_claims {
            m.insert("customClaims".into(), Value::Object(c.clone()));
        }
        if let Some(desc) = &k.description {
            m.insert("description".into(), json!(desc));
        }
        if let Some(ips) = &k.permitted_ips {
            m.insert("permittedIps".into(), json!(ips));
        }
        // Not a field of the create: a second call (create_op), read back like the rest.
        if k.active == Some(false) {
            m.insert("status".into(), json!("inactive"));
        }
        Value::Object(m)
    }

    /// Only what differs: the update keeps every field it is not sent.
    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let k = d.spec::<AccessKeySpec>();
        let l = spec_of_live(live);
        let mut m = Map::new();
        m.insert("id".into(), json!(string_field(live, "id")));
        m.insert("name".into(), json!(k.name));
        if let Some(desc) = k
            .description
            .as_ref()
            .filter(|v| l.description.as_ref() != Some(*v))
        {
            m.insert("description".into(), json!(desc));
        }
        if let Some(r) = k.roles.as_ref().filter(|v| l.roles.as_ref() != Some(*v)) {
            m.insert("roleNames".into(), json!(r));
        }
        if let Some(t) = k
            .tenant_roles
            .as_ref()
            .filter(|v| l.tenant_roles.as_ref() != Some(*v))
        {
            m.insert("keyTenants".into(), key_tenants_body(t));
        }
        if let Some(i) = k
            .permitted_ips
            .as_ref()
            .filter(|v| l.permitted_ips.as_ref() != Some(*v))
        {
            m.insert("permittedIps".into(), json!(i));
        }
        if let Some(c) = k
            .custom_claims
            .as_ref()
            .filter(|v| l.custom_claims.as_ref() != Some(*v))
        {
            m.insert("customClaims".into(), Value::Object(c.clone()));
        }
        if let Some(a) = k.active.filter(|a| l.active != Some(*a)) {
            m.insert(
                "status".into(),
                json!(if a { "active" } else { "inactive" }),
            );
        }
        Value::Object(m)
    }

    fn create_op(&self, address: &Address, body: &Value) -> Op {
        let mut sent = body.clone();
        let inactive = sent
            .as_object_mut()
            .and_then(|o| o.remove("status"))
            .is_some_and(|s| s == "inactive");
        let mut op = Op::single(endpoints::access_key_create(sent));
        op.steps[0].issues_secret = Some(CLEARTEXT.into());
        if inactive {
            let mut off = Op::single(endpoints::access_key_set_active("", address.key(), false));
            off.steps[0].id_from_previous = Some("/key/id".into());
            op = op.and(off);
        }
        op
    }

    fn update_op(&self, address: &Address, body: &Value) -> Op {
        let mut sent = body.clone();
        let status = sent.as_object_mut().and_then(|o| o.remove("status"));
        let id = string_field(body, "id");
        let changes_fields = sent
            .as_object()
            .is_some_and(|o| o.keys().any(|k| k != "id" && k != "name"));
        let mut op = changes_fields.then(|| Op::single(endpoints::access_key_update(sent)));
        if let Some(status) = status {
            let active = Op::single(endpoints::access_key_set_active(
                &id,
                address.key(),
                status == "active",
            ));
            op = Some(match op {
                Some(op) => op.and(active),
                None => active,
            });
        }
        op.unwrap_or_default()
    }

    fn delete_op(&self, address: &Address, live: &Value, _: bool) -> Op {
        let id = string_field(live, "id");
        Op::single(endpoints::access_key_delete(&id, address.key())).batched(
            endpoints::ACCESS_KEY_DELETE_BATCH,
            "ids",
            json!(id),
            None,
        )
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let keys: Vec<Value> = live
            .iter()
            .filter_map(|r| {
                let k = r.spec::<AccessKeySpec>();
                out.addresses.push(r.address.clone());
                let c = AccessKeyConfig {
                    name: escape(&k.name),
                    description: k.description.clone().filter(|d| !d.is_empty()),
                    roles: k.roles.clone().filter(|r| !r.is_empty()),
                    tenant_roles: k.tenant_roles.clone().filter(|t| !t.is_empty()).map(|t| {
                        t.into_iter()
                            .map(|(tenant, roles)| KeyTenantConfig { tenant, roles })
                            .collect()
                    }),
                    expires: k.expires.filter(|e| *e != 0).map(expires_text),
                    permitted_ips: k.permitted_ips.clone().filter(|i| !i.is_empty()),
                    custom_claims: k
                        .custom_claims
                        .clone()
                        .filter(|c| !c.is_empty())
                        .map(|c| c.into_iter().collect()),
                    active: k.active.filter(|a| !a),
                    user_id: k.user_id.clone().filter(|u| !u.is_empty()),
                    ..Default::default()
                };
                entries::exported_entry(&c)
            })
            .collect();
        entries::export_section(out, &SECTION, keys);
    }
}

/// A key rotated by `access-key rotate`: its id and the new cleartext (never printed).
pub struct RotatedKey {
    pub id: String,
    pub cleartext: Secret,
}

/// Finds the live key named `name` and has Descope issue it a new cleartext; the old one
/// stops working. An explicit command's work, never a plan's.
pub async fn rotate(gateway: &Gateway, name: &str) -> Result<RotatedKey, ApiError> {
    let address = Address::access_key(name).to_string();
    let answer = gateway.read(endpoints::access_key_search()).await?;
    let keys = answer
        .get(KEYS)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ids: Vec<String> = keys
        .iter()
        .filter(|k| string_field(k, "name") == name)
        .map(|k| string_field(k, "id"))
        .collect();
    let id = match ids.as_slice() {
        [id] => id.clone(),
        [] => {
            return Err(ApiError::setup(
                endpoints::ACCESS_KEY_SEARCH,
                &address,
                format!("no live access key is named `{name}`"),
            ))
        }
        _ => {
            return Err(ApiError::setup(
                endpoints::ACCESS_KEY_SEARCH,
                &address,
                duplicate_message(name, &ids),
            ))
        }
    };
    // Not checked and never repeated blindly by a read-back: a rotate that may have landed
    // must not be sent again (each one voids the secret before it).
    let outcome = gateway
        .write(endpoints::access_key_rotate(&id, name), &NoCheck)
        .await?;
    let answer = match outcome {
        WriteOutcome::Applied(v) => v,
        WriteOutcome::AlreadyDone => Value::Null,
    };
    match answer.pointer(CLEARTEXT).and_then(Value::as_str) {
        Some(c) => Ok(RotatedKey {
            id,
            cleartext: Secret::new(c),
        }),
        None => Err(ApiError::setup(
            endpoints::ACCESS_KEY_ROTATE,
            &address,
            "Descope's answer carried no cleartext; rotate again",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_forms() {
        assert_eq!(parse_expires("never"), Ok(0));
        assert_eq!(parse_expires("2027-01-31"), Ok(1_801_353_600));
        assert_eq!(parse_expires("2027-01-31T00:00:00Z"), Ok(1_801_353_600));
        assert_eq!(
            parse_expires("2027-01-31T02:00:00+02:00"),
            Ok(1_801_353_600)
        );
        assert!(parse_expires("tomorrow").is_err());
        assert_eq!(expires_text(1_801_353_600), "2027-01-31T00:00:00Z");
        assert_eq!(expires_text(0), "never");
    }

    fn desired(spec: AccessKeySpec) -> DesiredResource {
        DesiredResource::new(
            Address::access_key("ci"),
            spec,
            vec![],
            false,
            false,
            vec![],
        )
    }

    fn spec() -> AccessKeySpec {
        AccessKeySpec {
            name: "ci".into(),
            description: Some("CI".into()),
            roles: Some(vec![]),
            tenant_roles: None,
            expires: None,
            permitted_ips: None,
            custom_claims: None,
            active: Some(false),
            user_id: None,
        }
    }

    #[test]
    fn an_inactive_key_is_created_then_deactivated_by_the_id_it_was_given() {
        let body = AccessKeyKind.create_body(&desired(spec()));
        let op = AccessKeyKind.create_op(&Address::access_key("ci"), &body);
        assert_eq!(op.steps.len(), 2);
        assert_eq!(op.steps[0].issues_secret.as_deref(), Some("/cleartext"));
        assert!(op.steps[0].body.as_ref().unwrap().get("status").is_none());
        assert_eq!(op.steps[1].path, endpoints::ACCESS_KEY_DEACTIVATE);
        assert_eq!(op.steps[1].id_from_previous.as_deref(), Some("/key/id"));
    }

    #[test]
    fn an_update_sends_only_what_differs() {
        let live = json!({"id": "K1", "name": "ci", "description": "old", "roleNames": [],
                          "status": "active", "expireTime": 0});
        let body = AccessKeyKind.update_body(&desired(spec()), &live);
        assert_eq!(
            body,
            json!({"id": "K1", "name": "ci", "description": "CI", "status": "inactive"})
        );
        let op = AccessKeyKind.update_op(&Address::access_key("ci"), &body);
        assert_eq!(op.steps.len(), 2);
        assert_eq!(
            op.steps[0].body,
            Some(json!({"id": "K1", "name": "ci", "description": "CI"}))
        );
        assert_eq!(op.steps[1].body, Some(json!({"id": "K1"})));
        let only_status = json!({"id": "K1", "name": "ci", "status": "active"});
        let op = AccessKeyKind.update_op(&Address::access_key("ci"), &only_status);
        assert_eq!(op.steps.len(), 1);
        assert_eq!(op.steps[0].path, endpoints::ACCESS_KEY_ACTIVATE);
    }

    #[test]
    fn duplicate_names_are_named_with_their_ids() {
        let keys = vec![
            json!({"id": "K1", "name": "ci"}),
            json!({"id": "K2", "name": "ci"}),
            json!({"id": "K3", "name": "other"}),
        ];
        let d = duplicates(keys.clone());
        assert_eq!(d.len(), 1);
        assert!(duplicate_message("ci", &d["ci"]).contains("K1, K2"));
    }
}
