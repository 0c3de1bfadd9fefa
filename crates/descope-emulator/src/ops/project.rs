//! The project itself (docs/descope-api.md §16): its name and tags, and the only read Descope
//! has for them, `projects/list`, which here lists the one project the emulator serves.

use serde_json::{json, Value};

use super::{Ctx, Input};
use crate::data::ProjectData;
use crate::error::ApiError;

/// An empty name is 400 E011002 [unverified] (docs/emulator.md).
pub fn update_name(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    d.project.name = inp.body.req_str("name")?;
    Ok(json!({}))
}

/// The list replaces the old one. An empty tag is refused in strict mode only: plausible, but
/// no source confirms it (docs/emulator.md).
pub fn update_tags(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let tags = inp.body.str_list("tags")?;
    if ctx.strict && tags.iter().any(|t| t.trim().is_empty()) {
        return Err(ApiError::invalid("A tag must not be empty"));
    }
    d.project.tags = tags;
    Ok(json!({}))
}

/// `{"projects": [{id, name, environment, tags}]}` (GO `types.go` `Project`).
pub fn list(d: &mut ProjectData, _: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    let p = &d.project;
    Ok(json!({"projects": [{
        "id": p.id,
        "name": p.name,
        "environment": p.environment,
        "tags": p.tags,
    }]}))
}
