//! Flows (`flow.<id>`): the flow document from a file, imported in the file's own form (v1 or
//! v2, docs/descope-api.md §7). Listed with `flow/list`; exported only for the flows the config
//! names (for the diff), all of them for `export`. Never pruned.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::document::{compare_view, flow_import_body, DocumentSpec};
use super::{Fields, KindInfo, LiveContext, LiveRead, ReadFuture, ReadScope, ResourceKind, Spec};
use crate::api::endpoints;
use crate::api::gateway::Gateway;
use crate::api::ApiError;
use crate::config::exported::{escape, Exported};
use crate::config::FlowConfig;
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::documents::{flow_form, without_server_fields};
use crate::resource::live::{string_field, LiveGraph, LiveSnapshot};
use crate::resource::{DesiredResource, DocForm, LiveResource};
use crate::secret::Secret;

pub struct FlowKind;

pub const KIND: Kind = Kind::named("flow");

// Top-level members of the exported document, in either form (v1 and v2).
const INFO: KindInfo = KindInfo::new(
    KIND,
    "Flows",
    &[
        "name",
        "description",
        "disabled",
        "dsl",
        "screens",
        "metadata",
        "contents",
        "references",
    ],
);

impl Address {
    pub fn flow(id: impl Into<String>) -> Self {
        Address::new(KIND, id)
    }
}

const LIST: &str = "flows";

fn doc_key(id: &str) -> String {
    format!("flow/{id}")
}

fn id_of(address: &Address) -> &str {
    address.key()
}

impl ResourceKind for FlowKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// A whole document does not belong in state.json; its fingerprint identifies it.
    fn recorded_attributes(&self, _: &LiveResource) -> Option<serde_json::Value> {
        None
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, errors: &mut Vec<String>) {
        for f in &input.config.flows {
            match (input.read_document)(&f.file) {
                Ok(doc) => out.insert(DesiredResource::new(
                    Address::flow(&f.id),
                    DocumentSpec::read(&doc, flow_form),
                    vec![],
                    f.protect,
                    false,
                    f.ignore_changes.clone(),
                )),
                Err(e) => errors.push(format!("flow.{}: {e}", f.id)),
            }
        }
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, scope: &'a ReadScope) -> ReadFuture<'a> {
        Box::pin(read_flows(io.gateway, scope, io.snapshot))
    }

    fn read_count(&self, scope: &ReadScope) -> usize {
        if !scope.names_kind(KIND) {
            return 0;
        }
        1 + scope.forms.keys().filter(|a| a.kind() == KIND).count()
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        for f in snapshot.list(LIST) {
            let f = &f;
            let id = string_field(f, "id");
            if id.is_empty() {
                continue;
            }
            let spec = match snapshot.document(&doc_key(&id)) {
                Some(doc) => DocumentSpec::read(doc, flow_form),
                // Not configured, so not exported: only its list entry is known.
                None => DocumentSpec {
                    form: DocForm::V1,
                    document: Value::Null,
                },
            };
            out.insert(LiveResource::new(
                Address::flow(&id),
                spec,
                f.clone(),
                false,
            ));
        }
    }

    fn compare_view(&self, desired: &dyn Spec, live: &mut Fields) {
        compare_view(desired, live)
    }

    fn prunable(&self) -> bool {
        false
    }

    fn document_form(&self, after: &Value) -> Option<DocForm> {
        Some(flow_form(after))
    }

    fn backup_read(&self, address: &Address, form: DocForm) -> Option<crate::api::ApiRequest> {
        Some(match form {
            DocForm::V1 => endpoints::flow_export_v1(id_of(address)),
            DocForm::V2 => endpoints::flow_export_v2(id_of(address)),
        })
    }

    fn verifiable(&self) -> bool {
        false
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        flow_import_body(id_of(&d.address), d.spec::<DocumentSpec>())
    }

    fn create_op(&self, address: &Address, body: &Value) -> Op {
        let id = id_of(address);
        // The plan keeps the file's form: v2 bodies are {"flow": {flowId, …}}.
        let req = if body.get("flow").and_then(|f| f.get("flowId")).is_some() {
            endpoints::flow_import_v2(id, body["flow"].clone())
        } else {
            endpoints::flow_import_v1(id, body.clone())
        };
        Op::from_result(req).unchecked()
    }

    fn delete_op(&self, address: &Address, _: &Value, _: bool) -> Op {
        Op::from_result(endpoints::flow_delete(&[id_of(address).to_string()])).unchecked()
    }

    /// A backup saves the flow's document.
    fn read_saved(&self, address: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        Some(LiveResource::new(
            address.clone(),
            DocumentSpec::read(object, flow_form),
            object.clone(),
            false,
        ))
    }

    fn export(&self, live: &[&LiveResource], snapshot: &LiveSnapshot, out: &mut Exported) {
        for r in live {
            let id = id_of(&r.address);
            let Some(doc) = snapshot.document(&doc_key(id)) else {
                continue;
            };
            let rel = format!("flows/{}.json", file_stem(id, &out.documents));
            out.documents
                .insert(rel.clone(), without_server_fields(doc));
            out.config.flows.push(FlowConfig {
                id: escape(id),
                file: rel,
                ..Default::default()
            });
            out.addresses.push(r.address.clone());
        }
    }
}

async fn read_flows(
    gateway: &Gateway,
    scope: &ReadScope,
    snapshot: &mut LiveSnapshot,
) -> Result<(), ApiError> {
    if !scope.names_kind(KIND) {
        return Ok(());
    }
    snapshot
        .read_list(gateway, endpoints::flow_list(), LIST)
        .await?;
    let listed: BTreeSet<String> = snapshot
        .list(LIST)
        .map(|f| string_field(&f, "id"))
        .filter(|id| !id.is_empty())
        .collect();
    let mut wanted: Vec<(String, DocForm)> = scope
        .forms
        .iter()
        .filter(|(a, _)| a.kind() == KIND)
        .map(|(a, f)| (id_of(a).to_string(), *f))
        .collect();
    if scope.everything {
        for id in &listed {
            if !wanted.iter().any(|(w, _)| w == id) {
                wanted.push((id.clone(), DocForm::V1));
            }
        }
        wanted.sort();
    }
    for (id, form) in wanted {
        if !listed.contains(&id) || snapshot.document(&doc_key(&id)).is_some() {
            continue;
        }
        let doc = match form {
            DocForm::V1 => {
                gateway
                    .read_document(endpoints::flow_export_v1(&id), "flow")
                    .await?
            }
            // GO returns the inner `flow` of a v2 export; keep the document as the file has it.
            DocForm::V2 => {
                gateway
                    .read_document(endpoints::flow_export_v2(&id), "flow")
                    .await?
            }
        };
        snapshot.put_document(doc_key(&id), doc);
    }
    Ok(())
}

/// A file name for a flow id: ids are Descope's, so anything that could leave `flows/` or hide
/// the file is replaced, and a clash gets a numeric suffix.
fn file_stem(id: &str, taken: &BTreeMap<String, Value>) -> String {
    let mut stem: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() || stem.starts_with('.') {
        stem = format!("flow-{stem}");
    }
    let mut candidate = stem.clone();
    let mut n = 2;
    while taken.contains_key(&format!("flows/{candidate}.json")) {
        candidate = format!("{stem}-{n}");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::file_stem;

    #[test]
    fn flow_file_names_stay_inside_flows() {
        let mut taken = BTreeMap::new();
        assert_eq!(file_stem("sign-in", &taken), "sign-in");
        assert_eq!(file_stem("../etc/passwd", &taken), "flow-.._etc_passwd");
        taken.insert("flows/a_b.json".to_string(), Value::Null);
        assert_eq!(file_stem("a/b", &taken), "a_b-2");
    }
}
