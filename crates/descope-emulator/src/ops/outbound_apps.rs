//! Outbound applications (docs/descope-api.md §19): create with a flat body, update with the
//! body wrapped in `{"app"}` as a full override, delete by id, load by a path id, load all.
//! Ids and names are unique. The client secret is write-only: kept, never rendered, and an
//! update without one keeps the stored one [unverified] (docs/emulator.md).

use serde_json::{json, Value};

use super::{Ctx, Input};
use crate::data::{OutboundApp, ProjectData};
use crate::error::ApiError;
use crate::fields::Body;

const ACCESS_TYPES: [&str; 2] = ["offline", "online"];
const PROMPTS: [&str; 4] = ["none", "login", "consent", "select_account"];

fn missing_app(id: &str) -> ApiError {
    ApiError::not_found(format!("Outbound application {id} not found"))
}

/// URL parameters as sent: objects with a string `value` and a `name` (PY) or `key` (GO).
fn url_params(b: &Body, key: &str) -> Result<Vec<Value>, ApiError> {
    let params = b.objects(key)?;
    for p in &params {
        let named = ["name", "key"]
            .iter()
            .any(|k| p.0.get(*k).is_some_and(Value::is_string));
        if !named || p.0.get("value").is_some_and(|v| !v.is_string()) {
            return Err(ApiError::wrong_type(
                key,
                "a list of {name, value} (or {key, value}) objects",
            ));
        }
    }
    Ok(params.into_iter().map(|p| Value::Object(p.0)).collect())
}

/// The app a body describes; every field it leaves out is empty (updates are full overrides).
fn read_app(b: &Body, id: String, secret: Option<String>) -> Result<OutboundApp, ApiError> {
    let access_type = b.opt_str("accessType")?.unwrap_or_default();
    if !access_type.is_empty() && !ACCESS_TYPES.contains(&access_type.as_str()) {
        return Err(ApiError::invalid(format!(
            "accessType {access_type} is not one of offline, online"
        )));
    }
    let prompt = b.str_list("prompt")?;
    if let Some(bad) = prompt.iter().find(|p| !PROMPTS.contains(&p.as_str())) {
        return Err(ApiError::invalid(format!(
            "prompt {bad} is not one of none, login, consent, select_account"
        )));
    }
    let s = |k: &str| b.opt_str(k).map(Option::unwrap_or_default);
    Ok(OutboundApp {
        id,
        name: b.req_str("name")?,
        description: s("description")?,
        template_id: s("templateId")?,
        client_id: s("clientId")?,
        client_secret: match b.opt_str("clientSecret")? {
            Some(new) => new,
            None => secret.unwrap_or_default(),
        },
        logo: s("logo")?,
        discovery_url: s("discoveryUrl")?,
        authorization_url: s("authorizationUrl")?,
        authorization_url_params: url_params(b, "authorizationUrlParams")?,
        token_url: s("tokenUrl")?,
        token_url_params: url_params(b, "tokenUrlParams")?,
        revocation_url: s("revocationUrl")?,
        default_scopes: b.str_list("defaultScopes")?,
        default_redirect_url: s("defaultRedirectUrl")?,
        callback_domain: s("callbackDomain")?,
        pkce: b.bool("pkce")?,
        access_type,
        prompt,
    })
}

fn name_free(d: &ProjectData, name: &str, except: &str) -> Result<(), ApiError> {
    match d
        .outbound_apps
        .iter()
        .any(|a| a.name == name && a.id != except)
    {
        true => Err(ApiError::invalid(format!(
            "An outbound application named {name} already exists"
        ))),
        false => Ok(()),
    }
}

pub fn create(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let id = match b.opt_str("id")? {
        Some(id) => id,
        None => ctx.new_id("OA"),
    };
    if d.outbound_app(&id).is_some() {
        return Err(ApiError::invalid(format!(
            "An outbound application with id {id} already exists"
        )));
    }
    let app = read_app(b, id, None)?;
    name_free(d, &app.name, &app.id)?;
    d.outbound_apps.push(app.clone());
    Ok(json!({"app": ctx.out(app.to_json())}))
}

pub fn update(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = Body(
        inp.body
            .opt_object("app")?
            .ok_or_else(|| ApiError::missing("app"))?,
    );
    let id = b.req_str("id")?;
    let stored = d.outbound_app(&id).ok_or_else(|| missing_app(&id))?;
    let app = read_app(&b, id.clone(), Some(stored.client_secret.clone()))?;
    name_free(d, &app.name, &id)?;
    if let Some(slot) = d.outbound_apps.iter_mut().find(|a| a.id == id) {
        *slot = app.clone();
    }
    Ok(json!({"app": ctx.out(app.to_json())}))
}

pub fn delete(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    let before = d.outbound_apps.len();
    d.outbound_apps.retain(|a| a.id != id);
    if d.outbound_apps.len() == before {
        return Err(missing_app(&id));
    }
    Ok(json!({}))
}

/// `GET /v1/mgmt/outbound/app/<id>`: the id arrives as the `id` query pair (`ops::path_key`).
pub fn load(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let app = d.outbound_app(&id).ok_or_else(|| missing_app(&id))?;
    Ok(json!({"app": ctx.out(app.to_json())}))
}

pub fn load_all(d: &mut ProjectData, ctx: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    let apps: Vec<Value> = d.outbound_apps.iter().map(OutboundApp::to_json).collect();
    Ok(json!({"apps": ctx.out_all(apps)}))
}
