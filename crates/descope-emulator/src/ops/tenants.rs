//! Tenants, their settings and default roles (docs/descope-api.md §4).

use serde_json::{json, Value};

use super::{Ctx, Input};
use crate::data::{ProjectData, Tenant};
use crate::error::ApiError;
use crate::fields::Body;

const MAX_LEVELS: usize = 3;
const AUTH_TYPES: &[&str] = &["none", "saml", "oidc"];
const UNITS: &[&str] = &["minutes", "hours", "days", "weeks"];
const ROLE_INHERITANCE: &[&str] = &["none", "userOnly"];

fn missing_tenant(id: &str) -> ApiError {
    ApiError::not_found(format!("Tenant {id} not found"))
}

fn check_name_free(d: &ProjectData, name: &str, except: Option<&str>) -> Result<(), ApiError> {
    let taken = d
        .tenants
        .iter()
        .any(|t| t.name == name && Some(t.id.as_str()) != except);
    if taken {
        return Err(ApiError::invalid(format!(
            "Tenant name {name} is already in use"
        )));
    }
    Ok(())
}

/// Domains compare case-insensitively, as DNS names do.
fn check_domains_free(
    d: &ProjectData,
    ctx: &Ctx,
    domains: &[String],
    except: Option<&str>,
) -> Result<(), ApiError> {
    if !ctx.strict {
        return Ok(());
    }
    for domain in domains {
        let owner = d.tenants.iter().find(|t| {
            Some(t.id.as_str()) != except
                && t.self_provisioning_domains
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(domain))
        });
        if let Some(owner) = owner {
            return Err(ApiError::invalid(format!(
                "Self provisioning domain {domain} is already used by tenant {}",
                owner.id
            )));
        }
    }
    Ok(())
}

fn one_of(
    ctx: &Ctx,
    field: &str,
    value: Option<String>,
    allowed: &[&str],
) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if ctx.strict && !allowed.contains(&v.as_str()) => Err(ApiError::invalid(format!(
            "{field} must be one of {}",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

pub fn create(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let name = b.req_str("name")?;
    let id = match b.opt_str("id")? {
        Some(id) => id,
        None => ctx.new_id("T"),
    };
    if d.tenant(&id).is_some() {
        return Err(ApiError::invalid(format!(
            "Tenant id {id} is already in use"
        )));
    }
    check_name_free(d, &name, None)?;
    let domains = b.str_list("selfProvisioningDomains")?;
    check_domains_free(d, ctx, &domains, None)?;
    let parent = b.opt_str("parent")?.unwrap_or_default();
    if !parent.is_empty() {
        if d.tenant(&parent).is_none() {
            return Err(ApiError::invalid(format!(
                "Parent tenant {parent} does not exist"
            )));
        }
        if ctx.strict && d.depth(&parent) >= MAX_LEVELS {
            return Err(ApiError::invalid(format!(
                "Tenants can be nested at most {MAX_LEVELS} levels deep"
            )));
        }
    }
    let role_inheritance = one_of(
        ctx,
        "roleInheritance",
        b.opt_str("roleInheritance")?,
        ROLE_INHERITANCE,
    )?;
    let auth_type = one_of(ctx, "authType", b.opt_str("authType")?, AUTH_TYPES)?;
    let tenant = Tenant {
        id: id.clone(),
        name,
        self_provisioning_domains: domains,
        custom_attributes: b.opt_object("customAttributes")?.unwrap_or_default(),
        auth_type: auth_type.unwrap_or_else(|| "none".into()),
        created_time: ctx.now,
        disabled: b.bool("disabled")?,
        enforce_sso: b.bool("enforceSSO")?,
        enforce_sso_exclusions: b.str_list("enforceSSOExclusions")?,
        federated_app_ids: b.str_list("federatedAppIds")?,
        parent,
        role_inheritance: role_inheritance.unwrap_or_default(),
        ..Default::default()
    };
    d.tenants.push(tenant);
    Ok(json!({ "id": id }))
}

/// Full override: every updatable field not sent is cleared. `parent` is creation-only, and
/// `authType` is kept when not sent because it belongs to the SSO setup (docs/emulator.md).
pub fn update(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let id = b.req_str("id")?;
    if d.tenant(&id).is_none() {
        return Err(missing_tenant(&id));
    }
    let name = b.req_str("name")?;
    check_name_free(d, &name, Some(&id))?;
    let domains = b.str_list("selfProvisioningDomains")?;
    check_domains_free(d, ctx, &domains, Some(&id))?;
    let role_inheritance = one_of(
        ctx,
        "roleInheritance",
        b.opt_str("roleInheritance")?,
        ROLE_INHERITANCE,
    )?;
    let auth_type = one_of(ctx, "authType", b.opt_str("authType")?, AUTH_TYPES)?;
    let custom_attributes = b.opt_object("customAttributes")?.unwrap_or_default();
    let disabled = b.bool("disabled")?;
    let enforce_sso = b.bool("enforceSSO")?;
    let exclusions = b.str_list("enforceSSOExclusions")?;
    let federated = b.str_list("federatedAppIds")?;
    let Some(t) = d.tenant_mut(&id) else {
        return Err(missing_tenant(&id));
    };
    t.name = name;
    t.self_provisioning_domains = domains;
    t.custom_attributes = custom_attributes;
    t.disabled = disabled;
    t.enforce_sso = enforce_sso;
    t.enforce_sso_exclusions = exclusions;
    t.federated_app_ids = federated;
    t.role_inheritance = role_inheritance.unwrap_or_default();
    if let Some(a) = auth_type {
        t.auth_type = a;
    }
    Ok(json!({}))
}

/// Only the fields sent change; `null` means "not sent".
pub fn patch(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let id = b.req_str("id")?;
    if d.tenant(&id).is_none() {
        return Err(missing_tenant(&id));
    }
    let name = b.opt_str("name")?;
    if let Some(name) = &name {
        check_name_free(d, name, Some(&id))?;
    }
    let domains = b.opt_str_list("selfProvisioningDomains")?;
    if let Some(domains) = &domains {
        check_domains_free(d, ctx, domains, Some(&id))?;
    }
    let role_inheritance = one_of(
        ctx,
        "roleInheritance",
        b.opt_str("roleInheritance")?,
        ROLE_INHERITANCE,
    )?;
    let custom_attributes = b.opt_object("customAttributes")?;
    let disabled = b.opt_bool("disabled")?;
    let enforce_sso = b.opt_bool("enforceSSO")?;
    let exclusions = b.opt_str_list("enforceSSOExclusions")?;
    let federated = b.opt_str_list("federatedAppIds")?;
    let Some(t) = d.tenant_mut(&id) else {
        return Err(missing_tenant(&id));
    };
    set(&mut t.name, name);
    set(&mut t.self_provisioning_domains, domains);
    set(&mut t.custom_attributes, custom_attributes);
    set(&mut t.disabled, disabled);
    set(&mut t.enforce_sso, enforce_sso);
    set(&mut t.enforce_sso_exclusions, exclusions);
    set(&mut t.federated_app_ids, federated);
    set(&mut t.role_inheritance, role_inheritance);
    Ok(json!({}))
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// Strict refuses a parent with children; lenient orphans them. The tenant's own roles go with
/// it, as they cannot exist without their tenant.
pub fn delete(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    if d.tenant(&id).is_none() {
        return Err(missing_tenant(&id));
    }
    let children = d.children(&id);
    if !children.is_empty() {
        if ctx.strict {
            return Err(ApiError::invalid(format!(
                "Tenant {id} has sub-tenants ({}); delete them first",
                children.join(", ")
            )));
        }
        for t in d.tenants.iter_mut().filter(|t| t.parent == id) {
            t.parent.clear();
        }
    }
    d.tenants.retain(|t| t.id != id);
    d.roles.retain(|r| r.tenant_id != id);
    d.sso.retain(|c| c.tenant_id != id);
    Ok(json!({}))
}

/// Unwrapped, as every SDK reads it (docs/descope-api.md §4).
pub fn load(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let t = d.tenant_json(&id).ok_or_else(|| missing_tenant(&id))?;
    Ok(ctx.out(t))
}

pub fn load_all(d: &mut ProjectData, ctx: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    Ok(json!({ "tenants": ctx.out_all(d.tenants_json()) }))
}

/// Filters combine with AND; an unset or empty filter matches everything.
pub fn search(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let ids = b.str_list("tenantIds")?;
    let names = b.str_list("tenantNames")?;
    let domains = b.str_list("tenantSelfProvisioningDomains")?;
    let attrs = b.opt_object("customAttributes")?.unwrap_or_default();
    let auth_type = b.opt_str("authType")?;
    let parent = b.opt_str("parentTenantId")?;
    let found: Vec<Value> = d
        .tenants
        .iter()
        .filter(|t| ids.is_empty() || ids.contains(&t.id))
        .filter(|t| names.is_empty() || names.contains(&t.name))
        .filter(|t| {
            domains.is_empty()
                || t.self_provisioning_domains
                    .iter()
                    .any(|x| domains.iter().any(|q| q.eq_ignore_ascii_case(x)))
        })
        .filter(|t| {
            attrs
                .iter()
                .all(|(k, v)| attr_matches(t.custom_attributes.get(k), v))
        })
        .filter(|t| auth_type.as_ref().is_none_or(|a| &t.auth_type == a))
        .filter(|t| parent.as_ref().is_none_or(|p| &t.parent == p))
        .filter_map(|t| d.tenant_json(&t.id))
        .collect();
    Ok(json!({ "tenants": ctx.out_all(found) }))
}

/// A list in the query matches any of its values.
fn attr_matches(actual: Option<&Value>, wanted: &Value) -> bool {
    match (actual, wanted) {
        (None, _) => false,
        (Some(a), Value::Array(options)) => options.contains(a) || a == wanted,
        (Some(a), w) => a == w,
    }
}

pub fn load_settings(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let s = d.settings_json(&id).ok_or_else(|| missing_tenant(&id))?;
    Ok(ctx.out(s))
}

/// Keys sent replace, keys not sent are kept: PY sends only the keys it was given, so a full
/// override would wipe settings on every PY call (docs/emulator.md).
pub fn update_settings(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let id = b.req_str("tenantId")?;
    if d.tenant(&id).is_none() {
        return Err(missing_tenant(&id));
    }
    let spd = b.opt_str_list("selfProvisioningDomains")?;
    if let Some(spd) = &spd {
        check_domains_free(d, ctx, spd, Some(&id))?;
    }
    let auth_type = one_of(ctx, "authType", b.opt_str("authType")?, AUTH_TYPES)?;
    let unit = |key: &str| -> Result<Option<String>, ApiError> {
        one_of(ctx, key, b.opt_str(key)?, UNITS)
    };
    let units = [
        unit("refreshTokenExpirationUnit")?,
        unit("sessionTokenExpirationUnit")?,
        unit("stepupTokenExpirationUnit")?,
        unit("inactivityTimeUnit")?,
    ];
    let [refresh_unit, session_unit, stepup_unit, inactivity_unit] = units;
    let update = SettingsUpdate::read(b)?;
    let Some(t) = d.tenant_mut(&id) else {
        return Err(missing_tenant(&id));
    };
    set(&mut t.self_provisioning_domains, spd);
    set(&mut t.auth_type, auth_type);
    set(&mut t.domains, update.domains);
    set(&mut t.enforce_sso, update.enforce_sso);
    set(&mut t.enforce_sso_exclusions, update.exclusions);
    set(&mut t.federated_app_ids, update.federated);
    let s = &mut t.settings;
    set(&mut s.enabled, update.enabled);
    set(&mut s.refresh_token_expiration, update.refresh);
    set(&mut s.refresh_token_expiration_unit, refresh_unit);
    set(&mut s.session_token_expiration, update.session);
    set(&mut s.session_token_expiration_unit, session_unit);
    set(&mut s.stepup_token_expiration, update.stepup);
    set(&mut s.stepup_token_expiration_unit, stepup_unit);
    set(&mut s.enable_inactivity, update.enable_inactivity);
    set(&mut s.inactivity_time, update.inactivity);
    set(&mut s.inactivity_time_unit, inactivity_unit);
    set(&mut s.jit_disabled, update.jit_disabled);
    set(&mut s.sso_setup_suite_settings, update.sso_suite);
    Ok(json!({}))
}

struct SettingsUpdate {
    domains: Option<Vec<String>>,
    enforce_sso: Option<bool>,
    exclusions: Option<Vec<String>>,
    federated: Option<Vec<String>>,
    enabled: Option<bool>,
    refresh: Option<i64>,
    session: Option<i64>,
    stepup: Option<i64>,
    enable_inactivity: Option<bool>,
    inactivity: Option<i64>,
    jit_disabled: Option<bool>,
    sso_suite: Option<serde_json::Map<String, Value>>,
}

impl SettingsUpdate {
    fn read(b: &Body) -> Result<Self, ApiError> {
        Ok(SettingsUpdate {
            domains: b.opt_str_list("domains")?,
            enforce_sso: b.opt_bool("enforceSSO")?,
            exclusions: b.opt_str_list("enforceSSOExclusions")?,
            federated: b.opt_str_list("federatedAppIds")?,
            enabled: b.opt_bool("enabled")?,
            refresh: b.opt_i64("refreshTokenExpiration")?,
            session: b.opt_i64("sessionTokenExpiration")?,
            stepup: b.opt_i64("stepupTokenExpiration")?,
            enable_inactivity: b.opt_bool("enableInactivity")?,
            inactivity: b.opt_i64("inactivityTime")?,
            jit_disabled: b.opt_bool("JITDisabled")?,
            sso_suite: b.opt_object("ssoSetupSuiteSettings")?,
        })
    }
}

/// Strict refuses a name that is neither a project role nor one of the tenant's roles.
pub fn update_default_roles(
    d: &mut ProjectData,
    ctx: &mut Ctx,
    inp: &Input,
) -> Result<Value, ApiError> {
    let b = &inp.body;
    let id = b.req_str("id")?;
    if d.tenant(&id).is_none() {
        return Err(missing_tenant(&id));
    }
    let names = b.str_list("defaultRoles")?;
    if ctx.strict {
        if let Some(unknown) = names
            .iter()
            .find(|n| d.role(n, "").is_none() && d.role(n, &id).is_none())
        {
            return Err(ApiError::invalid(format!("Role {unknown} does not exist")));
        }
    }
    if let Some(t) = d.tenant_mut(&id) {
        t.default_roles = names;
    }
    Ok(json!({}))
}
