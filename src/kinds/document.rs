//! What flows and the theme share: a JSON document in the form the user's file has (v1 or v2),
//! normalized so that a file and a live export compare equal when only server-managed fields
//! differ (docs/flows-and-theme.md).

use serde_json::{json, Value};

use super::{Fields, Spec};
use crate::resource::DocForm;

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSpec {
    pub form: DocForm,
    /// Normalized: server-managed fields removed.
    pub document: Value,
}

impl DocumentSpec {
    /// A document as a file or an export has it: its form (by the kind's rule) and its content
    /// without server-managed fields.
    pub fn read(doc: &Value, form_of: fn(&Value) -> DocForm) -> DocumentSpec {
        DocumentSpec {
            form: form_of(doc),
            document: crate::resource::documents::normalize(doc),
        }
    }
}

impl Spec for DocumentSpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        m.insert("document", self.document.clone());
        m
    }
}

/// Imports keep what they are not sent, so live keys the file leaves out are not a difference.
pub fn compare_view(desired: &dyn Spec, live: &mut Fields) {
    if let (Some(d), Some(doc)) = (
        super::spec_of::<DocumentSpec>(desired),
        live.get_mut("document"),
    ) {
        *doc = crate::resource::documents::project_onto(doc, &d.document);
    }
}

pub fn flow_import_body(id: &str, doc: &DocumentSpec) -> Value {
    match doc.form {
        DocForm::V1 => {
            let flow = doc.document.get("flow").cloned().unwrap_or(json!({}));
            let screens = doc.document.get("screens").cloned().unwrap_or(json!([]));
            json!({"flowId": id, "flow": flow, "screens": screens})
        }
        DocForm::V2 => {
            let mut flow = doc
                .document
                .get("flow")
                .cloned()
                .unwrap_or_else(|| doc.document.clone());
            if let Some(o) = flow.as_object_mut() {
                o.insert("flowId".into(), json!(id));
            }
            json!({"flow": flow})
        }
    }
}

pub fn theme_import_body(doc: &DocumentSpec) -> Value {
    let theme = doc
        .document
        .get("theme")
        .cloned()
        .unwrap_or_else(|| doc.document.clone());
    json!({"theme": theme})
}
