//! Third-party applications (docs/descope-api.md §19): create (answers the id and the secret),
//! full-override update, partial patch, delete (one or a batch), load (the bare app), load all
//! (PY `GET`, GO `POST` with `{page, limit}`, both `{"apps", "total"}`), and the secret calls.
//! The server generates ids and client ids; whether Descope honours the `id` GO sends is
//! unverified, and the emulator ignores it (docs/emulator.md).

use serde_json::{json, Map, Value};

use super::{Ctx, Input};
use crate::data::{ProjectData, StoredApp};
use crate::error::ApiError;
use crate::fields::Body;

/// A field a client sets and its value when not sent.
type Field = (&'static str, fn() -> Value);

/// The fields a client sets.
const FIELDS: [Field; 12] = [
    ("name", || json!("")),
    ("description", || json!("")),
    ("logo", || json!("")),
    ("loginPageUrl", || json!("")),
    ("approvedCallbackUrls", || json!([])),
    ("permissionsScopes", || json!([])),
    ("attributesScopes", || json!([])),
    ("scopeClaimMapping", || json!([])),
    ("jwtBearerSettings", || json!({})),
    ("customAttributes", || json!({})),
    ("forcePkce", || json!(false)),
    ("defaultAudience", || json!("")),
];

fn missing_app(id: &str) -> ApiError {
    ApiError::not_found(format!("Third party application {id} not found"))
}

fn app(d: &ProjectData, id: &str) -> Option<usize> {
    d.third_party_apps.iter().position(|a| a.id == id)
}

/// A sent field, type-checked like the default it replaces; `None` when not sent.
fn field(b: &Body, key: &str, default: &Value) -> Result<Option<Value>, ApiError> {
    let v = match default {
        Value::String(_) => b.opt_str(key)?.map(Value::from),
        Value::Bool(_) => b.opt_bool(key)?.map(Value::from),
        Value::Array(_) => b.opt_array(key)?.map(Value::Array),
        _ => b.opt_object(key)?.map(Value::Object),
    };
    Ok(v)
}

/// The app as a load answers it, from `base` with the sent fields replaced.
fn apply_fields(
    base: &mut Map<String, Value>,
    b: &Body,
    clear_unsent: bool,
) -> Result<(), ApiError> {
    for (key, default) in FIELDS {
        let default = default();
        match field(b, key, &default)? {
            Some(v) => {
                base.insert(key.into(), v);
            }
            None if clear_unsent => {
                base.insert(key.into(), default);
            }
            None => {}
        }
    }
    Ok(())
}

/// Names are unique in a project ("must be unique per project", PY `create`).
fn name_free(d: &ProjectData, b: &Body, except: &str) -> Result<(), ApiError> {
    let Some(name) = b.opt_str("name")? else {
        return Ok(());
    };
    match d
        .third_party_apps
        .iter()
        .any(|a| a.id != except && a.app["name"].as_str() == Some(name.as_str()))
    {
        true => Err(ApiError::invalid(format!(
            "A third party application named {name} already exists"
        ))),
        false => Ok(()),
    }
}

fn new_secret(ctx: &mut Ctx) -> String {
    format!("{}{}", ctx.new_id(""), ctx.new_id(""))
}

pub fn create(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    b.req_str("name")?;
    name_free(d, b, "")?;
    let id = ctx.new_id("TPA");
    let client_id = ctx.new_id("");
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("clientId".into(), json!(client_id));
    apply_fields(&mut m, b, true)?;
    let cleartext = new_secret(ctx);
    d.third_party_apps.push(StoredApp {
        id: id.clone(),
        app: Value::Object(m),
        cleartext: cleartext.clone(),
    });
    // NODE's `CreateInboundApplicationResponse` also reads the client id.
    Ok(json!({ "id": id, "clientId": client_id, "cleartext": cleartext }))
}

fn change(d: &mut ProjectData, b: &Body, full: bool) -> Result<Value, ApiError> {
    let id = b.req_str("id")?;
    if full {
        b.req_str("name")?;
    }
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    name_free(d, b, &id)?;
    let Value::Object(m) = &mut d.third_party_apps[at].app else {
        return Err(missing_app(&id));
    };
    apply_fields(m, b, full)?;
    Ok(json!({}))
}

/// A full override: every field not sent is cleared.
pub fn update(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    change(d, &inp.body, true)
}

/// Only the fields sent change (GO's patch sends them all, zero values included, and so
/// clears what it sends empty).
pub fn patch(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    change(d, &inp.body, false)
}

pub fn delete(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    d.third_party_apps.remove(at);
    Ok(json!({}))
}

/// Ids that name no app are skipped (docs/emulator.md).
pub fn delete_batch(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let ids = inp.body.str_list("ids")?;
    if ids.is_empty() {
        return Err(ApiError::missing("ids"));
    }
    d.third_party_apps.retain(|a| !ids.contains(&a.id));
    Ok(json!({}))
}

pub fn load(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    Ok(ctx.out(d.third_party_apps[at].app.clone()))
}

/// `page` and `limit` (GO's POST) page through the apps; PY's GET sends neither and gets all.
pub fn load_all(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let page = inp.body.opt_i64("page")?.unwrap_or(0).max(0) as usize;
    let limit = inp.body.opt_i64("limit")?.unwrap_or(0).max(0) as usize;
    let total = d.third_party_apps.len();
    let all = d.third_party_apps.iter().map(|a| a.app.clone());
    let apps: Vec<Value> = if limit == 0 {
        all.collect()
    } else {
        all.skip(page.saturating_mul(limit)).take(limit).collect()
    };
    Ok(json!({ "apps": ctx.out_all(apps), "total": total }))
}

pub fn secret(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    Ok(json!({ "cleartext": d.third_party_apps[at].cleartext }))
}

pub fn rotate(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    let at = app(d, &id).ok_or_else(|| missing_app(&id))?;
    let cleartext = new_secret(ctx);
    d.third_party_apps[at].cleartext = cleartext.clone();
    Ok(json!({ "cleartext": cleartext }))
}
