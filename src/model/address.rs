//! Resource addresses: `tenant.<id>`, `permission.<name>`, `role.<name>`, `role.<tenant>/<name>`,
//! `tenant_default_roles.<id>`, `flow.<id>`, `theme`. Addresses are the stable sort key of every
//! output, so they order by their text.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The closed set of resource kinds this tool manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Permission,
    Role,
    Tenant,
    TenantDefaultRoles,
    Flow,
    Theme,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Permission,
        Kind::Role,
        Kind::Tenant,
        Kind::TenantDefaultRoles,
        Kind::Flow,
        Kind::Theme,
    ];

    /// The address prefix, which is also the name users type in `--prune KIND`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Permission => "permission",
            Kind::Role => "role",
            Kind::Tenant => "tenant",
            Kind::TenantDefaultRoles => "tenant_default_roles",
            Kind::Flow => "flow",
            Kind::Theme => "theme",
        }
    }

    /// Heading used when output is grouped by kind.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Permission => "Permissions",
            Kind::Role => "Roles",
            Kind::Tenant => "Tenants",
            Kind::TenantDefaultRoles => "Tenant default roles",
            Kind::Flow => "Flows",
            Kind::Theme => "Theme",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| AddressError(format!(
                "unknown resource kind `{s}` (expected one of: permission, role, tenant, tenant_default_roles, flow, theme)"
            )))
    }
}

/// The address of one managed object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    Permission(String),
    /// A project role (`tenant: None`) or a tenant-scoped role.
    Role {
        tenant: Option<String>,
        name: String,
    },
    Tenant(String),
    TenantDefaultRoles(String),
    Flow(String),
    Theme,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(pub String);

impl Address {
    pub fn tenant(id: impl Into<String>) -> Self {
        Address::Tenant(id.into())
    }
    pub fn permission(name: impl Into<String>) -> Self {
        Address::Permission(name.into())
    }
    pub fn role(tenant: Option<&str>, name: impl Into<String>) -> Self {
        Address::Role {
            tenant: tenant.filter(|t| !t.is_empty()).map(str::to_string),
            name: name.into(),
        }
    }
    pub fn default_roles(tenant: impl Into<String>) -> Self {
        Address::TenantDefaultRoles(tenant.into())
    }
    pub fn flow(id: impl Into<String>) -> Self {
        Address::Flow(id.into())
    }

    pub fn kind(&self) -> Kind {
        match self {
            Address::Permission(_) => Kind::Permission,
            Address::Role { .. } => Kind::Role,
            Address::Tenant(_) => Kind::Tenant,
            Address::TenantDefaultRoles(_) => Kind::TenantDefaultRoles,
            Address::Flow(_) => Kind::Flow,
            Address::Theme => Kind::Theme,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Permission(n) => write!(f, "permission.{n}"),
            Address::Role { tenant: None, name } => write!(f, "role.{name}"),
            Address::Role {
                tenant: Some(t),
                name,
            } => write!(f, "role.{t}/{name}"),
            Address::Tenant(id) => write!(f, "tenant.{id}"),
            Address::TenantDefaultRoles(id) => write!(f, "tenant_default_roles.{id}"),
            Address::Flow(id) => write!(f, "flow.{id}"),
            Address::Theme => f.write_str("theme"),
        }
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "theme" {
            return Ok(Address::Theme);
        }
        let (kind, rest) = s.split_once('.').ok_or_else(|| {
            AddressError(format!(
                "`{s}` is not a resource address (expected e.g. tenant.acme, role.admin, role.acme/viewer, permission.billing.read, flow.sign-up-or-in, theme)"
            ))
        })?;
        if rest.is_empty() {
            return Err(AddressError(format!(
                "`{s}` has an empty name after `{kind}.`"
            )));
        }
        Ok(match kind.parse::<Kind>()? {
            Kind::Permission => Address::Permission(rest.to_string()),
            Kind::Role => match rest.split_once('/') {
                Some((t, n)) if !t.is_empty() && !n.is_empty() => Address::role(Some(t), n),
                Some(_) => {
                    return Err(AddressError(format!(
                        "`{s}`: a tenant role is role.<tenant-id>/<name>"
                    )))
                }
                None => Address::role(None, rest),
            },
            Kind::Tenant => Address::Tenant(rest.to_string()),
            Kind::TenantDefaultRoles => Address::TenantDefaultRoles(rest.to_string()),
            Kind::Flow => Address::Flow(rest.to_string()),
            Kind::Theme => return Err(AddressError("the theme's address is just `theme`".into())),
        })
    }
}

impl Address {
    /// The text after `<kind>.`, as pieces, so comparing needs no allocation.
    fn rest(&self) -> [&str; 3] {
        match self {
            Address::Permission(n)
            | Address::Tenant(n)
            | Address::TenantDefaultRoles(n)
            | Address::Flow(n) => [n, "", ""],
            Address::Role { tenant: None, name } => [name, "", ""],
            Address::Role {
                tenant: Some(t),
                name,
            } => [t, "/", name],
            Address::Theme => ["", "", ""],
        }
    }
}

impl Ord for Address {
    /// Same order as comparing the text forms: kind prefixes compare as text ("tenant." sorts
    /// before "tenant_default_roles." because '.' < '_'), then the rest byte by byte. Sorting
    /// thousands of addresses must not allocate a string per comparison.
    fn cmp(&self, other: &Self) -> Ordering {
        let prefix = |a: &Address| match a {
            Address::Theme => "theme",
            _ => a.kind().as_str(),
        };
        prefix(self).cmp(prefix(other)).then_with(|| {
            let a = self.rest();
            let b = other.rest();
            a.iter()
                .flat_map(|p| p.bytes())
                .cmp(b.iter().flat_map(|p| p.bytes()))
        })
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_text() {
        for text in [
            "tenant.acme-corp",
            "permission.billing.read",
            "role.admin",
            "role.acme-corp/viewer",
            "tenant_default_roles.acme-corp",
            "flow.sign-up-or-in",
            "theme",
        ] {
            let a: Address = text.parse().unwrap();
            assert_eq!(a.to_string(), text);
        }
    }

    #[test]
    fn bad_addresses_are_explained() {
        assert!("tenant".parse::<Address>().is_err());
        assert!("widget.x"
            .parse::<Address>()
            .unwrap_err()
            .0
            .contains("unknown resource kind"));
        assert!("role./x".parse::<Address>().is_err());
        assert!("tenant.".parse::<Address>().is_err());
    }

    #[test]
    fn order_matches_text_order() {
        let texts = [
            "theme",
            "tenant.a",
            "tenant.a-b",
            "tenant_default_roles.a",
            "role.a",
            "role.a/b",
            "role.a-",
            "role.a/",
            "role.ab",
            "permission.x.y",
            "flow.z",
            "tenant.",
            "role.b",
        ];
        let addrs: Vec<Address> = texts.iter().filter_map(|t| t.parse().ok()).collect();
        for a in &addrs {
            for b in &addrs {
                assert_eq!(a.cmp(b), a.to_string().cmp(&b.to_string()), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn addresses_sort_by_text() {
        let mut v: Vec<Address> = ["tenant.b", "role.a", "permission.z", "flow.x"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let t: Vec<String> = v.iter().map(|a| a.to_string()).collect();
        assert_eq!(t, ["flow.x", "permission.z", "role.a", "tenant.b"]);
    }
}
