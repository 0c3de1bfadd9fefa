//! Field helpers the kinds share: checks of URL and IP values in a config entry, and the JSON
//! that compared forms and read-modify-write bodies are built from.

use serde::Serialize;
use serde_json::Value;

use super::Fields;
use crate::config::checks::ConfigCheck;
use crate::config::DiagnosticKind;
use crate::resource::sorted_set;
// The emulator crate holds Descope's rule for IPs and ranges; one check serves both sides.
use descope_emulator::valid_ip_or_cidr;

/// What a bad IP item is told, in the config and in an item file alike.
pub fn not_an_ip(item: &str) -> (String, Option<String>) {
    (
        format!("`{item}` is not an IP address or CIDR range"),
        Some("e.g. `10.0.0.1`, `10.0.0.0/8` or `2001:db8::/32`".into()),
    )
}

/// Each of `items` (under `pointer`, by index) must be an IP address or CIDR range.
pub fn check_ips<'a>(
    cx: &mut ConfigCheck<'_>,
    pointer: &str,
    items: impl IntoIterator<Item = &'a String>,
) {
    for (j, item) in items.into_iter().enumerate() {
        if !valid_ip_or_cidr(item) {
            let (message, hint) = not_an_ip(item);
            cx.problem(
                &format!("{pointer}/{j}"),
                DiagnosticKind::InvalidValue,
                message,
                hint,
            );
        }
    }
}

/// A non-empty `url` must parse as an absolute URL (the scheme is Descope's to judge).
pub fn check_absolute_url(cx: &mut ConfigCheck<'_>, pointer: &str, url: Option<&str>) {
    let Some(url) = url.filter(|u| !u.is_empty()) else {
        return;
    };
    if reqwest::Url::parse(url).is_err() {
        cx.problem(
            pointer,
            DiagnosticKind::InvalidValue,
            format!("`{url}` is not an absolute URL"),
            Some("e.g. `https://app.example.com/login`".into()),
        );
    }
}

/// The strings of a JSON array, sorted and deduplicated: the compared form of a set.
pub fn string_set(v: Option<&Value>) -> Value {
    let items = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string));
    Value::from(sorted_set(items))
}

/// `object[key]` as loaded, or `default` where the load leaves it out or null: what a full
/// override carries for a field the config does not manage.
pub fn loaded(object: &Value, key: &str, default: fn() -> Value) -> Value {
    object
        .get(key)
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or_else(default)
}

/// Puts `value` under `name` when the config states it (absent: not managed).
pub fn put<T: Serialize>(m: &mut Fields, name: &'static str, value: &Option<T>) {
    if let Some(v) = value.as_ref().and_then(|v| serde_json::to_value(v).ok()) {
        m.insert(name, v);
    }
}

/// Whether `role` may stand where a project role is named: a project role (not a tenant's)
/// the configuration declares, or a built-in one.
pub fn is_project_role(config: &crate::config::Config, role: &str) -> bool {
    crate::model::builtin::is_builtin_role(role)
        || config
            .roles
            .iter()
            .any(|r| r.tenant.is_none() && r.name == role)
}
