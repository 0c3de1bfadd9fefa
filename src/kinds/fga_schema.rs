//! The project's FGA schema (`fga_schema`): the authorization model's DSL, read from the file
//! a top-level `fga_schema: {file: authz.fga}` names (docs/descope-api.md §15). A save replaces
//! the whole schema and no call clears it, so the schema cannot be deleted: removing the section
//! stops managing it, and a plan never deletes it.
//!
//! The DSL is compared after normalizing line endings and trailing whitespace only (`\r\n` is
//! `\n`, spaces at the end of a line and blank lines at the end of the file do not count):
//! editors and Descope may disagree on those, and they mean nothing in the DSL. Everything else,
//! indentation and comments included, is compared as written. The file is sent as written.
//!
//! Descope answers one load call and has no list, so the schema is read only when the config,
//! state.json, `--prune` or `export` names the kind. A project that never saved a schema loads
//! with an empty DSL (docs/emulator.md): that is no schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Fields, KindInfo, LiveContext, LiveRead, ReadFuture, ReadScope, ResourceKind, Spec};
use crate::api::endpoints;
use crate::api::gateway::Gateway;
use crate::api::ApiError;
use crate::config::checks::ConfigCheck;
use crate::config::exported::Exported;
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, LiveGraph, LiveSnapshot};
use crate::resource::{DesiredResource, LiveResource};
use crate::secret::Secret;
use crate::util::input::{self, InputFile};

pub struct FgaSchemaKind;

pub const KIND: Kind = Kind::named("fga_schema");

const INFO: KindInfo = KindInfo::new(KIND, "FGA schema", &["dsl"]).singleton();

const SECTION: ConfigSection = ConfigSection {
    within: None,
    key: "fga_schema",
    schema: || serde_json::to_value(schemars::schema_for!(FgaSchemaConfig)).unwrap_or_default(),
};

/// Where the schema sits in the snapshot.
const DOC: &str = "fga_schema";

/// The file `export` writes the DSL to, next to the exported config.
const EXPORT_FILE: &str = "authz.fga";

/// The `fga_schema:` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FgaSchemaConfig {
    /// The DSL file, relative to the configuration file and inside its directory.
    pub file: String,
    /// Accepted like on every kind; the schema is never deleted anyway.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FgaSchemaSpec {
    /// As written (what a save sends).
    pub dsl: String,
}

impl Spec for FgaSchemaSpec {
    fn fields(&self) -> Fields {
        Fields::from([("dsl", Value::from(normalize(&self.dsl)))])
    }
}

impl Address {
    pub fn fga_schema() -> Self {
        Address::new(KIND, "")
    }
}

/// Line endings and trailing whitespace normalized (module doc); one final newline.
pub fn normalize(dsl: &str) -> String {
    let lines: Vec<&str> = dsl
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
        .collect();
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    let mut out = lines[..end].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The DSL file's text, or why it cannot be used.
fn read_dsl(base_dir: &std::path::Path, rel: &str) -> Result<String, String> {
    let bytes = input::inside(base_dir, rel, InputFile::Text)
        .and_then(|p| input::read(&p, InputFile::Text))
        .map_err(|e| format!("FGA schema file {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("FGA schema file `{rel}` is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(format!(
            "FGA schema file `{rel}` is empty: Descope refuses an empty schema"
        ));
    }
    Ok(text)
}

fn config(input: &crate::config::Config) -> Option<FgaSchemaConfig> {
    let v = input.sections.of(&SECTION).next()?;
    serde_json::from_value(v.value.clone()).ok()
}

impl ResourceKind for FgaSchemaKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// A whole document does not belong in state.json; its fingerprint identifies it.
    fn recorded_attributes(&self, _: &LiveResource) -> Option<Value> {
        None
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        for v in cx.config.sections.of(&SECTION).cloned().collect::<Vec<_>>() {
            let Some(c) = cx.decode::<FgaSchemaConfig>(&v) else {
                continue;
            };
            if let Err(message) = read_dsl(cx.base_dir, &c.file) {
                cx.problem(
                    &format!("{}/file", v.pointer),
                    DiagnosticKind::MissingFile,
                    message,
                    Some(
                        "paths are relative to the configuration file and stay inside its directory"
                            .into(),
                    ),
                );
            }
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, errors: &mut Vec<String>) {
        let Some(c) = config(input.config) else {
            return;
        };
        match read_dsl(&input.config.base_dir, &c.file) {
            Ok(dsl) => out.insert(DesiredResource::new(
                Address::fga_schema(),
                FgaSchemaSpec { dsl },
                vec![],
                c.protect,
                false,
                vec![],
            )),
            Err(e) => errors.push(format!("fga_schema: {e}")),
        }
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, scope: &'a ReadScope) -> ReadFuture<'a> {
        Box::pin(async move {
            match scope.names_kind(KIND) {
                true => read_schema(io.gateway, io.snapshot).await,
                false => Ok(()),
            }
        })
    }

    fn read_count(&self, scope: &ReadScope) -> usize {
        usize::from(scope.names_kind(KIND))
    }

    fn read_one<'a>(&'a self, io: LiveRead<'a>, _: &'a Address) -> ReadFuture<'a> {
        Box::pin(read_schema(io.gateway, io.snapshot))
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        if let Some(r) = snapshot
            .document(DOC)
            .and_then(|v| live_resource(Address::fga_schema(), v))
        {
            out.insert(r);
        }
    }

    fn deletable(&self) -> bool {
        false
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        json!({ "dsl": d.spec::<FgaSchemaSpec>().dsl })
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::fga_schema_save(body.clone()))
    }

    fn read_saved(&self, address: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        live_resource(address.clone(), object)
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let Some(r) = live.first() else {
            return;
        };
        // A string document is written as the text it holds (ops::export).
        out.documents.insert(
            EXPORT_FILE.to_string(),
            Value::from(r.spec::<FgaSchemaSpec>().dsl.clone()),
        );
        let c = FgaSchemaConfig {
            file: EXPORT_FILE.into(),
            protect: false,
        };
        out.config
            .sections
            .push(&SECTION, None, serde_json::to_value(c).unwrap_or_default());
        out.addresses.push(r.address.clone());
    }
}

/// A live schema; an empty DSL is no schema at all.
fn live_resource(address: Address, v: &Value) -> Option<LiveResource> {
    let dsl = string_field(v, "dsl");
    (!dsl.trim().is_empty())
        .then(|| LiveResource::new(address, FgaSchemaSpec { dsl }, v.clone(), false))
}

async fn read_schema(gateway: &Gateway, snapshot: &mut LiveSnapshot) -> Result<(), ApiError> {
    match gateway.read(endpoints::fga_schema_load()).await {
        Ok(v) => {
            snapshot.put_document(DOC.to_string(), v);
            Ok(())
        }
        // Whether Descope answers 404 for a project without a schema is unverified: either way
        // there is none.
        Err(e) if e.is_not_found() => {
            snapshot.remove_document(DOC);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_line_endings_and_trailing_whitespace_are_normalized() {
        let a = "model AuthZ 1.0\r\n\r\ntype user  \r\n  relation x: user\t\n\n\n";
        assert_eq!(
            normalize(a),
            "model AuthZ 1.0\n\ntype user\n  relation x: user\n"
        );
        assert_eq!(normalize(a), normalize(&normalize(a)));
        // Indentation is meaning, not whitespace to drop.
        assert_ne!(
            normalize("type a\n relation x: user"),
            normalize("type a\nrelation x: user")
        );
        assert_eq!(normalize(" \n\n"), "");
    }
}
