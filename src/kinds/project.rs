//! The project itself (`project`): its name and tags, written as a top-level `project:` block
//! (docs/descope-api.md §16). Descope has no call that loads one project: the only read is
//! `projects/list`, whose entry with the configured project's id is this one. The project is
//! never deleted: removing the block stops managing it. Tags are compared as a set; the name
//! and the tags are two calls, and an update sends only the ones that differ.

use serde_json::{json, Value};

use super::entries::config_struct;
use super::{Fields, KindInfo, LiveContext, LiveRead, ReadFuture, ReadScope, ResourceKind, Spec};
use crate::api::endpoints;
use crate::api::ApiError;
use crate::config::checks::ConfigCheck;
use crate::config::exported::{escape, Exported};
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, string_list, LiveGraph, LiveSnapshot};
use crate::resource::{sorted_set, DesiredResource, LiveResource};
use crate::secret::Secret;

pub struct ProjectKind;

pub const KIND: Kind = Kind::named("project");

const INFO: KindInfo = KindInfo::new(KIND, "Project", &["name", "tags"]).singleton();

const SECTION: ConfigSection = ConfigSection {
    within: None,
    key: "project",
    schema: || serde_json::to_value(schemars::schema_for!(ProjectConfig)).unwrap_or_default(),
};

/// The snapshot document: the `projects/list` entry of the configured project.
const DOC: &str = "project";

config_struct! {
    /// The `project:` block.
    pub struct ProjectConfig {
        ;
        /// The project's display name; absent leaves it unmanaged.
        pub name: String,
        /// Free-text tags, compared as a set; `[]` removes every tag; absent leaves them unmanaged.
        pub tags: Vec<String>,
    }
    protect = " Accepted for symmetry with every kind; the project is never deleted.";
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSpec {
    pub name: Option<String>,
    /// Sorted and deduplicated.
    pub tags: Option<Vec<String>>,
}

impl Spec for ProjectSpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        super::fields::put(&mut m, "name", &self.name);
        super::fields::put(&mut m, "tags", &self.tags);
        m
    }
}

impl Address {
    pub fn project() -> Self {
        Address::new(KIND, "")
    }
}

fn named(scope: &ReadScope) -> bool {
    scope.names_kind(KIND)
}

fn live_resource(entry: &Value) -> LiveResource {
    LiveResource::new(
        Address::project(),
        ProjectSpec {
            name: Some(string_field(entry, "name")),
            tags: Some(sorted_set(string_list(entry, "tags"))),
        },
        entry.clone(),
        false,
    )
}

impl ResourceKind for ProjectKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        for v in cx.config.sections.of(&SECTION).cloned().collect::<Vec<_>>() {
            let Some(c) = cx.decode::<ProjectConfig>(&v) else {
                continue;
            };
            if c.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                cx.problem(
                    &format!("{}/name", v.pointer),
                    DiagnosticKind::InvalidName,
                    "the project's name must not be empty".into(),
                    Some("leave `name` out to keep the name the project has".into()),
                );
            }
            for (i, tag) in c.tags.iter().flatten().enumerate() {
                if tag.trim().is_empty() {
                    cx.problem(
                        &format!("{}/tags/{i}", v.pointer),
                        DiagnosticKind::InvalidValue,
                        "a project tag must not be empty".into(),
                        None,
                    );
                }
            }
            cx.ignore_changes(
                &v.pointer,
                &c.ignore_changes,
                INFO.managed_fields,
                "the project",
            );
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        for v in input.config.sections.of(&SECTION) {
            let Ok(c) = serde_json::from_value::<ProjectConfig>(v.value.clone()) else {
                continue;
            };
            let managed = |f: &str| !c.ignore_changes.iter().any(|x| x == f);
            out.insert(DesiredResource::new(
                Address::project(),
                ProjectSpec {
                    name: c.name.clone().filter(|_| managed("name")),
                    tags: c
                        .tags
                        .clone()
                        .filter(|_| managed("tags"))
                        .map(|t| sorted_set(t.into_iter().map(|s| s.trim().to_string()))),
                },
                vec![],
                c.protect,
                false,
                c.ignore_changes.clone(),
            ));
        }
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, scope: &'a ReadScope) -> ReadFuture<'a> {
        Box::pin(async move {
            match named(scope) {
                true => read_project(io).await,
                false => Ok(()),
            }
        })
    }

    fn read_count(&self, scope: &ReadScope) -> usize {
        usize::from(named(scope))
    }

    fn read_one<'a>(&'a self, io: LiveRead<'a>, _: &'a Address) -> ReadFuture<'a> {
        Box::pin(async move {
            io.snapshot.remove_document(DOC);
            read_project(io).await
        })
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        if let Some(entry) = snapshot.document(DOC) {
            out.insert(live_resource(entry));
        }
    }

    fn deletable(&self) -> bool {
        false
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        self.update_body(d, &Value::Null)
    }

    /// Only what differs from the live project: the name and the tags are separate calls.
    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let s = d.spec::<ProjectSpec>();
        let mut body = serde_json::Map::new();
        if let Some(name) = &s.name {
            if live.get("name").and_then(Value::as_str) != Some(name.as_str()) {
                body.insert("name".into(), json!(name));
            }
        }
        if let Some(tags) = &s.tags {
            if sorted_set(string_list(live, "tags")) != *tags || live.get("tags").is_none() {
                body.insert("tags".into(), json!(tags));
            }
        }
        Value::Object(body)
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        let mut steps = Vec::new();
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            steps.extend(Op::single(endpoints::project_update_name(name)).steps);
        }
        if let Some(tags) = body.get("tags") {
            let tags: Vec<String> = serde_json::from_value(tags.clone()).unwrap_or_default();
            steps.extend(Op::single(endpoints::project_update_tags(&tags)).steps);
        }
        Op { steps, batch: None }
    }

    fn read_saved(&self, _: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        Some(live_resource(object))
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let Some(r) = live.first() else {
            return;
        };
        let s = r.spec::<ProjectSpec>();
        let c = ProjectConfig {
            name: s.name.as_deref().map(escape),
            tags: s
                .tags
                .as_ref()
                .map(|t| t.iter().map(|x| escape(x)).collect()),
            ..Default::default()
        };
        if let Ok(value) = serde_json::to_value(c) {
            out.config.sections.push(&SECTION, None, value);
            out.addresses.push(r.address.clone());
        }
    }
}

/// The `projects/list` entry whose id is the project this tool was given; a list without it
/// means the key sees other projects only, which no plan should guess around.
async fn read_project(io: LiveRead<'_>) -> Result<(), ApiError> {
    if io.snapshot.document(DOC).is_some() {
        return Ok(());
    }
    let req = endpoints::projects_list();
    let project_id = io.gateway.transport().credentials().project_id.clone();
    let projects = io.gateway.read_list(req.clone(), "projects").await?;
    let Some(entry) = projects
        .iter()
        .map(|p| crate::api::wire::list_object(p.get()))
        .find(|p| p.get("id").and_then(Value::as_str) == Some(project_id.as_str()))
    else {
        return Err(ApiError::decode(
            &req,
            format!(
                "the project list has no project with id {project_id}: check the project id \
                 (environments.<env>.project_id or DESCOPE_PROJECT_ID)"
            ),
        ));
    };
    io.snapshot.put_document(DOC.to_string(), entry);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(name: Option<&str>, tags: Option<&[&str]>) -> DesiredResource {
        DesiredResource::new(
            Address::project(),
            ProjectSpec {
                name: name.map(str::to_string),
                tags: tags.map(|t| sorted_set(t.iter().map(|s| s.to_string()))),
            },
            vec![],
            false,
            false,
            vec![],
        )
    }

    #[test]
    fn an_update_sends_only_the_calls_whose_field_differs() {
        let live = json!({"id": "P2x", "name": "Acme", "environment": "", "tags": ["eu", "prod"]});
        let d = desired(Some("Acme"), Some(&["prod", "eu"]));
        let body = ProjectKind.update_body(&d, &live);
        assert_eq!(body, json!({}));
        let d = desired(Some("Acme Prod"), Some(&["prod"]));
        let body = ProjectKind.update_body(&d, &live);
        let op = ProjectKind.update_op(&Address::project(), &body);
        let paths: Vec<&str> = op.steps.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/v1/mgmt/project/update/name",
                "/v1/mgmt/project/update/tags"
            ]
        );
        assert_eq!(op.steps[1].body, Some(json!({"tags": ["prod"]})));
    }
}
