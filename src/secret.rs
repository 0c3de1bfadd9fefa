//! Secret values (`${secret:VAR}`, the management key) and their stand-in for anything written
//! to disk or shown: `{"secret": "VAR", "hmac": "<hex>"}`, HMAC-SHA256 keyed by the management
//! key, so a plan can tell that a secret changed without ever holding it.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// A secret string. `Debug` and `Display` never show it; only `expose` does.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The real value, for the one place that needs it (an HTTP header, a request body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a secret value appears in plans, backups, drift reports and output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    pub secret: String,
    pub hmac: String,
}

impl SecretRef {
    /// `var` is the variable's name; `key` is the management key the HMAC is keyed by.
    pub fn new(var: &str, value: &str, key: &Secret) -> Self {
        SecretRef {
            secret: var.to_string(),
            hmac: hmac_hex(key, value),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"secret": self.secret, "hmac": self.hmac})
    }
}

pub fn hmac_hex(key: &Secret, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("K2abcdef");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
    }

    #[test]
    fn hmac_is_deterministic_and_keyed() {
        let k1 = Secret::new("key-one");
        let k2 = Secret::new("key-two");
        let a = SecretRef::new("TOKEN", "v", &k1);
        assert_eq!(a, SecretRef::new("TOKEN", "v", &k1));
        assert_ne!(a.hmac, SecretRef::new("TOKEN", "v", &k2).hmac);
        assert_ne!(a.hmac, SecretRef::new("TOKEN", "w", &k1).hmac);
        assert!(!a.to_json().to_string().contains("\"v\""));
    }
}
