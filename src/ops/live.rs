//! Reading the live project with the fewest requests and no waiting between them: each kind
//! reads what it needs (one list call per kind, a flow export only for the flows the config
//! names, the theme only when it is managed), all kinds at once, and a list two kinds share is
//! read once.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::api::gateway::Gateway;
use crate::api::ApiError;
use crate::kinds::{self, LiveRead, ReadScope, ResourceKind};
use crate::resource::desired::SecretField;
use crate::resource::live::{self, LiveGraph, LiveSnapshot, SharedLists};
use crate::secret::Secret;

/// Number of requests `read_snapshot` sends for this scope.
pub fn request_count(scope: &ReadScope) -> usize {
    kinds::all().iter().map(|k| k.read_count(scope)).sum()
}

/// Every kind reads at once: the reads are independent (a list two kinds need is still read
/// once, `SharedLists`), and one after another they cost one round trip each. Errors are
/// reported in kind order, so the first kind's read still decides what a 401 says (the key or
/// project is wrong) whatever finishes first.
pub async fn read_snapshot(gateway: &Gateway, scope: &ReadScope) -> Result<LiveSnapshot, ApiError> {
    read_kinds(gateway, scope, kinds::all()).await
}

/// What `read_snapshot` reads, for some kinds only (after an apply: the kinds it wrote).
pub async fn read_kinds(
    gateway: &Gateway,
    scope: &ReadScope,
    which: &[&'static dyn ResourceKind],
) -> Result<LiveSnapshot, ApiError> {
    let shared = Arc::new(SharedLists::default());
    let scope = Arc::new(scope.clone());
    let mut reads = JoinSet::new();
    for (i, kind) in which.iter().copied().enumerate() {
        let (gateway, scope) = (gateway.clone(), scope.clone());
        let mut snapshot = LiveSnapshot::sharing(shared.clone());
        reads.spawn(async move {
            let r = kind
                .read(LiveRead::new(&gateway, &mut snapshot), &scope)
                .await;
            (i, r.map(|()| snapshot))
        });
    }
    let mut done = Vec::with_capacity(which.len());
    while let Some(joined) = reads.join_next().await {
        match joined {
            Ok(r) => done.push(r),
            // A panic in a read is a bug: surface it as is.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels these tasks; nothing waits for the answer.
            Err(e) => {
                return Err(ApiError {
                    method: "GET",
                    path: String::new(),
                    address: None,
                    kind: crate::api::ApiErrorKind::Setup(format!("live read stopped: {e}")),
                    credentials_hint: false,
                })
            }
        }
    }
    done.sort_by_key(|(i, _)| *i);
    let mut snapshot = LiveSnapshot::default();
    for (_, r) in done {
        snapshot.merge(r?);
    }
    Ok(snapshot)
}

impl super::Session {
    /// The live project for `scope`, its secrets masked as the planner masks them. The license
    /// call goes out with the reads: neither needs the other's answer.
    pub async fn read_live(
        &self,
        scope: &ReadScope,
        secret_fields: &[SecretField],
    ) -> Result<LiveGraph, super::OpError> {
        let key = &self.credentials.management_key;
        let (handshake, live) = tokio::join!(
            self.handshake(),
            read_graph(&self.gateway, scope, secret_fields, key)
        );
        handshake?;
        Ok(live?)
    }
}

pub async fn read_graph(
    gateway: &Gateway,
    scope: &ReadScope,
    secret_fields: &[SecretField],
    key: &Secret,
) -> Result<LiveGraph, ApiError> {
    let snapshot = read_snapshot(gateway, scope).await?;
    Ok(live::build(&snapshot, secret_fields, key))
}
