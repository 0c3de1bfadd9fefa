//! `descope-mgmt access-key rotate NAME --out FILE`: a new secret for one access key, written
//! to FILE (0600) and nowhere else. An explicit command, never a plan's side effect: the old
//! secret stops working when Descope answers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{OpError, Session};
use crate::apply::issued::{replace_private, write_new_private};
use crate::model::Address;
use crate::state::{append_audit, AuditChange, AuditRecord, ChangeResult, Identity, StateLock};

pub struct RotateRequest {
    pub name: String,
    pub out: PathBuf,
    /// Replace FILE if it exists.
    pub force: bool,
    pub lock_timeout: Duration,
}

#[derive(Debug)]
pub struct RotateReport {
    pub address: Address,
    pub id: String,
    pub out: PathBuf,
}

pub async fn rotate(session: &Session, req: &RotateRequest) -> Result<RotateReport, OpError> {
    let address = Address::access_key(&req.name);
    // Before any request: a rotate voids the old secret, so the new one must have a place.
    if !req.force && req.out.exists() {
        return Err(OpError::Usage(format!(
            "--out {}: the file exists and is not overwritten (the new secret would replace \
             what it holds); name another file, or add --force. Nothing was rotated",
            req.out.display()
        )));
    }
    if let Some(dir) = req.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(OpError::Usage(format!(
                "--out {}: the directory {} does not exist. Nothing was rotated",
                req.out.display(),
                dir.display()
            )));
        }
    }
    // Serialized with applies of this environment, whose audit log it shares.
    let _lock = StateLock::acquire(&session.state, req.lock_timeout)?;
    let started = std::time::Instant::now();
    let rotated = crate::kinds::access_key::rotate(&session.gateway, &req.name).await;
    let (result, error, report) = match rotated {
        Err(e) => (
            ChangeResult::Failed,
            Some(e.to_string()),
            Err(OpError::from(e)),
        ),
        Ok(r) => match write(&req.out, r.cleartext.expose().as_bytes(), req.force) {
            Ok(()) => (
                ChangeResult::Succeeded,
                None,
                Ok(RotateReport {
                    address: address.clone(),
                    id: r.id,
                    out: req.out.clone(),
                }),
            ),
            Err(e) => {
                let message = format!(
                    "{address} WAS ROTATED (its old secret no longer works), BUT THE NEW ONE \
                     COULD NOT BE WRITTEN to {}: {e}. Rotate again with a writable --out",
                    req.out.display()
                );
                (
                    ChangeResult::Failed,
                    Some(message.clone()),
                    Err(OpError::Io(message)),
                )
            }
        },
    };
    audit(session, &address, result, error, started.elapsed())?;
    report
}

fn write(path: &Path, bytes: &[u8], force: bool) -> std::io::Result<()> {
    if force {
        replace_private(path, bytes)
    } else {
        write_new_private(path, bytes)
    }
}

fn audit(
    session: &Session,
    address: &Address,
    result: ChangeResult,
    error: Option<String>,
    took: Duration,
) -> Result<(), OpError> {
    let base = session.loaded.base_dir.clone();
    let cwd = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let record = AuditRecord::new(
        Identity::discover(&cwd),
        &session.loaded.environment,
        &session.credentials.project_id,
        "",
        vec![AuditChange {
            address: address.clone(),
            action: "rotate".into(),
            result,
            duration_ms: took.as_millis() as u64,
            error,
        }],
    );
    append_audit(&session.state, &record)?;
    Ok(())
}
