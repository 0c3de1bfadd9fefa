//! Project and tenant roles and their batches (docs/descope-api.md §6). A role is identified by
//! its name together with its `tenantId` ("" for project level).

use serde_json::{json, Map, Value};

use super::{Ctx, Input};
use crate::data::{ProjectData, Role};
use crate::error::ApiError;
use crate::fields::Body;

/// The scope a body names; a tenant that does not exist is a 404.
fn scope(d: &ProjectData, b: &Body) -> Result<String, ApiError> {
    let tenant_id = b.opt_str("tenantId")?.unwrap_or_default();
    if !tenant_id.is_empty() && d.tenant(&tenant_id).is_none() {
        return Err(ApiError::not_found(format!("Tenant {tenant_id} not found")));
    }
    Ok(tenant_id)
}

fn find(d: &ProjectData, b: &Body) -> Result<usize, ApiError> {
    let tenant_id = scope(d, b)?;
    let found = match (b.opt_str("id")?, b.opt_str("name")?) {
        (Some(id), _) => d
            .roles
            .iter()
            .position(|r| r.id == id && r.tenant_id == tenant_id)
            .ok_or(id),
        (None, Some(name)) => d
            .roles
            .iter()
            .position(|r| r.name == name && r.tenant_id == tenant_id)
            .ok_or(name),
        (None, None) => return Err(ApiError::missing("name")),
    };
    found.map_err(|what| ApiError::not_found(format!("Role {what} not found")))
}

fn check_permissions(d: &ProjectData, ctx: &Ctx, names: &[String]) -> Result<(), ApiError> {
    if !ctx.strict {
        return Ok(());
    }
    match names.iter().find(|n| d.permission(n).is_none()) {
        Some(unknown) => Err(ApiError::invalid(format!(
            "Permission {unknown} does not exist"
        ))),
        None => Ok(()),
    }
}

fn create_one(d: &mut ProjectData, ctx: &mut Ctx, b: &Body) -> Result<Value, ApiError> {
    let name = b.req_str("name")?;
    let tenant_id = scope(d, b)?;
    if d.role(&name, &tenant_id).is_some() {
        return Err(ApiError::invalid(format!("Role {name} already exists")));
    }
    let permission_names = b.str_list("permissionNames")?;
    check_permissions(d, ctx, &permission_names)?;
    let role = Role {
        id: ctx.new_id("ROL"),
        name,
        description: b.opt_str("description")?.unwrap_or_default(),
        permission_names,
        created_time: ctx.now,
        tenant_id,
        default: b.bool("default")?,
        private: b.bool("private")?,
    };
    let json = serde_json::to_value(&role).unwrap_or_default();
    d.roles.push(role);
    Ok(json)
}

/// Full override: description, permissions and flags not sent are cleared; the scope stays.
fn update_one(d: &mut ProjectData, ctx: &mut Ctx, b: &Body) -> Result<Value, ApiError> {
    let i = find(d, b)?;
    let new_name = b.req_str("newName")?;
    let (old_name, tenant_id) = (d.roles[i].name.clone(), d.roles[i].tenant_id.clone());
    if new_name != old_name && d.role(&new_name, &tenant_id).is_some() {
        return Err(ApiError::invalid(format!("Role {new_name} already exists")));
    }
    let permission_names = b.str_list("permissionNames")?;
    check_permissions(d, ctx, &permission_names)?;
    let description = b.opt_str("description")?.unwrap_or_default();
    let (default, private) = (b.bool("default")?, b.bool("private")?);
    let r = &mut d.roles[i];
    r.name = new_name.clone();
    r.description = description;
    r.permission_names = permission_names;
    r.default = default;
    r.private = private;
    let json = serde_json::to_value(&*r).unwrap_or_default();
    rename_in_default_roles(d, &tenant_id, &old_name, Some(&new_name));
    Ok(json)
}

/// Tenants' default-role lists follow a rename and lose a deleted role.
fn rename_in_default_roles(d: &mut ProjectData, tenant_id: &str, old: &str, new: Option<&str>) {
    let in_scope = |t: &&mut crate::data::Tenant| tenant_id.is_empty() || t.id == tenant_id;
    for t in d.tenants.iter_mut().filter(in_scope) {
        match new {
            Some(new) => {
                for n in t.default_roles.iter_mut().filter(|n| *n == old) {
                    *n = new.to_string();
                }
            }
            None => t.default_roles.retain(|n| n != old),
        }
    }
}

fn delete_at(d: &mut ProjectData, i: usize) {
    let r = d.roles.remove(i);
    rename_in_default_roles(d, &r.tenant_id, &r.name, None);
}

pub fn create(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let role = create_one(d, ctx, &inp.body)?;
    Ok(ctx.out(role))
}

/// Answers `{"roles": [role objects]}`, the shape the official SDKs read (docs/descope-api.md §6).
pub fn create_batch(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let items = inp.body.objects("roles")?;
    if items.is_empty() {
        return Err(ApiError::missing("roles"));
    }
    let mut roles = Vec::with_capacity(items.len());
    for b in &items {
        roles.push(create_one(d, ctx, b)?);
    }
    Ok(json!({"roles": ctx.out_all(roles)}))
}

pub fn update(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let role = update_one(d, ctx, &inp.body)?;
    Ok(ctx.out(role))
}

/// Answers `{"roles": [role objects]}`, like `create_batch`.
pub fn update_batch(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let items = inp.body.objects("roles")?;
    if items.is_empty() {
        return Err(ApiError::missing("roles"));
    }
    let mut roles = Vec::with_capacity(items.len());
    for b in &items {
        roles.push(update_one(d, ctx, b)?);
    }
    Ok(json!({"roles": ctx.out_all(roles)}))
}

pub fn delete(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let i = find(d, &inp.body)?;
    delete_at(d, i);
    Ok(json!({}))
}

/// With neither names nor ids this deletes every role in the scope (the project's roles, or the
/// tenant's): Descope's documented danger, modelled on purpose.
pub fn delete_batch(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let tenant_id = scope(d, b)?;
    let names = b.str_list("roleNames")?;
    let ids = b.str_list("roleIds")?;
    if names.is_empty() && ids.is_empty() {
        while let Some(i) = d.roles.iter().position(|r| r.tenant_id == tenant_id) {
            delete_at(d, i);
        }
        return Ok(json!({}));
    }
    let targets = names
        .into_iter()
        .map(|n| ("name", n))
        .chain(ids.into_iter().map(|id| ("id", id)));
    for (key, value) in targets {
        let mut one = Map::new();
        one.insert(key.to_string(), json!(value));
        one.insert("tenantId".to_string(), json!(tenant_id));
        let i = find(d, &Body(one))?;
        delete_at(d, i);
    }
    Ok(json!({}))
}

pub fn load_all(d: &mut ProjectData, ctx: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    Ok(json!({ "roles": ctx.out_all(d.roles_json()) }))
}

/// Without `tenantIds` every role is a candidate; with it, the tenants' roles plus the project's
/// when `includeProjectRoles` is set.
pub fn search(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let tenant_ids = b.str_list("tenantIds")?;
    let include_project = b.bool("includeProjectRoles")?;
    let names = b.str_list("roleNames")?;
    let like = b.opt_str("roleNameLike")?.map(|s| s.to_lowercase());
    let permissions = b.str_list("permissionNames")?;
    let ids = b.str_list("roleIds")?;
    let found: Vec<Value> = d
        .roles
        .iter()
        .filter(|r| {
            tenant_ids.is_empty()
                || tenant_ids.contains(&r.tenant_id)
                || (include_project && r.tenant_id.is_empty())
        })
        .filter(|r| names.is_empty() || names.contains(&r.name))
        .filter(|r| {
            like.as_ref()
                .is_none_or(|l| r.name.to_lowercase().contains(l))
        })
        .filter(|r| {
            permissions.is_empty() || r.permission_names.iter().any(|p| permissions.contains(p))
        })
        .filter(|r| ids.is_empty() || ids.contains(&r.id))
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    Ok(json!({ "roles": ctx.out_all(found) }))
}
