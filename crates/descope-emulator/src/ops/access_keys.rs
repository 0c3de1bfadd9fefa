//! Access keys (docs/descope-api.md §17): create (the only answer besides rotate that carries
//! the cleartext), load, search, a partial update, activate/deactivate/delete with their
//! `/batch` forms, and rotate. The emulator keeps only a sha256 of each cleartext
//! (`AccessKey::cleartext_sha256`); exchanging a key for a session is out of scope.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{Ctx, Input};
use crate::data::{AccessKey, KeyTenant, ProjectData};
use crate::error::ApiError;
use crate::fields::Body;
use crate::ops::lists::valid_ip_or_cidr;

fn missing_key(id: &str) -> ApiError {
    ApiError::not_found(format!("Access key {id} not found"))
}

/// A fresh cleartext and its hash. Long and random like a real key; the format is
/// [unverified] (docs/emulator.md).
fn new_cleartext(ctx: &mut Ctx) -> (String, String) {
    let clear = format!("{}{}", ctx.new_id("AK"), ctx.new_id(""));
    let hash = hex::encode(Sha256::digest(clear.as_bytes()));
    (clear, hash)
}

fn key_tenants(d: &ProjectData, ctx: &Ctx, b: &Body) -> Result<Option<Vec<KeyTenant>>, ApiError> {
    if b.opt_array("keyTenants")?.is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for t in b.objects("keyTenants")? {
        let tenant_id = t.req_str("tenantId")?;
        if d.tenant(&tenant_id).is_none() {
            return Err(ApiError::invalid(format!("Tenant {tenant_id} not found")));
        }
        let role_names = t.str_list("roleNames")?;
        if ctx.strict {
            if let Some(r) = role_names.iter().find(|r| {
                !d.roles
                    .iter()
                    .any(|x| &x.name == *r && (x.tenant_id.is_empty() || x.tenant_id == tenant_id))
            }) {
                return Err(ApiError::invalid(format!(
                    "Role {r} not found for tenant {tenant_id}"
                )));
            }
        }
        out.push(KeyTenant {
            tenant_id,
            role_names,
        });
    }
    Ok(Some(out))
}

fn role_names(d: &ProjectData, ctx: &Ctx, b: &Body) -> Result<Option<Vec<String>>, ApiError> {
    let names = b.opt_str_list("roleNames")?;
    if ctx.strict {
        for r in names.iter().flatten() {
            if !d
                .roles
                .iter()
                .any(|x| &x.name == r && x.tenant_id.is_empty())
            {
                return Err(ApiError::invalid(format!("Role {r} not found")));
            }
        }
    }
    Ok(names)
}

fn permitted_ips(b: &Body) -> Result<Option<Vec<String>>, ApiError> {
    let ips = b.opt_str_list("permittedIps")?;
    if let Some(bad) = ips.iter().flatten().find(|i| !valid_ip_or_cidr(i)) {
        return Err(ApiError::invalid(format!(
            "{bad} is not an IP address or CIDR range"
        )));
    }
    Ok(ips)
}

fn object(b: &Body, key: &str) -> Result<Option<Map<String, Value>>, ApiError> {
    b.opt_object(key)
}

fn answer(d: &ProjectData, ctx: &Ctx, k: &AccessKey, cleartext: Option<String>) -> Value {
    let key = ctx.out(k.to_json(d));
    match cleartext {
        Some(c) => json!({"key": key, "cleartext": c}),
        None => json!({"key": key}),
    }
}

pub fn create(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let name = b.req_str("name")?;
    let expire_time = b.opt_i64("expireTime")?.unwrap_or(0);
    if expire_time < 0 {
        return Err(ApiError::invalid("expireTime cannot be negative"));
    }
    let key = AccessKey {
        id: String::new(),
        name,
        role_names: role_names(d, ctx, b)?.unwrap_or_default(),
        key_tenants: key_tenants(d, ctx, b)?.unwrap_or_default(),
        status: "active".into(),
        created_time: ctx.now,
        expire_time,
        created_by: String::new(),
        client_id: String::new(),
        bound_user_id: b.opt_str("userId")?.unwrap_or_default(),
        custom_claims: object(b, "customClaims")?.unwrap_or_default(),
        description: b.opt_str("description")?.unwrap_or_default(),
        permitted_ips: permitted_ips(b)?.unwrap_or_default(),
        custom_attributes: object(b, "customAttributes")?.unwrap_or_default(),
        cleartext_sha256: String::new(),
    };
    let (clear, hash) = new_cleartext(ctx);
    let key = AccessKey {
        id: ctx.new_id("K"),
        client_id: ctx.new_id("C"),
        cleartext_sha256: hash,
        ..key
    };
    d.access_keys.push(key.clone());
    Ok(answer(d, ctx, &key, Some(clear)))
}

pub fn load(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let k = d.access_key(&id).ok_or_else(|| missing_key(&id))?;
    Ok(answer(d, ctx, k, None))
}

/// Every filter sent narrows the result; none sent lists every key.
pub fn search(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let tenants = b.str_list("tenantIds")?;
    let user = b.opt_str("boundUserId")?;
    let creator = b.opt_str("creatingUser")?;
    let attrs = b.opt_object("customAttributes")?.unwrap_or_default();
    let keys: Vec<Value> = d
        .access_keys
        .iter()
        .filter(|k| {
            (tenants.is_empty() || k.key_tenants.iter().any(|t| tenants.contains(&t.tenant_id)))
                && user.as_ref().is_none_or(|u| &k.bound_user_id == u)
                && creator.as_ref().is_none_or(|c| &k.created_by == c)
                && attrs
                    .iter()
                    .all(|(a, v)| k.custom_attributes.get(a) == Some(v))
        })
        .map(|k| ctx.out(k.to_json(d)))
        .collect();
    Ok(json!({"keys": keys}))
}

/// Partial: a field left out (or `null`) keeps its value (PY `update`: "If not provided, it
/// will not be overriden"); a field sent replaces it, `""` and `[]` included, since GO sends
/// exactly the fields its caller set (docs/emulator.md).
pub fn update(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let id = b.req_str("id")?;
    let name = b.req_str("name")?;
    if d.access_key(&id).is_none() {
        return Err(missing_key(&id));
    }
    let roles = role_names(d, ctx, b)?;
    let tenants = key_tenants(d, ctx, b)?;
    let ips = permitted_ips(b)?;
    let claims = object(b, "customClaims")?;
    let attrs = object(b, "customAttributes")?;
    let description = match b.0.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::wrong_type("description", "a string")),
    };
    let k = d
        .access_keys
        .iter_mut()
        .find(|k| k.id == id)
        .ok_or_else(|| missing_key(&id))?;
    k.name = name;
    if let Some(v) = description {
        k.description = v;
    }
    if let Some(v) = roles {
        k.role_names = v;
    }
    if let Some(v) = tenants {
        k.key_tenants = v;
    }
    if let Some(v) = ips {
        k.permitted_ips = v;
    }
    if let Some(v) = claims {
        k.custom_claims = v;
    }
    if let Some(v) = attrs {
        k.custom_attributes = v;
    }
    let k = k.clone();
    Ok(answer(d, ctx, &k, None))
}

/// The ids of a single call (`{id}`) or a batch (`{ids}`); every one must exist.
fn ids(d: &ProjectData, b: &Body, batch: bool) -> Result<Vec<String>, ApiError> {
    let ids = match batch {
        true => {
            let ids = b.str_list("ids")?;
            if ids.is_empty() {
                return Err(ApiError::missing("ids"));
            }
            ids
        }
        false => vec![b.req_str("id")?],
    };
    match ids.iter().find(|id| d.access_key(id).is_none()) {
        Some(id) => Err(missing_key(id)),
        None => Ok(ids),
    }
}

fn set_status(
    d: &mut ProjectData,
    inp: &Input,
    batch: bool,
    status: &str,
) -> Result<Value, ApiError> {
    let ids = ids(d, &inp.body, batch)?;
    for k in d.access_keys.iter_mut().filter(|k| ids.contains(&k.id)) {
        k.status = status.into();
    }
    Ok(json!({}))
}

fn remove(d: &mut ProjectData, inp: &Input, batch: bool) -> Result<Value, ApiError> {
    let ids = ids(d, &inp.body, batch)?;
    d.access_keys.retain(|k| !ids.contains(&k.id));
    Ok(json!({}))
}

pub fn activate(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    set_status(d, inp, false, "active")
}

pub fn activate_batch(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    set_status(d, inp, true, "active")
}

pub fn deactivate(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    set_status(d, inp, false, "inactive")
}

pub fn deactivate_batch(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    set_status(d, inp, true, "inactive")
}

pub fn delete(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    remove(d, inp, false)
}

pub fn delete_batch(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    remove(d, inp, true)
}

/// A new cleartext; the old one's hash is gone, so it "stops working as soon as this call
/// returns" (PY `rotate`).
pub fn rotate(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    if d.access_key(&id).is_none() {
        return Err(missing_key(&id));
    }
    let (clear, hash) = new_cleartext(ctx);
    let k = d
        .access_keys
        .iter_mut()
        .find(|k| k.id == id)
        .ok_or_else(|| missing_key(&id))?;
    k.cleartext_sha256 = hash;
    let k = k.clone();
    Ok(answer(d, ctx, &k, Some(clear)))
}
