//! Lists (docs/descope-api.md §18): IP, text and JSON lists with create, full-override update,
//! delete, load by id or name, load all, and the item calls (add, remove, check, clear).
//! Names are unique; an `ips` list holds addresses and CIDR ranges only (docs/emulator.md).

use std::net::IpAddr;

use serde_json::{json, Value};

use super::{Ctx, Input};
use crate::data::{NamedList, ProjectData};
use crate::error::ApiError;
use crate::fields::Body;

const TYPES: [&str; 3] = ["texts", "ips", "json"];

fn missing_list(what: &str) -> ApiError {
    ApiError::not_found(format!("List {what} not found"))
}

/// An address (`10.0.0.1`, `::1`) or a range (`10.0.0.0/8`) with a prefix the family allows.
pub fn valid_ip_or_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= max) && !p.starts_with('+'))
}

/// `data` as the list's type wants it: strings (valid IPs for `ips`), or an object for `json`.
fn read_data(b: &Body, list_type: &str, existing: Option<Value>) -> Result<Value, ApiError> {
    let Some(data) = b.0.get("data").filter(|v| !v.is_null()).cloned() else {
        return Ok(existing.unwrap_or_else(|| match list_type {
            "json" => json!({}),
            _ => json!([]),
        }));
    };
    match list_type {
        "json" if data.is_object() => Ok(data),
        "json" => Err(ApiError::wrong_type("data", "an object for a json list")),
        _ => {
            let items = b.str_list("data")?;
            if list_type == "ips" {
                if let Some(bad) = items.iter().find(|i| !valid_ip_or_cidr(i)) {
                    return Err(ApiError::invalid(format!(
                        "{bad} is not an IP address or CIDR range"
                    )));
                }
            }
            Ok(json!(items))
        }
    }
}

fn list_type(b: &Body) -> Result<String, ApiError> {
    let t = b.req_str("type")?;
    if !TYPES.contains(&t.as_str()) {
        return Err(ApiError::invalid(format!(
            "type {t} is not one of texts, ips, json"
        )));
    }
    Ok(t)
}

fn name_free(d: &ProjectData, name: &str, except: Option<&str>) -> Result<(), ApiError> {
    match d.lists.iter().find(|l| l.name == name) {
        Some(l) if Some(l.id.as_str()) != except => Err(ApiError::invalid(format!(
            "A list named {name} already exists"
        ))),
        _ => Ok(()),
    }
}

pub fn create(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let name = b.req_str("name")?;
    let list_type = list_type(b)?;
    name_free(d, &name, None)?;
    let list = NamedList {
        id: ctx.new_id("LST"),
        description: b.opt_str("description")?.unwrap_or_default(),
        data: read_data(b, &list_type, None)?,
        list_type,
        name,
    };
    d.lists.push(list.clone());
    Ok(json!({"list": ctx.out(list.to_json())}))
}

/// A full override: every field not sent is cleared ("All parameters are required and will
/// override", PY `lists.py`).
pub fn update(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let id = b.req_str("id")?;
    let name = b.req_str("name")?;
    let list_type = list_type(b)?;
    if d.list(&id).is_none() {
        return Err(missing_list(&id));
    }
    name_free(d, &name, Some(&id))?;
    let data = read_data(b, &list_type, None)?;
    let description = b.opt_str("description")?.unwrap_or_default();
    let list = d.list_mut(&id).ok_or_else(|| missing_list(&id))?;
    *list = NamedList {
        id,
        name,
        description,
        list_type,
        data,
    };
    Ok(json!({"list": ctx.out(list.to_json())}))
}

pub fn delete(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    let before = d.lists.len();
    d.lists.retain(|l| l.id != id);
    if d.lists.len() == before {
        return Err(missing_list(&id));
    }
    Ok(json!({}))
}

pub fn load(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.query_id()?;
    let list = d.list(&id).ok_or_else(|| missing_list(&id))?;
    Ok(json!({"list": ctx.out(list.to_json())}))
}

pub fn load_by_name(d: &mut ProjectData, ctx: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let name = match inp.query.get("name") {
        Some(n) if !n.is_empty() => n.clone(),
        _ => return Err(ApiError::missing("name")),
    };
    let list = d
        .lists
        .iter()
        .find(|l| l.name == name)
        .ok_or_else(|| missing_list(&name))?;
    Ok(json!({"list": ctx.out(list.to_json())}))
}

pub fn load_all(d: &mut ProjectData, ctx: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    let lists: Vec<Value> = d.lists.iter().map(NamedList::to_json).collect();
    Ok(json!({"lists": ctx.out_all(lists)}))
}

/// The list `id` names, which must be of `want` type for item calls.
fn items_of<'a>(
    d: &'a mut ProjectData,
    b: &Body,
    want: &str,
) -> Result<&'a mut Vec<Value>, ApiError> {
    let id = b.req_str("id")?;
    let list = d.list_mut(&id).ok_or_else(|| missing_list(&id))?;
    if list.list_type != want {
        return Err(ApiError::invalid(format!(
            "list {id} is a {} list, not {want}",
            list.list_type
        )));
    }
    if !list.data.is_array() {
        list.data = json!([]);
    }
    Ok(list.data.as_array_mut().expect("made an array above"))
}

fn add(d: &mut ProjectData, b: &Body, want: &str, key: &str) -> Result<Value, ApiError> {
    let new = b.str_list(key)?;
    if want == "ips" {
        if let Some(bad) = new.iter().find(|i| !valid_ip_or_cidr(i)) {
            return Err(ApiError::invalid(format!(
                "{bad} is not an IP address or CIDR range"
            )));
        }
    }
    let items = items_of(d, b, want)?;
    for n in new {
        if !items.iter().any(|i| i.as_str() == Some(n.as_str())) {
            items.push(Value::from(n));
        }
    }
    Ok(json!({}))
}

fn remove(d: &mut ProjectData, b: &Body, want: &str, key: &str) -> Result<Value, ApiError> {
    let gone = b.str_list(key)?;
    let items = items_of(d, b, want)?;
    items.retain(|i| !gone.iter().any(|g| i.as_str() == Some(g.as_str())));
    Ok(json!({}))
}

pub fn ip_add(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    add(d, &inp.body, "ips", "ips")
}

pub fn ip_remove(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    remove(d, &inp.body, "ips", "ips")
}

pub fn text_add(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    add(d, &inp.body, "texts", "texts")
}

pub fn text_remove(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    remove(d, &inp.body, "texts", "texts")
}

/// Exact membership (a range is a member as written; no address-in-range matching).
pub fn ip_check(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let ip = inp.body.req_str("ip")?;
    let items = items_of(d, &inp.body, "ips")?;
    Ok(json!({"exists": items.iter().any(|i| i.as_str() == Some(ip.as_str()))}))
}

/// `text`, or `texts` with `matchAll` (all present) or not (any present).
pub fn text_check(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let b = &inp.body;
    let wanted = match b.opt_str("text")? {
        Some(t) => vec![t],
        None => b.str_list("texts")?,
    };
    let all = b.opt_bool("matchAll")?.unwrap_or(false);
    let items = items_of(d, b, "texts")?;
    let has = |t: &String| items.iter().any(|i| i.as_str() == Some(t.as_str()));
    let exists = if all {
        wanted.iter().all(has)
    } else {
        wanted.iter().any(has)
    };
    Ok(json!({"exists": exists}))
}

pub fn clear(d: &mut ProjectData, _: &mut Ctx, inp: &Input) -> Result<Value, ApiError> {
    let id = inp.body.req_str("id")?;
    let list = d.list_mut(&id).ok_or_else(|| missing_list(&id))?;
    list.data = if list.list_type == "json" {
        json!({})
    } else {
        json!([])
    };
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::valid_ip_or_cidr;

    #[test]
    fn ips_and_ranges() {
        for ok in [
            "10.0.0.1",
            "10.0.0.0/8",
            "::1",
            "2001:db8::/32",
            "0.0.0.0/0",
        ] {
            assert!(valid_ip_or_cidr(ok), "{ok}");
        }
        for bad in [
            "10.0.0",
            "10.0.0.0/33",
            "::1/129",
            "example.com",
            "1.2.3.4/",
            "1.2.3.4/+8",
        ] {
            assert!(!valid_ip_or_cidr(bad), "{bad}");
        }
    }
}
