//! Tenant SSO configurations (docs/descope-api.md §11): SAML, SAML by metadata URL and OIDC,
//! several per tenant (`ssoId`, none for the default one), with Descope's update traps: the
//! SAML `settings` replace the stored ones, except that empty `defaultSSORoles` keep the stored
//! roles (unless `replaceDefaultSSORoles`), a missing `usePkce` keeps its value, and the OIDC
//! `clientSecret` is write-only (always `""` in a load; not sent keeps the stored one).
//! The choices where Descope is unverified are in docs/emulator.md.

use serde_json::{json, Map, Value};

use super::{Ctx, Input};
use crate::data::{ProjectData, SsoConfig};
use crate::error::ApiError;
use crate::fields::Body;

const AUTH_TYPES: [&str; 3] = ["none", "saml", "oidc"];

fn missing_tenant(id: &str) -> ApiError {
    ApiError::not_found(format!("Tenant {id} not found"))
}

fn missing_sso(tenant: &str, sso_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "SSO configuration {sso_id} of tenant {tenant} not found"
    ))
}

/// The tenant and configuration a call names: `ssoId` absent means the default one, which
/// every tenant has (unconfigured until its first configure); another id must exist.
fn target(d: &ProjectData, tenant: &str, sso_id: Option<String>) -> Result<String, ApiError> {
    if d.tenant(tenant).is_none() {
        return Err(missing_tenant(tenant));
    }
    let sso_id = sso_id.unwrap_or_default();
    if !sso_id.is_empty() && d.sso_config(tenant, &sso_id).is_none() {
        return Err(missing_sso(tenant, &sso_id));
    }
    Ok(sso_id)
}

fn from_query(d: &ProjectData, inp: &Input) -> Result<(String, String), ApiError> {
    let tenant = inp
        .query
        .get("tenantId")
        .filter(|t| !t.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::missing("tenantId"))?;
    let sso_id = target(d, &tenant, inp.query.get("ssoId").cloned())?;
    Ok((tenant, sso_id))
}

fn from_body(d: &ProjectData, b: &Body) -> Result<(String, String), ApiError> {
    let tenant = b.req_str("tenantId")?;
    let sso_id = target(d, &tenant, b.opt_str("ssoId")?)?;
    Ok((tenant, sso_id))
}

/// The stored configuration, created on first use for the default one.
fn config_mut<'a>(d: &'a mut ProjectData, tenant: &str, sso_id: &str) -> &'a mut SsoConfig {
    if d.sso_config(tenant, sso_id).is_none() {
        d.sso.push(blank(tenant, sso_id, ""));
    }
    d.sso
        .iter_mut()
        .find(|c| c.tenant_id == tenant && c.sso_id == sso_id)
        .expect("inserted above")
}

fn blank(tenant: &str, sso_id: &str, display_name: &str) -> SsoConfig {
    SsoConfig {
        tenant_id: tenant.to_string(),
        sso_id: sso_id.to_string(),
        display_name: display_name.to_string(),
        auth_type: "none".into(),
        saml: empty_saml(),
        oidc: empty_oidc(),
        ..SsoConfig::default()
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn saml_attribute_mapping(m: Option<Map<String, Value>>) -> Value {
    let mut out = object(json!({
        "name": "", "email": "", "username": "", "phoneNumber": "", "group": "",
        "givenName": "", "middleName": "", "familyName": "", "picture": "",
        "customAttributes": {},
    }));
    for (k, v) in m.unwrap_or_default() {
        if !v.is_null() {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

fn oidc_attribute_mapping(m: Option<Map<String, Value>>) -> Value {
    let mut out = object(json!({
        "loginId": "", "username": "", "name": "", "email": "", "phoneNumber": "",
        "verifiedEmail": "", "verifiedPhone": "", "picture": "", "givenName": "",
        "middleName": "", "familyName": "",
    }));
    for (k, v) in m.unwrap_or_default() {
        if !v.is_null() {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

/// The load's `saml` block of a configuration never configured (PY `load_settings` docstring).
fn empty_saml() -> Map<String, Value> {
    object(json!({
        "idpEntityId": "", "idpSSOUrl": "", "idpCertificate": "",
        "idpAdditionalCertificates": [], "idpMetadataUrl": "", "spEntityId": "", "spACSUrl": "",
        "spCertificate": "", "attributeMapping": saml_attribute_mapping(None),
        "groupsMapping": [], "defaultSSORoles": [], "groupsPriority": [], "redirectUrl": "",
        "fgaMappings": {}, "configFGATenantIDResourcePrefix": "",
        "configFGATenantIDResourceSuffix": "", "lastSuccessTestTime": 0,
    }))
}

fn empty_oidc() -> Map<String, Value> {
    object(json!({
        "name": "", "clientId": "", "clientSecret": "", "redirectUrl": "", "authUrl": "",
        "tokenUrl": "", "userDataUrl": "", "scope": [], "JWKsUrl": "",
        "userAttrMapping": oidc_attribute_mapping(None), "manageProviderTokens": false,
        "callbackDomain": "", "prompt": [], "grantType": "authorization_code", "issuer": "",
        "groupsMapping": [], "defaultSSORoles": [], "groupsPriority": [], "fgaMappings": {},
        "lastSuccessTestTime": 0,
    }))
}

/// `roleMappings: [{groups, roleName}]` in, `groupsMapping: [{role: {id, name}, groups}]` out;
/// a role is the tenant's of that name, else the project's. Unknown roles are refused only
/// under `--strict` (docs/emulator.md).
fn groups_mapping(
    d: &ProjectData,
    ctx: &Ctx,
    tenant: &str,
    settings: &Body,
) -> Result<Value, ApiError> {
    let mut out = Vec::new();
    for m in settings.objects("roleMappings")? {
        let name = m.req_str("roleName")?;
        let groups = m.str_list("groups")?;
        let role = d.role(&name, tenant).or_else(|| d.role(&name, ""));
        if role.is_none() && ctx.strict {
            return Err(ApiError::invalid(format!("Role {name} not found")));
        }
        let id = role.map(|r| r.id.clone()).unwrap_or_default();
        out.push(json!({"role": {"id": id, "name": name}, "groups": groups}));
    }
    Ok(Value::Array(out))
}

/// What Descope computes for a SAML service provider when the caller does not migrate its own
/// (the format is the emulator's: docs/emulator.md).
fn sp_values(tenant: &str, sso_id: &str) -> (String, String, String) {
    let id = if sso_id.is_empty() { "default" } else { sso_id };
    (
        format!("https://api.descope.emulator/v1/auth/saml/acs/{tenant}/{id}"),
        format!("https://api.descope.emulator/sp/{tenant}/{id}"),
        format!(
            "-----BEGIN CERTIFICATE-----\nRU1VTEFUT1ItU1AtQ0VSVC17dGVuYW50fQ==\n# {tenant}/{id}\n-----END CERTIFICATE-----"
        ),
    )
}

fn set_domains(c: &mut SsoConfig, b: &Body) -> Result<(), ApiError> {
    // `domains: null` (what GO sends for an empty slice) leaves them alone.
    if let Some(domains) = b.opt_str_list("domains")? {
        c.domains = domains;
    }
    Ok(())
}

/// The tenant shows its default configuration's type and domains.
fn sync_tenant(d: &mut ProjectData, tenant: &str, sso_id: &str) {
    if !sso_id.is_empty() {
        return;
    }
    let (auth_type, domains) = d
        .sso_config(tenant, "")
        .map(|c| (c.auth_type.clone(), c.domains.clone()))
        .unwrap_or_else(|| ("none".into(), Vec::new()));
    if let Some(t) = d.tenant_mut(tenant) {
        t.auth_type = auth_type;
        t.domains = domains;
    }
}

fn configure_saml_with(
    d: &mut ProjectData,
    ctx: &mut Ctx,
    inp: &Input,
    by_metadata: bool,
) -> Result<Value, ApiError> {
    let b = &inp.body;
    let (tenant, sso_id) = from_body(d, b)?;
    let settings = Body(
        b.opt_object("settings")?
            .ok_or_else(|| ApiError::missing("settings"))?,
    );
    let (idp_url, cert, entity_id, metadata_url) = if by_metadata {
        (
            String::new(),
            String::new(),
            settings.opt_str("entityId")?.unwrap_or_default(),
            settings.req_str("idpMetadataUrl")?,
        )
    } else {
        (
            settings.req_str("idpUrl")?,
            settings.req_str("idpCert")?,
            settings.req_str("entityId")?,
            String::new(),
        )
    };
    let mapping = groups_mapping(d, ctx, &tenant, &settings)?;
    let default_roles = settings.str_list("defaultSSORoles")?;
    let replace_roles = settings.bool("replaceDefaultSSORoles")?;
    let (acs, sp_entity, sp_cert) = sp_values(&tenant, &sso_id);
    let redirect = b.opt_str("redirectUrl")?.unwrap_or_default();
    let c = config_mut(d, &tenant, &sso_id);
    // Empty or missing default roles keep the stored ones (PY `_set_replace_default_sso_roles`).
    let roles = if default_roles.is_empty() && !replace_roles {
        c.saml
            .get("defaultSSORoles")
            .cloned()
            .unwrap_or_else(|| json!([]))
    } else {
        json!(default_roles)
    };
    let mut saml = empty_saml();
    saml.insert("idpEntityId".into(), json!(entity_id));
    saml.insert("idpSSOUrl".into(), json!(idp_url));
    saml.insert("idpCertificate".into(), json!(cert));
    saml.insert(
        "idpAdditionalCertificates".into(),
        json!(settings.str_list("idpAdditionalCerts")?),
    );
    saml.insert("idpMetadataUrl".into(), json!(metadata_url));
    saml.insert(
        "spEntityId".into(),
        json!(settings.opt_str("spEntityId")?.unwrap_or(sp_entity)),
    );
    saml.insert(
        "spACSUrl".into(),
        json!(settings.opt_str("spACSUrl")?.unwrap_or(acs)),
    );
    saml.insert("spCertificate".into(), json!(sp_cert));
    saml.insert(
        "attributeMapping".into(),
        saml_attribute_mapping(settings.opt_object("attributeMapping")?),
    );
    saml.insert("groupsMapping".into(), mapping);
    saml.insert("defaultSSORoles".into(), roles);
    saml.insert(
        "groupsPriority".into(),
        json!(settings.str_list("groupsPriority")?),
    );
    saml.insert("redirectUrl".into(), json!(redirect));
    if let Some(f) = settings.opt_object("fgaMappings")? {
        saml.insert("fgaMappings".into(), Value::Object(f));
    }
    for k in [
        "configFGATenantIDResourcePrefix",
        "configFGATenantIDResourceSuffix",
    ] {
        saml.insert(k.into(), json!(settings.opt_str(k)?.unwrap_or_default()));
    }
    c.saml = saml;
    // Not sent is false: the SAML settings are replaced whole, which is how an update through
    // GO (which never sends it) turns request signing back on.
    c.disable_sign_request = settings.bool("disableSignRequest")?;
    c.auth_type = "saml".into();
    set_domains(c, b)?;
    sync_tenant(d, &tenant, &sso_id);
    Ok(json!({}))
}

pub fn configure_saml(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    configure_saml_with(d, ctx, inp, false)
}

pub fn configure_saml_metadata(
    d: &mut ProjectData,
    ctx: &mut Ctx,
    inp: &Input,
) -> Result<Value, ApiError> {
    configure_saml_with(d, ctx, inp, true)
}

pub fn configure_oidc(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let (tenant, sso_id) = from_body(d, b)?;
    let s = Body(
        b.opt_object("settings")?
            .ok_or_else(|| ApiError::missing("settings"))?,
    );
    let name = s.req_str("name")?;
    let client_id = s.req_str("clientId")?;
    let grant_type = s
        .opt_str("grantType")?
        .unwrap_or_else(|| "authorization_code".into());
    let use_pkce = s.opt_bool("usePkce")?;
    if use_pkce == Some(true) && grant_type == "implicit" {
        return Err(ApiError::invalid(
            "usePkce cannot be used with the implicit grant",
        ));
    }
    let secret = s.opt_str("clientSecret")?;
    let c = config_mut(d, &tenant, &sso_id);
    let mut oidc = empty_oidc();
    for (k, v) in [
        ("name", json!(name)),
        ("clientId", json!(client_id)),
        ("grantType", json!(grant_type)),
        (
            "userAttrMapping",
            oidc_attribute_mapping(s.opt_object("userAttrMapping")?),
        ),
        ("scope", json!(s.str_list("scope")?)),
        ("prompt", json!(s.str_list("prompt")?)),
        ("groupsPriority", json!(s.str_list("groupsPriority")?)),
        (
            "manageProviderTokens",
            json!(s.bool("manageProviderTokens")?),
        ),
    ] {
        oidc.insert(k.into(), v);
    }
    for k in [
        "redirectUrl",
        "authUrl",
        "tokenUrl",
        "userDataUrl",
        "JWKsUrl",
        "callbackDomain",
        "issuer",
    ] {
        oidc.insert(k.into(), json!(s.opt_str(k)?.unwrap_or_default()));
    }
    if let Some(f) = s.opt_object("fgaMappings")? {
        oidc.insert("fgaMappings".into(), Value::Object(f));
    }
    // Kept from the stored configuration: what the OIDC configure does not carry.
    for k in ["groupsMapping", "defaultSSORoles"] {
        if let Some(v) = c.oidc.get(k) {
            oidc.insert(k.into(), v.clone());
        }
    }
    c.oidc = oidc;
    if let Some(secret) = secret {
        c.client_secret = secret;
    }
    if let Some(p) = use_pkce {
        c.use_pkce = p;
    }
    c.auth_type = "oidc".into();
    set_domains(c, b)?;
    sync_tenant(d, &tenant, &sso_id);
    Ok(json!({}))
}

pub fn new_settings(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let tenant = b.req_str("tenantId")?;
    if d.tenant(&tenant).is_none() {
        return Err(missing_tenant(&tenant));
    }
    let display_name = b.req_str("displayName")?;
    let sso_id = match b.opt_str("ssoId")? {
        Some(id) => id,
        None => ctx.new_id("SSO"),
    };
    if d.sso_config(&tenant, &sso_id).is_some() {
        return Err(ApiError::invalid(format!(
            "SSO configuration {sso_id} already exists in tenant {tenant}"
        )));
    }
    d.sso.push(blank(&tenant, &sso_id, &display_name));
    Ok(render(d, ctx, &tenant, &sso_id))
}

pub fn delete(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let (tenant, sso_id) = from_query(d, inp)?;
    d.sso
        .retain(|c| !(c.tenant_id == tenant && c.sso_id == sso_id));
    sync_tenant(d, &tenant, &sso_id);
    Ok(json!({}))
}

pub fn auth_type(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let (tenant, sso_id) = from_body(d, b)?;
    let auth_type = b.req_str("authType")?;
    if !AUTH_TYPES.contains(&auth_type.as_str()) {
        return Err(ApiError::invalid(format!(
            "authType {auth_type} is not one of none, saml, oidc"
        )));
    }
    config_mut(d, &tenant, &sso_id).auth_type = auth_type;
    sync_tenant(d, &tenant, &sso_id);
    Ok(json!({}))
}

pub fn redirect(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let (tenant, sso_id) = from_body(d, b)?;
    let saml = b.opt_str("samlRedirectUrl")?;
    let oauth = b.opt_str("oauthRedirectUrl")?;
    let c = config_mut(d, &tenant, &sso_id);
    if let Some(u) = saml {
        c.saml.insert("redirectUrl".into(), json!(u));
    }
    if let Some(u) = oauth {
        c.oidc.insert("redirectUrl".into(), json!(u));
    }
    Ok(json!({}))
}

/// Mappings are applied at login, which the emulator has none of: only the addressing counts.
pub fn recalculate(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    from_body(d, &inp.body)?;
    Ok(json!({}))
}

/// The load shape: `{tenant, saml, oidc, ssoId}`, the tenant showing this configuration's
/// type and domains.
fn render(d: &ProjectData, ctx: &Ctx, tenant: &str, sso_id: &str) -> Value {
    let stored = d.sso_config(tenant, sso_id);
    let c = stored.cloned().unwrap_or_else(|| blank(tenant, sso_id, ""));
    let mut t = d.tenant_json(tenant).unwrap_or_else(|| json!({}));
    t["authType"] = json!(c.auth_type);
    t["domains"] = json!(c.domains);
    let mut oidc = c.oidc.clone();
    // Write-only: "will be empty on response" (GO `types.go` `SSOOIDCSettings`).
    oidc.insert("clientSecret".into(), json!(""));
    ctx.out(json!({
        "tenant": t,
        "saml": c.saml,
        "oidc": oidc,
        "ssoId": c.sso_id,
    }))
}

pub fn load(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let (tenant, sso_id) = from_query(d, inp)?;
    Ok(render(d, ctx, &tenant, &sso_id))
}

pub fn load_all(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let (tenant, _) = from_query(d, inp)?;
    let ids: Vec<String> = d
        .sso
        .iter()
        .filter(|c| c.tenant_id == tenant)
        .map(|c| c.sso_id.clone())
        .collect();
    let all: Vec<Value> = ids.iter().map(|id| render(d, ctx, &tenant, id)).collect();
    Ok(json!({ "SSOSettings": all }))
}
