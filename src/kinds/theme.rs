//! The project's theme (`theme`): one document, imported in the file's own form. It cannot be
//! deleted: removing `theme:` from the config stops managing it (docs/design.md §2). Its
//! fingerprint is always taken over the v1 export, whatever the file's form, so plan, apply,
//! drift, import and restore agree.

use serde_json::Value;

use super::document::{compare_view, theme_import_body, DocumentSpec};
use super::{Fields, KindInfo, LiveContext, LiveRead, ReadFuture, ReadScope, ResourceKind, Spec};
use crate::api::endpoints;
use crate::api::gateway::Gateway;
use crate::api::ApiError;
use crate::config::exported::Exported;
use crate::config::ThemeConfig;
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::documents::{theme_form, without_server_fields};
use crate::resource::live::{LiveGraph, LiveSnapshot};
use crate::resource::{DesiredResource, DocForm, LiveResource};
use crate::secret::Secret;

pub struct ThemeKind;

pub const KIND: Kind = Kind::named("theme");

const INFO: KindInfo = KindInfo::new(KIND, "Theme", &["cssTemplate"]).singleton();

impl Address {
    pub fn theme() -> Self {
        Address::new(KIND, "")
    }
}

/// The export in the config file's form, and the v1 export the fingerprint is taken over.
const DOC: &str = "theme";
const DOC_V1: &str = "theme/v1";

fn form_in(scope: &ReadScope) -> Option<DocForm> {
    if scope.everything {
        return Some(DocForm::V1);
    }
    scope.addresses.iter().any(|a| a.kind() == KIND).then(|| {
        scope
            .forms
            .get(&Address::theme())
            .copied()
            .unwrap_or(DocForm::V1)
    })
}

impl ResourceKind for ThemeKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// A whole document does not belong in state.json; its fingerprint identifies it.
    fn recorded_attributes(&self, _: &LiveResource) -> Option<serde_json::Value> {
        None
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, errors: &mut Vec<String>) {
        let Some(theme) = &input.config.theme else {
            return;
        };
        match (input.read_document)(&theme.file) {
            // Descope imports a theme object; anything else could never be sent.
            Ok(doc) if !doc.get("theme").unwrap_or(&doc).is_object() => errors.push(format!(
                "theme: {}: the theme must be a JSON object ({{\"theme\": {{…}}}} or the theme itself)",
                theme.file
            )),
            Ok(doc) => out.insert(DesiredResource::new(
                Address::theme(),
                DocumentSpec::read(&doc, theme_form),
                vec![],
                theme.protect,
                false,
                theme.ignore_changes.clone(),
            )),
            Err(e) => errors.push(format!("theme: {e}")),
        }
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, scope: &'a ReadScope) -> ReadFuture<'a> {
        Box::pin(read_theme(io.gateway, form_in(scope), io.snapshot))
    }

    fn read_count(&self, scope: &ReadScope) -> usize {
        match form_in(scope) {
            None => 0,
            Some(DocForm::V1) => 1,
            Some(DocForm::V2) => 2,
        }
    }

    fn read_one<'a>(&'a self, io: LiveRead<'a>, _: &'a Address) -> ReadFuture<'a> {
        Box::pin(read_theme(io.gateway, Some(DocForm::V1), io.snapshot))
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        let Some(theme) = snapshot.document(DOC) else {
            return;
        };
        out.insert(LiveResource::new(
            Address::theme(),
            DocumentSpec::read(theme, theme_form),
            snapshot
                .document(DOC_V1)
                .cloned()
                .unwrap_or_else(|| theme.clone()),
            false,
        ));
    }

    fn compare_view(&self, desired: &dyn Spec, live: &mut Fields) {
        compare_view(desired, live)
    }

    fn deletable(&self) -> bool {
        false
    }

    fn document_form(&self, after: &Value) -> Option<DocForm> {
        // The import body wraps the document in `theme`; only the v2 form has `styles`.
        Some(
            if after.get("theme").and_then(|t| t.get("styles")).is_some() {
                DocForm::V2
            } else {
                DocForm::V1
            },
        )
    }

    fn backup_read(&self, _: &Address, form: DocForm) -> Option<crate::api::ApiRequest> {
        Some(match form {
            DocForm::V1 => endpoints::theme_export_v1(),
            DocForm::V2 => endpoints::theme_export_v2(),
        })
    }

    fn verifiable(&self) -> bool {
        false
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        theme_import_body(d.spec::<DocumentSpec>())
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        let theme = body.get("theme").cloned().unwrap_or(Value::Null);
        let req = if theme.get("styles").is_some() {
            endpoints::theme_import_v2(theme)
        } else {
            endpoints::theme_import_v1(theme)
        };
        Op::from_result(req).unchecked()
    }

    fn read_saved(&self, address: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        Some(LiveResource::new(
            address.clone(),
            DocumentSpec::read(object, theme_form),
            object.clone(),
            false,
        ))
    }

    fn export(&self, live: &[&LiveResource], snapshot: &LiveSnapshot, out: &mut Exported) {
        let (Some(r), Some(doc)) = (live.first(), snapshot.document(DOC)) else {
            return;
        };
        out.documents
            .insert("theme.json".to_string(), without_server_fields(doc));
        out.config.theme = Some(ThemeConfig {
            file: "theme.json".into(),
            ..Default::default()
        });
        out.addresses.push(r.address.clone());
    }
}

async fn read_theme(
    gateway: &Gateway,
    form: Option<DocForm>,
    snapshot: &mut LiveSnapshot,
) -> Result<(), ApiError> {
    let Some(form) = form else {
        return Ok(());
    };
    if snapshot.document(DOC).is_none() {
        let doc = match form {
            DocForm::V1 => {
                gateway
                    .read_document(endpoints::theme_export_v1(), "theme")
                    .await?
            }
            DocForm::V2 => {
                gateway
                    .read_document(endpoints::theme_export_v2(), "theme")
                    .await?
            }
        };
        snapshot.put_document(DOC.to_string(), doc);
    }
    if form == DocForm::V2 && snapshot.document(DOC_V1).is_none() {
        let v1 = gateway
            .read_document(endpoints::theme_export_v1(), "theme")
            .await?;
        snapshot.put_document(DOC_V1.to_string(), v1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{json, Value};

    use super::*;
    use crate::config::Config;
    use crate::secret::Secret;

    fn desired_from(doc: Value) -> (DesiredGraph, Vec<String>) {
        let cfg = Config {
            version: 1,
            theme: Some(ThemeConfig {
                file: "theme.json".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let read = move |_: &str| Ok(doc.clone());
        let key = Secret::new("k");
        let input = DesiredInput {
            config: &cfg,
            secrets: &BTreeMap::new(),
            key: &key,
            read_document: &read,
            read_text: &|_: &str| Err("no files in this test".to_string()),
        };
        let mut graph = DesiredGraph::default();
        let mut errors = Vec::new();
        ThemeKind.desired(&input, &mut graph, &mut errors);
        (graph, errors)
    }

    /// The import endpoints take a theme object: a file that is not one is refused when the
    /// config is read, naming the file, rather than planned into a change apply cannot send.
    #[test]
    fn a_theme_that_is_not_an_object_is_refused_naming_the_file() {
        for doc in [json!([1, 2]), json!({"theme": "dark"})] {
            let (graph, errors) = desired_from(doc);
            assert!(graph.resources.is_empty());
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains("theme.json"), "{errors:?}");
        }
        let (graph, errors) = desired_from(json!({"theme": {"cssTemplate": {"a": 1}}}));
        assert!(errors.is_empty(), "{errors:?}");
        let op = ThemeKind.create_op(
            &Address::theme(),
            &ThemeKind.create_body(&graph.resources[&Address::theme()]),
        );
        assert_eq!(op.steps.len(), 1);
    }
}
