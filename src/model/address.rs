//! Resource addresses: `<kind>.<key>` (`tenant.acme`, `role.acme/viewer`), or just `<kind>` for
//! a kind with one object per project (`theme`). The kinds themselves are registered in
//! `kinds::all`; an address is only a kind name and a key, so adding a kind adds no variant here.
//! Addresses are the stable sort key of every output, so they order by their text.

use std::fmt;
use std::str::FromStr;

/// A registered resource kind, by its name (the address prefix, also what users type in
/// `--prune KIND`). Kinds compare by name, so ordering by kind is ordering by text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind(&'static str);

impl Kind {
    /// For a kind module's own constant; users' text goes through `FromStr`, which accepts only
    /// registered kinds.
    pub const fn named(name: &'static str) -> Kind {
        Kind(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Heading used when output is grouped by kind.
    pub fn plural(self) -> &'static str {
        crate::kinds::of(self).plural()
    }

    /// Is this a kind with exactly one object per project, addressed by its name alone?
    pub fn is_singleton(self) -> bool {
        crate::kinds::of(self).singleton()
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for Kind {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::kinds::all()
            .iter()
            .map(|k| k.kind())
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = crate::kinds::all().iter().map(|k| k.kind().0).collect();
                AddressError(format!(
                    "unknown resource kind `{s}` (expected one of: {})",
                    names.join(", ")
                ))
            })
    }
}

crate::util::text_serde::serde_as_text!(Kind, str::parse::<Kind>);

/// The address of one managed object: its kind and its key within the kind (empty for a
/// singleton). The key's inner syntax (`tenant/name` for tenant roles) belongs to the kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    // Field order matters: the derived order compares the kind's name, then the key, which is
    // the order of the text forms (kind names are `[a-z_]`, all after `.` in ASCII).
    kind: Kind,
    key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(pub String);

impl Address {
    /// An address of `kind`; the kind module checks the key's syntax when text is parsed.
    pub fn new(kind: Kind, key: impl Into<String>) -> Self {
        Address {
            kind,
            key: key.into(),
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The part after `<kind>.` (empty for a singleton).
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(self.kind.0)
        } else {
            write!(f, "{}.{}", self.kind.0, self.key)
        }
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind_text, key) = match s.split_once('.') {
            Some((k, rest)) => (k, Some(rest)),
            None => (s, None),
        };
        let Ok(kind) = kind_text.parse::<Kind>() else {
            let example = crate::kinds::all()
                .iter()
                .map(|k| k.example_address())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(match key {
                Some(_) => {
                    AddressError(format!("`{s}`: {}", kind_text.parse::<Kind>().unwrap_err()))
                }
                None => AddressError(format!(
                    "`{s}` is not a resource address (expected e.g. {example})"
                )),
            });
        };
        let module = crate::kinds::of(kind);
        match key {
            None if module.singleton() => Ok(Address::new(kind, "")),
            None => Err(AddressError(format!(
                "`{s}` is not a resource address (expected e.g. {})",
                module.example_address()
            ))),
            Some("") => Err(AddressError(format!(
                "`{s}` has an empty name after `{kind}.`"
            ))),
            Some(key) => {
                module
                    .check_key(key)
                    .map_err(|why| AddressError(format!("`{s}`: {why}")))?;
                Ok(Address::new(kind, key))
            }
        }
    }
}

crate::util::text_serde::serde_as_text!(Address, str::parse::<Address>);

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
        assert!("role.a/".parse::<Address>().is_err());
        assert!("tenant.".parse::<Address>().is_err());
        assert!("theme.x".parse::<Address>().is_err());
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
            "role.ab",
            "permission.x.y",
            "flow.z",
            "role.b",
        ];
        let addrs: Vec<Address> = texts.iter().map(|t| t.parse().unwrap()).collect();
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
