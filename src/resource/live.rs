//! The live side of a plan: objects as Descope returned them (from the fewest list calls),
//! normalized into the same resource model as the config.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use serde_json::Value;

use super::desired::SecretField;
use super::LiveResource;
use crate::model::Address;
use crate::secret::{Secret, SecretRef};

/// What was read from the project, as the API returned it: list reads by their list key
/// (`tenants`, `roles`, …) and single documents by a key their kind chooses (`flow/<id>`,
/// `theme`). A kind reading what another kind already read sends nothing.
#[derive(Debug, Clone, Default)]
pub struct LiveSnapshot {
    /// Shared, not copied: two kinds reading one list (tenants and their default roles) hold
    /// the same objects. Kept as the text the server sent: each kind parses an object while it
    /// reads it, so a 10k-tenant list is never a parsed tree as a whole.
    lists: BTreeMap<String, Arc<Vec<Arc<str>>>>,
    documents: BTreeMap<String, Value>,
    shared: Option<Arc<SharedLists>>,
}

/// List reads shared by snapshots filled at the same time: the first reader of a list sends
/// the request, the others wait for its answer, so reading concurrently still reads each list
/// once.
#[derive(Debug, Default)]
pub struct SharedLists(Mutex<HashMap<String, Arc<ListCell>>>);

/// One list's answer, filled by whichever reader gets there first.
type ListCell = tokio::sync::OnceCell<Arc<Vec<Arc<str>>>>;

impl SharedLists {
    fn cell(&self, key: &str) -> Arc<ListCell> {
        let mut cells = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cells.entry(key.to_string()).or_default().clone()
    }
}

impl LiveSnapshot {
    /// An empty snapshot whose list reads are shared with every other one given `shared`.
    pub fn sharing(shared: Arc<SharedLists>) -> Self {
        LiveSnapshot {
            shared: Some(shared),
            ..LiveSnapshot::default()
        }
    }

    /// Adds what `other` read (a list or document both read is the same answer).
    pub fn merge(&mut self, other: LiveSnapshot) {
        for (k, v) in other.lists {
            self.lists.entry(k).or_insert(v);
        }
        for (k, v) in other.documents {
            self.documents.entry(k).or_insert(v);
        }
    }

    /// The objects of a list read (none when it was not read), each parsed as it is reached.
    pub fn list(&self, key: &str) -> impl Iterator<Item = Value> + '_ {
        self.list_with_text(key).map(|(_, v)| v)
    }

    /// `list`, each object with the text it was parsed from (which a `LiveResource` can keep
    /// instead of a copy: `LiveResource::with_text`).
    pub fn list_with_text(&self, key: &str) -> impl Iterator<Item = (Arc<str>, Value)> + '_ {
        self.lists
            .get(key)
            .map(|l| l.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|raw| (raw.clone(), crate::api::wire::list_object(raw)))
    }

    pub fn has_list(&self, key: &str) -> bool {
        self.lists.contains_key(key)
    }

    pub fn put_list(&mut self, key: &str, objects: Vec<Value>) {
        let raw = objects.iter().map(|o| Arc::from(o.to_string())).collect();
        self.lists.insert(key.to_string(), Arc::new(raw));
    }

    /// A list as `Gateway::read_list` returns it.
    pub fn put_raw_list(&mut self, key: &str, objects: Vec<Box<RawValue>>) {
        self.lists
            .insert(key.to_string(), Arc::new(shared_texts(objects)));
    }

    /// The snapshot with the list `key` set (tests and benchmarks build snapshots this way).
    pub fn with_list(mut self, key: &str, objects: Vec<Value>) -> Self {
        self.put_list(key, objects);
        self
    }

    pub fn document(&self, key: &str) -> Option<&Value> {
        self.documents.get(key)
    }

    pub fn put_document(&mut self, key: String, doc: Value) {
        self.documents.insert(key, doc);
    }

    /// The documents whose key starts with `prefix`, by the rest of their key (a per-tenant
    /// kind keeps `<kind>/<tenant>` documents).
    pub fn documents_under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.documents
            .range(prefix.to_string()..)
            .map_while(move |(k, v)| k.strip_prefix(prefix).map(|rest| (rest, v)))
    }

    /// Forget a document (a read-back found its object gone).
    pub fn remove_document(&mut self, key: &str) {
        self.documents.remove(key);
    }

    /// Read the list `key` of `request` once.
    pub async fn read_list(
        &mut self,
        gateway: &crate::api::gateway::Gateway,
        request: crate::api::ApiRequest,
        key: &str,
    ) -> Result<(), crate::api::ApiError> {
        self.read_list_as(gateway, request, key, key).await
    }

    /// Read the array `field` of `request`'s answer once, kept as the list `key`: for answers
    /// whose array key other calls use too (`apps`).
    pub async fn read_list_as(
        &mut self,
        gateway: &crate::api::gateway::Gateway,
        request: crate::api::ApiRequest,
        field: &str,
        key: &str,
    ) -> Result<(), crate::api::ApiError> {
        if self.has_list(key) {
            return Ok(());
        }
        let read = || async {
            let objects = gateway.read_list(request, field).await?;
            Ok::<_, crate::api::ApiError>(Arc::new(shared_texts(objects)))
        };
        let objects = match &self.shared {
            None => read().await?,
            Some(shared) => shared.cell(key).get_or_try_init(read).await?.clone(),
        };
        self.lists.insert(key.to_string(), objects);
        Ok(())
    }
}

/// Texts of list objects as the snapshot keeps them: shared with the resources built from them.
fn shared_texts(objects: Vec<Box<RawValue>>) -> Vec<Arc<str>> {
    objects.into_iter().map(|o| Arc::from(o.get())).collect()
}

#[derive(Debug, Clone, Default)]
pub struct LiveGraph {
    pub resources: BTreeMap<Address, LiveResource>,
    /// Objects the API returned that could not be read (no id, wrong type); reported, not fatal.
    pub warnings: Vec<String>,
}

impl LiveGraph {
    pub fn insert(&mut self, r: LiveResource) {
        self.resources.insert(r.address.clone(), r);
    }
}

/// The string at `v[k]`; missing or mistyped counts as empty (tolerant reading).
pub fn string_field(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The strings of the list at `v[k]`; missing or mistyped counts as empty (tolerant reading).
pub fn string_list(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Every kind reads its live resources out of the snapshot.
pub fn build(snapshot: &LiveSnapshot, secret_fields: &[SecretField], key: &Secret) -> LiveGraph {
    let mut g = LiveGraph::default();
    let cx = crate::kinds::LiveContext { secret_fields, key };
    for kind in crate::kinds::all() {
        kind.live(snapshot, &cx, &mut g);
    }
    g
}

/// The variable of a secret stand-in (`{"secret": VAR, "hmac": …}`).
pub fn stand_in_var(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    (o.len() == 2 && o.contains_key("hmac"))
        .then(|| o.get("secret").and_then(Value::as_str))
        .flatten()
}

/// Custom attributes of a tenant object or body that hold secret stand-ins: attribute → VAR.
pub fn secret_attributes(body: &Value) -> BTreeMap<String, String> {
    body.get("customAttributes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let var = v.get("secret").and_then(Value::as_str)?;
            v.get("hmac")?;
            Some((k.clone(), var.to_string()))
        })
        .collect()
}

/// Every secret stand-in inside a body, as (variable, hmac).
pub fn secret_refs(body: &Value, out: &mut Vec<SecretRef>) {
    match body {
        Value::Object(o) if o.len() == 2 && o.contains_key("secret") && o.contains_key("hmac") => {
            if let (Some(s), Some(h)) = (o["secret"].as_str(), o["hmac"].as_str()) {
                out.push(SecretRef {
                    secret: s.to_string(),
                    hmac: h.to_string(),
                });
            }
        }
        Value::Object(o) => o.values().for_each(|v| secret_refs(v, out)),
        Value::Array(a) => a.iter().for_each(|v| secret_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked() {
        let mut snap = LiveSnapshot::default();
        snap.put_list(
            "tenants",
            vec![json!({"id":"a","name":"A","customAttributes":{"token":"plain-secret"}})],
        );
        let key = Secret::new("k");
        let sf = [SecretField {
            address: Address::tenant("a"),
            attribute: "token".into(),
            var: "TOK".into(),
        }];
        let g = build(&snap, &sf, &key);
        let raw = &g.resources[&Address::tenant("a")].raw();
        assert!(!raw.to_string().contains("plain-secret"));
        assert_eq!(stand_in_var(&raw["customAttributes"]["token"]), Some("TOK"));
    }
}
