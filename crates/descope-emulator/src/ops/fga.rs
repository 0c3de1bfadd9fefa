//! The FGA schema (docs/descope-api.md §15): `POST /v1/mgmt/fga/schema` replaces the whole DSL,
//! `GET /v1/mgmt/fga/schema` answers `{dsl, schema: {conditions}, version}`. No call clears it.
//! Descope's validation of the DSL, the shape of `schema`/`version` and what a project that
//! never saved one answers are unverified; the choices are in docs/emulator.md.

use serde_json::{json, Value};

use super::{Ctx, Input};
use crate::data::ProjectData;
use crate::error::ApiError;

pub fn save(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let dsl = inp.body.req_str("dsl")?;
    if dsl.trim().is_empty() {
        return Err(ApiError::missing("dsl"));
    }
    d.fga_schema.dsl = dsl;
    d.fga_schema.version += 1;
    Ok(json!({}))
}

pub fn load(d: &mut ProjectData, _: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    let s = &d.fga_schema;
    // A project that never saved a schema answers an empty DSL and no version.
    let version = match s.version {
        0 => String::new(),
        n => n.to_string(),
    };
    Ok(json!({
        "dsl": s.dsl,
        "schema": {"conditions": []},
        "version": version,
    }))
}
