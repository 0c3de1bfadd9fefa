//! The operation a change carries: the exact requests apply sends, decided by the planner
//! (through the resource's kind) and recorded in the plan file, so apply executes what was
//! reviewed and re-derives nothing. Bodies hold secret stand-ins, resolved just before sending.

// `ApiError` is the error every API layer returns (see api/endpoints.rs for why it is not boxed).
#![allow(clippy::result_large_err)]

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::{endpoints, ApiError, ApiRequest, Method};

/// One HTTP request of an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// After an ambiguous failure, read the live object before retrying, and count a write
    /// whose effect already shows as done (docs/design.md §2, Ambiguous failures). Document
    /// imports are idempotent and cannot be compared, so they are not checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checked: bool,
    /// A delete: "not found" means the goal is reached.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deletes: bool,
    /// Where this request's answer carries a secret Descope hands out once (a JSON pointer: a
    /// new access key's `/cleartext`). Apply writes it to the output the user named before it
    /// records the step done, and never anywhere else; a plan with such a step is refused
    /// without that output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issues_secret: Option<String>,
    /// Send as `id` the value at this JSON pointer of the previous step's answer (a key created
    /// inactive: the deactivate names the id the create was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_from_previous: Option<String>,
}

/// How like operations share one batch request (one transaction in Descope).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchMember {
    /// The batch endpoint.
    pub path: String,
    /// The body key holding the members' items (`roles`, `names`, …).
    pub list: String,
    /// This operation's item.
    pub item: Value,
    /// Keys every member of one batch shares (role delete-batch takes one `tenantId`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub shared: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Op {
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchMember>,
}

impl Step {
    fn of(req: &ApiRequest) -> Step {
        Step {
            method: req.method.as_str().to_string(),
            path: req.path.to_string(),
            query: req
                .query
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body: req.body.clone(),
            checked: true,
            deletes: req.path.ends_with("/delete") || req.method == Method::Delete,
            issues_secret: None,
            id_from_previous: None,
        }
    }

    /// The request to send, refused unless it is a write this tool makes: a plan file is data
    /// from a pull request, never a way to reach any other endpoint.
    pub fn request(&self, address: &str) -> Result<ApiRequest, ApiError> {
        let refuse = |why: String| ApiError::setup(&self.path, address, why);
        let path = endpoints::write_path(&self.path).ok_or_else(|| {
            refuse(format!(
                "{} is not an endpoint this tool writes to",
                self.path
            ))
        })?;
        let method = match self.method.as_str() {
            "POST" => Method::Post,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "GET" => Method::Get,
            other => return Err(refuse(format!("unsupported method {other}"))),
        };
        let mut query = Vec::new();
        for (k, v) in &self.query {
            let key = endpoints::query_key(k)
                .ok_or_else(|| refuse(format!("unexpected query parameter {k}")))?;
            query.push((key, v.clone()));
        }
        Ok(ApiRequest {
            method,
            path,
            query,
            body: self.body.clone(),
            effect: crate::api::Effect::Write,
            address: Some(address.to_string()),
        })
    }
}

impl Op {
    /// One checked request.
    pub fn single(req: ApiRequest) -> Op {
        Op {
            steps: vec![Step::of(&req)],
            batch: None,
        }
    }

    /// A request builder's refusal becomes an operation with no steps, which apply refuses
    /// ("plan again") and restore leaves out with a warning. Kinds check their documents when
    /// the config is read (a theme that is not an object), so the builders do not refuse what
    /// the planner gives them.
    pub fn from_result(req: Result<ApiRequest, ApiError>) -> Op {
        match req {
            Ok(r) => Op::single(r),
            Err(_) => Op::default(),
        }
    }

    /// The request and the steps after it (each a single request).
    pub fn and(mut self, next: Op) -> Op {
        self.steps.extend(next.steps);
        self.batch = None;
        self
    }

    /// Does any step's answer carry a secret handed out once?
    pub fn issues_secret(&self) -> bool {
        self.steps.iter().any(|s| s.issues_secret.is_some())
    }

    /// Not read back after an ambiguous failure (idempotent imports).
    pub fn unchecked(mut self) -> Op {
        for s in &mut self.steps {
            s.checked = false;
        }
        self
    }

    pub fn batched(mut self, path: &str, list: &str, item: Value, shared: Option<Value>) -> Op {
        self.batch = Some(BatchMember {
            path: path.to_string(),
            list: list.to_string(),
            item,
            shared: match shared {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            },
        });
        self
    }

    /// A replace: the delete, then the create (only the create is read back).
    pub fn then(mut self, next: Op) -> Op {
        for s in &mut self.steps {
            s.checked = false;
        }
        self.steps.extend(next.steps);
        self.batch = None;
        self
    }

    /// Batch key: members with equal keys go into one request.
    pub fn batch_key(&self) -> Option<(&str, &Map<String, Value>)> {
        self.batch.as_ref().map(|b| (b.path.as_str(), &b.shared))
    }
}
