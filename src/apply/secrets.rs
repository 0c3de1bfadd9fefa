//! Where apply may put a secret's value: only at a field the configuration declares as
//! `${secret:VAR}`, only for that variable, and only when the stand-in's HMAC is the one the
//! variable's value has now (docs/plan-format.md, Threat model).
//!
//! A plan file is data from a pull request or an artifact store. Without this rule, anyone who
//! could edit it (and reseal the digest) could place `{"secret": "DESCOPE_MANAGEMENT_KEY",
//! "hmac": "x"}` in a role description and have apply publish the management key, or any other
//! variable of the process environment, into the live project.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::model::Address;
use crate::plan::Change;
use crate::resource::desired::SecretField;
use crate::secret::{hmac_hex, Secret};

/// Looks up a declared variable's current value (`None`: not set).
pub type VarLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Why a stand-in was not resolved; names the address and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRefusal {
    pub address: Address,
    /// JSON pointer of the stand-in inside the request body.
    pub field: String,
    pub why: String,
}

impl std::fmt::Display for SecretRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let field = if self.field.is_empty() {
            "/"
        } else {
            &self.field
        };
        write!(f, "{} at {field}: {}", self.address, self.why)
    }
}

/// The declared secret fields of the configuration apply was given, and where their values come
/// from.
#[derive(Clone)]
pub struct SecretPolicy {
    /// (address, pointer inside the body its kind sends) → variable.
    declared: BTreeMap<(Address, String), String>,
    values: VarLookup,
    key: Secret,
}

impl SecretPolicy {
    pub fn new(fields: &[SecretField], values: VarLookup, key: Secret) -> SecretPolicy {
        let declared = fields
            .iter()
            .filter_map(|f| {
                let pointer =
                    crate::kinds::of(f.address.kind()).secret_body_pointer(&f.attribute)?;
                Some(((f.address.clone(), pointer), f.var.clone()))
            })
            .collect();
        SecretPolicy {
            declared,
            values,
            key,
        }
    }

    /// Every stand-in in every request body of `change` would resolve (apply's check before
    /// its first write).
    pub fn check(&self, change: &Change) -> Result<(), SecretRefusal> {
        for step in &change.op.steps {
            if let Some(body) = &step.body {
                self.unmask(&change.address, body)?;
            }
        }
        if let Some(batch) = &change.op.batch {
            self.unmask(&change.address, &batch.item)?;
            self.unmask(&change.address, &Value::Object(batch.shared.clone()))?;
        }
        Ok(())
    }

    /// `body` with each stand-in replaced by its variable's value, or the first refusal.
    pub fn unmask(&self, address: &Address, body: &Value) -> Result<Value, SecretRefusal> {
        let mut pointer = String::new();
        self.walk(address, body, &mut pointer)
    }

    fn walk(
        &self,
        address: &Address,
        v: &Value,
        pointer: &mut String,
    ) -> Result<Value, SecretRefusal> {
        match v {
            Value::Object(o) if is_stand_in(o) => {
                self.resolve(address, pointer, o).map(Value::from)
            }
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, child) in o {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&escape(k));
                    let r = self.walk(address, child, pointer);
                    pointer.truncate(len);
                    out.insert(k.clone(), r?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for (i, child) in a.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    let r = self.walk(address, child, pointer);
                    pointer.truncate(len);
                    out.push(r?);
                }
                Ok(Value::Array(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn resolve(
        &self,
        address: &Address,
        pointer: &str,
        o: &Map<String, Value>,
    ) -> Result<String, SecretRefusal> {
        let refuse = |why: String| SecretRefusal {
            address: address.clone(),
            field: pointer.to_string(),
            why,
        };
        let (Some(var), Some(hmac)) = (o["secret"].as_str(), o["hmac"].as_str()) else {
            return Err(refuse(
                "a secret stand-in whose `secret` or `hmac` is not a string".into(),
            ));
        };
        match self.declared.get(&(address.clone(), pointer.to_string())) {
            Some(declared) if declared == var => {}
            Some(declared) => {
                return Err(refuse(format!(
                    "the plan asks for secret {var}, but the configuration declares ${{secret:{declared}}} here; plan again"
                )))
            }
            None => {
                return Err(refuse(format!(
                    "the plan asks for secret {var}, but the configuration declares no ${{secret:…}} at this field; \
                     a secret is only sent where the configuration puts it"
                )))
            }
        }
        let Some(value) = (self.values)(var) else {
            return Err(refuse(format!(
                "secret variable {var} is not set; set it as when planning, or plan again"
            )));
        };
        // Compared in constant time would be nicer, but both sides are HMACs an attacker can
        // compute only with the key; a timing leak of one tells nothing about the value.
        if hmac_hex(&self.key, &value) != hmac {
            return Err(refuse(format!(
                "secret {var} changed or key rotated since planning (its HMAC differs); plan again"
            )));
        }
        if value == self.key.expose() {
            return Err(refuse(format!(
                "secret {var} holds the management key, which is never sent as a field value"
            )));
        }
        Ok(value)
    }
}

fn is_stand_in(o: &Map<String, Value>) -> bool {
    o.len() == 2 && o.contains_key("secret") && o.contains_key("hmac")
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretRef;
    use serde_json::json;

    fn policy(vars: &[(&str, &str)]) -> SecretPolicy {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SecretPolicy::new(
            &[SecretField {
                address: Address::tenant("acme"),
                attribute: "token".into(),
                var: "TOKEN".into(),
            }],
            Arc::new(move |v: &str| vars.get(v).cloned()),
            Secret::new("the-management-key"),
        )
    }

    fn stand_in(var: &str, value: &str) -> Value {
        SecretRef::new(var, value, &Secret::new("the-management-key")).to_json()
    }

    #[test]
    fn a_declared_stand_in_with_its_hmac_resolves() {
        let p = policy(&[("TOKEN", "s3cret")]);
        let body =
            json!({"id": "acme", "customAttributes": {"token": stand_in("TOKEN", "s3cret")}});
        let out = p.unmask(&Address::tenant("acme"), &body).unwrap();
        assert_eq!(out["customAttributes"]["token"], "s3cret");
    }

    #[test]
    fn stand_ins_anywhere_else_are_refused_naming_address_and_field() {
        let key = "the-management-key";
        let p = policy(&[
            ("TOKEN", "s3cret"),
            ("DESCOPE_MANAGEMENT_KEY", key),
            ("PATH", "/usr/bin"),
        ]);
        let acme = Address::tenant("acme");
        let cases = [
            // The management key as a role description, the environment's PATH as a name.
            (
                Address::role(None, "admin"),
                json!({"description": {"secret": "DESCOPE_MANAGEMENT_KEY", "hmac": "x"}}),
                "/description",
            ),
            (
                acme.clone(),
                json!({"name": {"secret": "PATH", "hmac": "x"}}),
                "/name",
            ),
            // The declared field, another variable.
            (
                acme.clone(),
                json!({"customAttributes": {"token": stand_in("PATH", "/usr/bin")}}),
                "/customAttributes/token",
            ),
            // The declared field and variable of another tenant.
            (
                Address::tenant("other"),
                json!({"customAttributes": {"token": stand_in("TOKEN", "s3cret")}}),
                "/customAttributes/token",
            ),
            // The declared field and variable, a wrong HMAC.
            (
                acme.clone(),
                json!({"customAttributes": {"token": {"secret": "TOKEN", "hmac": "x"}}}),
                "/customAttributes/token",
            ),
            // Inside an array, and a stand-in that is not made of strings.
            (
                acme.clone(),
                json!({"selfProvisioningDomains": [{"secret": "TOKEN", "hmac": 1}]}),
                "/selfProvisioningDomains/0",
            ),
        ];
        for (address, body, field) in cases {
            let e = p.unmask(&address, &body).unwrap_err();
            assert_eq!(e.address, address);
            assert_eq!(e.field, field, "{e}");
            let text = e.to_string();
            assert!(!text.contains(key) && !text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn the_management_key_is_never_a_field_value() {
        let p = SecretPolicy::new(
            &[SecretField {
                address: Address::tenant("acme"),
                attribute: "token".into(),
                var: "KEY".into(),
            }],
            Arc::new(|_: &str| Some("the-management-key".to_string())),
            Secret::new("the-management-key"),
        );
        let body = json!({"customAttributes": {"token": stand_in("KEY", "the-management-key")}});
        let e = p.unmask(&Address::tenant("acme"), &body).unwrap_err();
        assert!(e.why.contains("management key"), "{e}");
    }
}
