//! Flows and the theme, v1 and v2 (docs/descope-api.md §7). Documents are opaque JSON: only the
//! fields that carry identity, metadata and version are read.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{Ctx, Input};
use crate::data::{Flow, ProjectData};
use crate::error::ApiError;

fn missing_flow(id: &str) -> ApiError {
    ApiError::not_found(format!("Flow {id} not found"))
}

pub fn list(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let ids = inp.body.str_list("ids")?;
    let flows: Vec<Value> = d
        .flows
        .iter()
        .filter(|f| ids.is_empty() || ids.contains(&f.id))
        .map(ProjectData::flow_summary_json)
        .collect();
    let total = flows.len();
    Ok(json!({ "flows": ctx.out_all(flows), "total": total }))
}

/// Unknown ids are ignored (docs/descope-api.md §10.6).
pub fn delete(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let ids = inp.body.str_list("ids")?;
    if ids.is_empty() {
        return Err(ApiError::missing("ids"));
    }
    d.flows.retain(|f| !ids.contains(&f.id));
    Ok(json!({}))
}

pub fn export_v1(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("flowId")?;
    d.flow_export_v1(&id).ok_or_else(|| missing_flow(&id))
}

pub fn export_v2(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("flowId")?;
    d.flow_export_v2(&id).ok_or_else(|| missing_flow(&id))
}

fn str_field(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_string)
}

fn objects(items: Vec<Value>, field: &str) -> Result<Vec<Map<String, Value>>, ApiError> {
    items
        .into_iter()
        .map(|v| match v {
            Value::Object(m) => Ok(m),
            _ => Err(ApiError::wrong_type(field, "a list of objects")),
        })
        .collect()
}

/// Writes a flow, creating it when new; every import is a new version with a new etag.
fn store(d: &mut ProjectData, ctx: &Ctx, mut flow: Flow) {
    let previous = d.flows.iter().position(|f| f.id == flow.id);
    flow.version = previous.map_or(1, |i| d.flows[i].version + 1);
    flow.modified_time = ctx.now;
    flow.etag = etag(&flow);
    match previous {
        Some(i) => d.flows[i] = flow,
        None => d.flows.push(flow),
    }
}

pub fn etag(f: &Flow) -> String {
    let mut h = Sha256::new();
    h.update(f.id.as_bytes());
    h.update(f.version.to_le_bytes());
    h.update(f.dsl.to_string().as_bytes());
    h.update(Value::Array(f.screens.clone()).to_string().as_bytes());
    hex::encode(&h.finalize()[..8])
}

pub fn import_v1(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let id = b.req_str("flowId")?;
    let meta = b
        .opt_object("flow")?
        .ok_or_else(|| ApiError::missing("flow"))?;
    let screens = objects(b.opt_array("screens")?.unwrap_or_default(), "screens")?;
    let existing = d.flow(&id).cloned().unwrap_or_default();
    let screens = screens
        .into_iter()
        .map(|mut s| {
            s.insert("flowId".into(), json!(id));
            Value::Object(s)
        })
        .collect();
    let flow = Flow {
        name: str_field(&meta, "name").unwrap_or_else(|| id.clone()),
        description: str_field(&meta, "description").unwrap_or_default(),
        disabled: meta
            .get("disabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        dsl: meta.get("dsl").cloned().unwrap_or_else(|| json!({})),
        screens,
        id: id.clone(),
        ..existing
    };
    store(d, ctx, flow);
    d.flow_export_v1(&id).ok_or_else(|| missing_flow(&id))
}

/// v2 screens `{screenId, interactions, contents}` are kept as v1 `{id, interactions,
/// htmlTemplate}` so either version can export them.
pub fn import_v2(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let doc = b
        .opt_object("flow")?
        .ok_or_else(|| ApiError::missing("flow"))?;
    let id = str_field(&doc, "flowId")
        .filter(|s| !s.is_empty())
        .or(b.opt_str("flowId")?)
        .ok_or_else(|| ApiError::missing("flowId"))?;
    let meta = match doc.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(ApiError::wrong_type("metadata", "an object")),
    };
    let screens = match doc.get("screens") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => objects(items.clone(), "screens")?,
        Some(_) => return Err(ApiError::wrong_type("screens", "a list of objects")),
    };
    let screens = screens
        .into_iter()
        .map(|s| {
            json!({
                "id": s.get("screenId").cloned().unwrap_or(Value::Null),
                "flowId": id,
                "inputs": [],
                "interactions": s.get("interactions").cloned().unwrap_or_else(|| json!([])),
                "htmlTemplate": s.get("contents").cloned().unwrap_or_else(|| json!({})),
            })
        })
        .collect();
    let existing = d.flow(&id).cloned().unwrap_or_default();
    let flow = Flow {
        name: str_field(&meta, "name").unwrap_or_else(|| id.clone()),
        description: str_field(&meta, "description").unwrap_or_default(),
        disabled: meta
            .get("disabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        components_version: str_field(&meta, "componentsVersion")
            .unwrap_or(existing.components_version.clone()),
        fingerprint: str_field(&meta, "fingerprint").unwrap_or(existing.fingerprint.clone()),
        dsl: doc.get("contents").cloned().unwrap_or_else(|| json!({})),
        references: doc.get("references").cloned().unwrap_or_else(|| json!({})),
        screens,
        id,
        ..existing
    };
    store(d, ctx, flow);
    Ok(json!({}))
}

pub fn theme_export_v1(d: &mut ProjectData, _: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    Ok(d.theme_export_v1())
}

pub fn theme_export_v2(d: &mut ProjectData, _: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    Ok(d.theme_export_v2())
}

/// Every import bumps `version` (RUBY's live test); fields not sent are kept.
pub fn theme_import_v1(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let theme = inp
        .body
        .opt_object("theme")?
        .ok_or_else(|| ApiError::missing("theme"))?;
    let t = &mut d.theme;
    if let Some(css) = theme.get("cssTemplate").filter(|v| !v.is_null()) {
        t.css_template = css.clone();
    }
    if let Some(v) = str_field(&theme, "componentsVersion") {
        t.components_version = v;
    }
    if let Some(code_mode) = theme.get("codeMode").and_then(Value::as_bool) {
        t.code_mode = code_mode;
    }
    t.version += 1;
    Ok(d.theme_export_v1())
}

pub fn theme_import_v2(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let theme = inp
        .body
        .opt_object("theme")?
        .ok_or_else(|| ApiError::missing("theme"))?;
    let t = &mut d.theme;
    if let Some(styles) = theme.get("styles").filter(|v| !v.is_null()) {
        t.css_template = styles.clone();
    }
    if let Some(v) = str_field(&theme, "componentsVersion") {
        t.components_version = v;
    }
    if let Some(r) = theme.get("references").filter(|v| !v.is_null()) {
        t.references = r.clone();
    }
    t.version += 1;
    Ok(json!({}))
}
