//! SSO applications, Descope as the identity provider (docs/descope-api.md §13): OIDC and SAML
//! create (caller-chosen or generated `SA` ids), full-override update, delete, load (the bare
//! app), load all, and the secret calls. The OIDC `clientId`/`clientSecret` count only on
//! create. Server-computed values (`issuer`, `discoveryUrl`, the `idp*` values) have formats
//! no source pins; the emulator's are in docs/emulator.md.

use serde_json::{json, Map, Value};

use super::{Ctx, Input};
use crate::data::{ProjectData, StoredApp};
use crate::error::ApiError;
use crate::fields::Body;

/// Where the emulator says its IdP lives ([unverified] formats, docs/emulator.md).
const IDP_BASE: &str = "https://api.descope.com";

/// The emulator's IdP signing certificate: a fixed stand-in, the same for every app.
const IDP_CERT: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBemulatoridpcertificate\n-----END CERTIFICATE-----";

fn missing_app(id: &str) -> ApiError {
    ApiError::not_found(format!("SSO application {id} not found"))
}

fn app(d: &ProjectData, id: &str) -> Option<usize> {
    d.sso_apps.iter().position(|a| a.id == id)
}

/// Names are unique in a project, like ids ("Both the name and ID must be unique per project",
/// PY `create_*_application`).
fn name_free(d: &ProjectData, b: &Body, except: &str) -> Result<(), ApiError> {
    let name = b.req_str("name")?;
    match d
        .sso_apps
        .iter()
        .any(|a| a.id != except && a.app["name"].as_str() == Some(name.as_str()))
    {
        true => Err(ApiError::invalid(format!(
            "An SSO application named {name} already exists"
        ))),
        false => Ok(()),
    }
}

fn str_or_empty(b: &Body, key: &str) -> Result<String, ApiError> {
    Ok(b.opt_str(key)?.unwrap_or_default())
}

/// Only the fields GO tags `omitempty` and a request actually set.
fn put_if_set(m: &mut Map<String, Value>, key: &str, v: Value) {
    let empty = match &v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    };
    if !empty {
        m.insert(key.into(), v);
    }
}

fn common(
    b: &Body,
    id: &str,
    app_type: &str,
    default_enabled: bool,
) -> Result<Map<String, Value>, ApiError> {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("name".into(), json!(b.req_str("name")?));
    m.insert("description".into(), json!(str_or_empty(b, "description")?));
    m.insert(
        "enabled".into(),
        json!(b.opt_bool("enabled")?.unwrap_or(default_enabled)),
    );
    m.insert("logo".into(), json!(str_or_empty(b, "logo")?));
    m.insert("appType".into(), json!(app_type));
    m.insert("samlSettings".into(), Value::Null);
    m.insert("oidcSettings".into(), Value::Null);
    m.insert(
        "customAttributes".into(),
        Value::Object(b.opt_object("customAttributes")?.unwrap_or_default()),
    );
    Ok(m)
}

fn oidc_settings(b: &Body, id: &str, client_id: &str) -> Result<Value, ApiError> {
    let issuer = format!("{IDP_BASE}/{id}");
    let mut s = Map::new();
    s.insert(
        "loginPageUrl".into(),
        json!(str_or_empty(b, "loginPageUrl")?),
    );
    s.insert("issuer".into(), json!(issuer));
    s.insert(
        "discoveryUrl".into(),
        json!(format!("{issuer}/.well-known/openid-configuration")),
    );
    s.insert(
        "forceAuthentication".into(),
        json!(b.bool("forceAuthentication")?),
    );
    put_if_set(
        &mut s,
        "jwtBearerSettings",
        Value::Object(b.opt_object("jwtBearerSettings")?.unwrap_or_default()),
    );
    put_if_set(
        &mut s,
        "backChannelLogoutUrl",
        json!(str_or_empty(b, "backChannelLogoutUrl")?),
    );
    s.insert("clientId".into(), json!(client_id));
    let client_type = str_or_empty(b, "clientType")?;
    if !["", "confidential", "public"].contains(&client_type.as_str()) {
        return Err(ApiError::invalid(format!(
            "clientType {client_type} is not one of confidential, public"
        )));
    }
    put_if_set(&mut s, "clientType", json!(client_type));
    put_if_set(
        &mut s,
        "approvedRedirectUrls",
        json!(b.str_list("approvedRedirectUrls")?),
    );
    for flag in [
        "authorizationCodeDisabled",
        "clientCredentialsDisabled",
        "refreshTokenDisabled",
        "jwtBearerDisabled",
        "deviceCodeDisabled",
        "forcePkce",
    ] {
        put_if_set(&mut s, flag, json!(b.bool(flag)?));
    }
    put_if_set(
        &mut s,
        "defaultAudience",
        json!(str_or_empty(b, "defaultAudience")?),
    );
    Ok(Value::Object(s))
}

fn saml_settings(b: &Body, id: &str) -> Result<Value, ApiError> {
    let use_metadata = b.bool("useMetadataInfo")?;
    let metadata_url = str_or_empty(b, "metadataUrl")?;
    if use_metadata && metadata_url.is_empty() {
        return Err(ApiError::missing("metadataUrl"));
    }
    let list = |key: &str| -> Result<Value, ApiError> {
        Ok(Value::Array(b.opt_array(key)?.unwrap_or_default()))
    };
    let idp = format!("{IDP_BASE}/v1/apps/saml/{id}");
    Ok(json!({
        "loginPageUrl": str_or_empty(b, "loginPageUrl")?,
        "idpCert": IDP_CERT,
        "useMetadataInfo": use_metadata,
        "metadataUrl": metadata_url,
        "entityId": str_or_empty(b, "entityId")?,
        "acsUrl": str_or_empty(b, "acsUrl")?,
        "certificate": str_or_empty(b, "certificate")?,
        "attributeMapping": list("attributeMapping")?,
        "groupsMapping": list("groupsMapping")?,
        "idpMetadataUrl": format!("{idp}/metadata"),
        "idpEntityId": idp,
        "idpSsoUrl": format!("{idp}/sso"),
        "acsAllowedCallbacks": json!(b.str_list("acsAllowedCallbacks")?),
        "defaultRelayState": str_or_empty(b, "defaultRelayState")?,
        "idpInitiatedUrl": format!("{idp}/initiate"),
        "subjectNameIdType": str_or_empty(b, "subjectNameIdType")?,
        "subjectNameIdFormat": str_or_empty(b, "subjectNameIdFormat")?,
        "forceAuthentication": b.bool("forceAuthentication")?,
        "idpLogoutUrl": format!("{idp}/logout"),
        "logoutRedirectUrl": str_or_empty(b, "logoutRedirectUrl")?,
        "defaultSignatureAlgorithm": str_or_empty(b, "defaultSignatureAlgorithm")?,
    }))
}

fn new_secret(ctx: &mut Ctx) -> String {
    format!("{}{}", ctx.new_id(""), ctx.new_id(""))
}

fn create(d: &mut ProjectData, ctx: &mut Ctx, b: &Body, app_type: &str) -> Result<Value, ApiError> {
    let id = match b.opt_str("id")? {
        Some(id) if app(d, &id).is_some() => {
            return Err(ApiError::invalid(format!(
                "An SSO application with id {id} already exists"
            )))
        }
        Some(id) => id,
        None => ctx.new_id("SA"),
    };
    name_free(d, b, &id)?;
    let mut m = common(b, &id, app_type, true)?;
    let cleartext = match app_type {
        "oidc" => {
            let client_id = b.opt_str("clientId")?.unwrap_or_else(|| id.clone());
            if d.sso_apps
                .iter()
                .any(|a| a.app["oidcSettings"]["clientId"].as_str() == Some(client_id.as_str()))
            {
                return Err(ApiError::invalid(format!(
                    "client id {client_id} is already in use"
                )));
            }
            m.insert("oidcSettings".into(), oidc_settings(b, &id, &client_id)?);
            match b.opt_str("clientSecret")? {
                Some(s) => s,
                None => new_secret(ctx),
            }
        }
        _ => {
            m.insert("samlSettings".into(), saml_settings(b, &id)?);
            new_secret(ctx)
        }
    };
    d.sso_apps.push(StoredApp {
        id: id.clone(),
        app: Value::Object(m),
        cleartext,
    });
    Ok(json!({ "id": id }))
}

/// A full override: what the body leaves out is cleared ("Empty fields will override
/// populated fields", PY `update_*_application`); the client id and secret stay, as they are
/// set only at creation.
fn update(d: &mut ProjectData, b: &Body, app_type: &str) -> Result<Value, ApiError> {
    let id = b.req_str("id")?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    name_free(d, b, &id)?;
    let old = &d.sso_apps[at].app;
    if old["appType"].as_str() != Some(app_type) {
        return Err(ApiError::invalid(format!(
            "SSO application {id} is not a {app_type} application"
        )));
    }
    let mut m = common(b, &id, app_type, false)?;
    match app_type {
        "oidc" => {
            let client_id = old["oidcSettings"]["clientId"]
                .as_str()
                .unwrap_or(&id)
                .to_string();
            m.insert("oidcSettings".into(), oidc_settings(b, &id, &client_id)?);
        }
        _ => {
            m.insert("samlSettings".into(), saml_settings(b, &id)?);
        }
    }
    d.sso_apps[at].app = Value::Object(m);
    Ok(json!({}))
}

pub fn create_oidc(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    create(d, ctx, &inp.body, "oidc")
}

pub fn create_saml(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    create(d, ctx, &inp.body, "saml")
}

pub fn update_oidc(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    update(d, &inp.body, "oidc")
}

pub fn update_saml(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    update(d, &inp.body, "saml")
}

pub fn delete(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    d.sso_apps.remove(at);
    Ok(json!({}))
}

pub fn load(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    Ok(ctx.out(d.sso_apps[at].app.clone()))
}

pub fn load_all(d: &mut ProjectData, ctx: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    let apps = d.sso_apps.iter().map(|a| a.app.clone()).collect();
    Ok(json!({ "apps": ctx.out_all(apps) }))
}

pub fn secret(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    Ok(json!({ "cleartext": d.sso_apps[at].cleartext }))
}

pub fn rotate(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    let cleartext = new_secret(ctx);
    d.sso_apps[at].cleartext = cleartext.clone();
    Ok(json!({ "cleartext": cleartext }))
}
