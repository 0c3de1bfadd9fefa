//! Reading request bodies the way Descope does: JSON `null` and `""` mean "not set", unknown
//! fields are ignored, and a wrong type is a 400 rather than a panic (docs/descope-api.md §3).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct Body(pub Map<String, Value>);

impl Body {
    /// PY sends no body at all for some POSTs (flow list), so empty means `{}`.
    pub fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body::default());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            Ok(Value::Null) => Ok(Body::default()),
            Ok(_) => Err(ApiError::bad_json("Request body must be a JSON object")),
            Err(e) => Err(ApiError::bad_json(format!("Malformed JSON body: {e}"))),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        match self.0.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::wrong_type(key, "a string")),
        }
    }

    pub fn req_str(&self, key: &str) -> Result<String, ApiError> {
        self.opt_str(key)?.ok_or_else(|| ApiError::missing(key))
    }

    pub fn opt_str_list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ApiError::wrong_type(key, "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::wrong_type(key, "a list of strings")),
        }
    }

    pub fn str_list(&self, key: &str) -> Result<Vec<String>, ApiError> {
        Ok(self.opt_str_list(key)?.unwrap_or_default())
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::wrong_type(key, "a boolean")),
        }
    }

    pub fn bool(&self, key: &str) -> Result<bool, ApiError> {
        Ok(self.opt_bool(key)?.unwrap_or(false))
    }

    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::wrong_type(key, "an integer")),
        }
    }

    pub fn opt_object(&self, key: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(ApiError::wrong_type(key, "an object")),
        }
    }

    pub fn objects(&self, key: &str) -> Result<Vec<Body>, ApiError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(m) => Ok(Body(m.clone())),
                    _ => Err(ApiError::wrong_type(key, "a list of objects")),
                })
                .collect(),
            Some(_) => Err(ApiError::wrong_type(key, "a list of objects")),
        }
    }

    pub fn opt_array(&self, key: &str) -> Result<Option<Vec<Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.clone())),
            Some(_) => Err(ApiError::wrong_type(key, "a list")),
        }
    }
}

/// The query string of a GET (`?id=acme`).
pub fn query_pairs(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Tenant ids in a query are usually plain, but SDKs encode what needs it.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_string_are_not_set() {
        let b = Body::parse(br#"{"id": null, "name": "", "x": "y"}"#).unwrap();
        assert_eq!(b.opt_str("id").unwrap(), None);
        assert_eq!(b.opt_str("name").unwrap(), None);
        assert_eq!(b.opt_str("x").unwrap().as_deref(), Some("y"));
        assert_eq!(b.req_str("name").unwrap_err().code, "E011002");
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        assert_eq!(Body::parse(b"{nope").unwrap_err().code, "E011001");
        assert_eq!(Body::parse(b"[1]").unwrap_err().code, "E011001");
        assert!(Body::parse(b"").unwrap().0.is_empty());
        let b = Body::parse(br#"{"name": 5, "l": [1]}"#).unwrap();
        assert_eq!(b.opt_str("name").unwrap_err().code, "E011004");
        assert_eq!(b.str_list("l").unwrap_err().code, "E011004");
    }

    #[test]
    fn query_decoding_tolerates_garbage() {
        let q = query_pairs(Some("id=a%20b&x=%zz&y=%4&&z&w=%C3%A9%"));
        assert_eq!(q["id"], "a b");
        assert_eq!(q["x"], "%zz");
        assert_eq!(q["y"], "%4");
        assert_eq!(q["z"], "");
        assert_eq!(q["w"], "é%");
    }
}
