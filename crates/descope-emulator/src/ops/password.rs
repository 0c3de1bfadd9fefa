//! Password settings (docs/descope-api.md §14): `GET|POST /v1/mgmt/password/settings`, the
//! project's with an empty `tenantId`, else the tenant's. A tenant without settings of its own
//! answers with the project's; the first update gives it its own, starting from those.
//! Updates change only the keys sent (PY sends only what it was given).

use serde_json::Value;

use super::{Ctx, Input};
use crate::data::{PasswordSettings, ProjectData};
use crate::error::ApiError;
use crate::fields::Body;

fn missing_tenant(id: &str) -> ApiError {
    ApiError::not_found(format!("Tenant {id} not found"))
}

fn tenant_id(inp: &Input) -> Result<String, ApiError> {
    Ok(match inp.body.opt_str("tenantId")? {
        Some(t) => t,
        None => inp.query.get("tenantId").cloned().unwrap_or_default(),
    })
}

/// The settings in force for `tenant` ("" = the project).
fn effective(d: &ProjectData, tenant: &str) -> Result<PasswordSettings, ApiError> {
    if tenant.is_empty() {
        return Ok(d.password_settings.clone());
    }
    let t = d.tenant(tenant).ok_or_else(|| missing_tenant(tenant))?;
    Ok(t.password_settings
        .clone()
        .unwrap_or_else(|| d.password_settings.clone()))
}

pub fn load(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let s = effective(d, &tenant_id(inp)?)?;
    Ok(ctx.out(serde_json::to_value(s).unwrap_or_default()))
}

pub fn update(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let tenant = tenant_id(inp)?;
    let mut s = effective(d, &tenant)?;
    apply(&mut s, b)?;
    if s.min_length < 0 || s.expiration_weeks < 0 || s.reuse_amount < 0 || s.lock_attempts < 0 {
        return Err(ApiError::invalid(
            "minLength, expirationWeeks, reuseAmount and lockAttempts cannot be negative",
        ));
    }
    if tenant.is_empty() {
        d.password_settings = s;
    } else if let Some(t) = d.tenant_mut(&tenant) {
        t.password_settings = Some(s);
    }
    Ok(serde_json::json!({}))
}

fn apply(s: &mut PasswordSettings, b: &Body) -> Result<(), ApiError> {
    let bools: [(&str, &mut bool); 8] = [
        ("enabled", &mut s.enabled),
        ("lowercase", &mut s.lowercase),
        ("uppercase", &mut s.uppercase),
        ("number", &mut s.number),
        ("nonAlphanumeric", &mut s.non_alphanumeric),
        ("expiration", &mut s.expiration),
        ("reuse", &mut s.reuse),
        ("lock", &mut s.lock),
    ];
    for (key, field) in bools {
        if let Some(v) = b.opt_bool(key)? {
            *field = v;
        }
    }
    let ints: [(&str, &mut i64); 4] = [
        ("minLength", &mut s.min_length),
        ("expirationWeeks", &mut s.expiration_weeks),
        ("reuseAmount", &mut s.reuse_amount),
        ("lockAttempts", &mut s.lock_attempts),
    ];
    for (key, field) in ints {
        if let Some(v) = b.opt_i64(key)? {
            *field = v;
        }
    }
    Ok(())
}
