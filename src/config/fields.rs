//! The fields `ignore_changes` may name, per resource kind: the fields this tool manages (the
//! planner skips exactly these when diffing and writing).

use crate::model::address::Kind;

pub fn ignorable_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Tenant => &[
            "name",
            "domains",
            "parent",
            "custom_attributes",
            "enforce_sso",
            "disabled",
            "default_roles",
        ],
        Kind::Role => &["description", "permissions"],
        Kind::Permission => &["description"],
        Kind::TenantDefaultRoles => &["default_roles"],
        // Top-level members of the exported document, in either form (v1 and v2).
        Kind::Flow => &[
            "name",
            "description",
            "disabled",
            "dsl",
            "screens",
            "metadata",
            "contents",
            "references",
        ],
        Kind::Theme => &["cssTemplate"],
    }
}
