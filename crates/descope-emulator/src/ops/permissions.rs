//! Permissions and their batches (docs/descope-api.md §5).

use serde_json::{json, Value};

use super::{Ctx, Input};
use crate::data::{Permission, ProjectData};
use crate::error::ApiError;
use crate::fields::Body;

/// Index of the permission a body names by `id` or `name`.
fn find(d: &ProjectData, b: &Body) -> Result<usize, ApiError> {
    let (key, value) = match (b.opt_str("id")?, b.opt_str("name")?) {
        (Some(id), _) => ("id", id),
        (None, Some(name)) => ("name", name),
        (None, None) => return Err(ApiError::missing("name")),
    };
    d.permissions
        .iter()
        .position(|p| {
            if key == "id" {
                p.id == value
            } else {
                p.name == value
            }
        })
        .ok_or_else(|| ApiError::not_found(format!("Permission {value} not found")))
}

/// Strict protects the permissions Descope ships; the tool must never touch them.
fn check_not_system(ctx: &Ctx, p: &Permission) -> Result<(), ApiError> {
    if ctx.strict && p.system_default {
        return Err(ApiError::invalid(format!(
            "Permission {} is a system default and cannot be changed",
            p.name
        )));
    }
    Ok(())
}

fn create_one(d: &mut ProjectData, ctx: &mut Ctx, b: &Body) -> Result<(), ApiError> {
    let name = b.req_str("name")?;
    if d.permission(&name).is_some() {
        return Err(ApiError::invalid(format!(
            "Permission {name} already exists"
        )));
    }
    let id = ctx.new_id("PERM");
    d.permissions.push(Permission {
        id,
        name,
        description: b.opt_str("description")?.unwrap_or_default(),
        system_default: false,
    });
    Ok(())
}

/// Full override: an omitted description is cleared. A rename follows into every role.
fn update_one(d: &mut ProjectData, ctx: &mut Ctx, b: &Body) -> Result<(), ApiError> {
    let i = find(d, b)?;
    check_not_system(ctx, &d.permissions[i])?;
    let new_name = b.req_str("newName")?;
    let old_name = d.permissions[i].name.clone();
    if new_name != old_name && d.permission(&new_name).is_some() {
        return Err(ApiError::invalid(format!(
            "Permission {new_name} already exists"
        )));
    }
    let description = b.opt_str("description")?.unwrap_or_default();
    let p = &mut d.permissions[i];
    p.name = new_name.clone();
    p.description = description;
    for r in &mut d.roles {
        for n in r.permission_names.iter_mut().filter(|n| **n == old_name) {
            n.clone_from(&new_name);
        }
    }
    Ok(())
}

/// Allowed while roles reference it (JAVA's live test); the roles lose it.
fn delete_at(d: &mut ProjectData, ctx: &Ctx, i: usize) -> Result<(), ApiError> {
    check_not_system(ctx, &d.permissions[i])?;
    let p = d.permissions.remove(i);
    for r in &mut d.roles {
        r.permission_names.retain(|n| *n != p.name);
    }
    Ok(())
}

pub fn create(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    create_one(d, ctx, &inp.body)?;
    Ok(json!({}))
}

pub fn create_batch(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let items = inp.body.objects("permissions")?;
    if items.is_empty() {
        return Err(ApiError::missing("permissions"));
    }
    for b in &items {
        create_one(d, ctx, b)?;
    }
    Ok(json!({}))
}

pub fn update(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    update_one(d, ctx, &inp.body)?;
    Ok(json!({}))
}

pub fn update_batch(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let items = inp.body.objects("permissions")?;
    if items.is_empty() {
        return Err(ApiError::missing("permissions"));
    }
    for b in &items {
        update_one(d, ctx, b)?;
    }
    Ok(json!({}))
}

pub fn delete(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let i = find(d, &inp.body)?;
    delete_at(d, ctx, i)?;
    Ok(json!({}))
}

pub fn delete_batch(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let names = inp.body.str_list("names")?;
    let ids = inp.body.str_list("ids")?;
    if names.is_empty() && ids.is_empty() {
        return Err(ApiError::missing("names"));
    }
    let targets = names
        .into_iter()
        .map(|n| Body(serde_json::Map::from_iter([("name".to_string(), json!(n))])))
        .chain(
            ids.into_iter()
                .map(|id| Body(serde_json::Map::from_iter([("id".to_string(), json!(id))]))),
        );
    for b in targets {
        let i = find(d, &b)?;
        delete_at(d, ctx, i)?;
    }
    Ok(json!({}))
}

pub fn load_all(d: &mut ProjectData, ctx: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    Ok(json!({ "permissions": ctx.out_all(d.permissions_json()) }))
}
