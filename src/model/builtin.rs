//! What Descope puts in every new project and this tool never touches (docs/design.md §2,
//! Protection). The live `systemDefault` flag is honoured too; these names cover responses that
//! omit it. The exact set is unverified (docs/descope-api.md §5), so the list errs on the side
//! of more.

/// Permissions a fresh project ships with (`systemDefault: true`).
pub const SYSTEM_PERMISSIONS: &[&str] = &["Impersonate", "SSO Admin", "User Admin"];

/// Roles a fresh project ships with.
pub const BUILTIN_ROLES: &[&str] = &["Tenant Admin"];

pub fn is_system_permission(name: &str) -> bool {
    SYSTEM_PERMISSIONS.contains(&name)
}

pub fn is_builtin_role(name: &str) -> bool {
    BUILTIN_ROLES.contains(&name)
}
