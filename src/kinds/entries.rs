//! Top-level sections that are a list of entries (`lists:`, `access_keys:`, `sso_apps:`, …):
//! the parts every such kind shares, so a kind module says only what its entries mean.
//!
//! Entries are decoded one by one, so one bad entry does not hide the problems of the next
//! and each problem has its own file:line:column.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::Spec;
use crate::config::checks::ConfigCheck;
use crate::config::exported::{escape_value, Exported};
use crate::config::{ConfigSection, DiagnosticKind, SectionValue, Sections};
use crate::model::Address;
use crate::resource::DesiredResource;

/// Each entry of `section` on its own, its pointer naming its index.
fn entries(sections: &Sections, section: &ConfigSection) -> Vec<SectionValue> {
    sections
        .of(section)
        .flat_map(|v| {
            let items = v.value.as_array().cloned().unwrap_or_default();
            items
                .into_iter()
                .enumerate()
                .map(move |(i, value)| SectionValue {
                    pointer: format!("{}/{i}", v.pointer),
                    value,
                    ..v.clone()
                })
        })
        .collect()
}

/// `validate`'s view: a section that is not a list is a problem, each `unique` field of
/// each entry is checked, and each entry that decodes comes back with its pointer (entries
/// that do not decode are already reported).
pub fn checked<T: DeserializeOwned>(
    cx: &mut ConfigCheck<'_>,
    section: &ConfigSection,
    unique: &[UniqueField<T>],
) -> Vec<(String, T)> {
    for v in cx.config.sections.of(section).cloned().collect::<Vec<_>>() {
        if !v.value.is_array() {
            cx.problem(
                &v.pointer,
                DiagnosticKind::InvalidType,
                format!("`{}` must be a list", section.key),
                None,
            );
        }
    }
    let decoded: Vec<(String, T)> = entries(&cx.config.sections, section)
        .into_iter()
        .filter_map(|v| Some((v.pointer.clone(), cx.decode::<T>(&v)?)))
        .collect();
    for u in unique {
        let mut seen = BTreeSet::new();
        for (at, entry) in &decoded {
            u.check(cx, &mut seen, at, (u.value)(entry));
        }
    }
    decoded
}

/// The plan's view: every entry that decodes, with its pointer (validation has reported the
/// others, and a plan never runs on a configuration that failed it).
pub fn decoded<T: DeserializeOwned>(
    sections: &Sections,
    section: &ConfigSection,
) -> Vec<(String, T)> {
    entries(sections, section)
        .into_iter()
        .filter_map(|v| Some((v.pointer, serde_json::from_value(v.value).ok()?)))
        .collect()
}

/// A field every entry must give, usable and unique among the entries (a name, an id), with
/// what each kind says when it is not.
pub struct UniqueField<T: 'static> {
    /// The field's value in an entry.
    pub value: fn(&T) -> &str,
    /// The field, under the entry's pointer; `id` duplicates are reported as such.
    pub field: &'static str,
    /// Whether a value can stand (an id is part of an address).
    pub usable: fn(&str) -> bool,
    /// Said when it cannot: `{}` stands for the value.
    pub unusable: &'static str,
    pub unusable_hint: Option<&'static str>,
    /// Said when the value is taken: `{}` stands for it.
    pub twice: &'static str,
    pub twice_hint: Option<&'static str>,
}

/// A name is usable when it is not blank.
pub fn not_blank(value: &str) -> bool {
    !value.trim().is_empty()
}

impl<T> UniqueField<T> {
    /// A `name` that must not be blank.
    pub const fn name(
        value: fn(&T) -> &str,
        blank: &'static str,
        twice: &'static str,
        twice_hint: Option<&'static str>,
    ) -> Self {
        UniqueField {
            value,
            field: "name",
            usable: not_blank,
            unusable: blank,
            unusable_hint: None,
            twice,
            twice_hint,
        }
    }

    /// Checks `value` of the entry at `at` against the ones `seen` so far.
    fn check(&self, cx: &mut ConfigCheck<'_>, seen: &mut BTreeSet<String>, at: &str, value: &str) {
        let pointer = format!("{at}/{}", self.field);
        let hint = |h: Option<&str>| h.map(str::to_string);
        if !(self.usable)(value) {
            cx.problem(
                &pointer,
                DiagnosticKind::InvalidName,
                self.unusable.replace("{}", value),
                hint(self.unusable_hint),
            );
        } else if !seen.insert(value.to_string()) {
            let kind = match self.field {
                "id" => DiagnosticKind::DuplicateId,
                _ => DiagnosticKind::DuplicateName,
            };
            cx.problem(
                &pointer,
                kind,
                self.twice.replace("{}", value),
                hint(self.twice_hint),
            );
        }
    }
}

/// A config entry as export writes it: serialized, with `$` escaped so no value of Descope's
/// reads as a reference.
pub fn exported_entry<T: Serialize>(entry: &T) -> Option<Value> {
    serde_json::to_value(entry).ok().map(|v| escape_value(&v))
}

/// The exported entries as the section, when there are any (an empty section would claim
/// the kind for the configuration).
pub fn export_section(out: &mut Exported, section: &ConfigSection, entries: Vec<Value>) {
    if !entries.is_empty() {
        out.config
            .sections
            .push(section, None, Value::Array(entries));
    }
}

/// An entry's desired resource: entries state what they need through `references` (none is
/// nested in another), and deleting one deletes nothing else.
pub fn desired(
    address: Address,
    spec: impl Spec,
    protect: bool,
    ignore_changes: &[String],
) -> DesiredResource {
    DesiredResource::new(
        address,
        spec,
        vec![],
        protect,
        false,
        ignore_changes.to_vec(),
    )
}

/// Declares a config struct (an entry, or a block of one) whose fields after `;` are optional:
/// absent in the config means unmanaged, and export leaves out what is absent. Each such field
/// carries the same serde attributes, and each entry ends with `protect` (its doc given) and
/// `ignore_changes`; this says both once for every kind.
macro_rules! config_struct {
    (
        $(#[$meta:meta])* pub struct $name:ident {
            $( $(#[$rmeta:meta])* pub $rfield:ident : $rty:ty, )*
            ;
            $( $(#[$ometa:meta])* pub $ofield:ident : $oty:ty, )*
        }
        $( protect = $protect:literal; )?
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Default,
            PartialEq,
            ::serde::Serialize,
            ::serde::Deserialize,
            ::schemars::JsonSchema,
        )]
        #[serde(deny_unknown_fields)] pub struct $name {
            $( $(#[$rmeta])* pub $rfield: $rty, )*
            $(
                $(#[$ometa])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $ofield: Option<$oty>,
            )*
            $(
                #[doc = $protect]
                #[serde(default, skip_serializing_if = "std::ops::Not::not")]
                pub protect: bool,
                /// Fields left to others: never diffed or written.
                #[serde(default, skip_serializing_if = "Vec::is_empty")]
                pub ignore_changes: Vec<String>,
            )?
        }
    };
}
pub(crate) use config_struct;
