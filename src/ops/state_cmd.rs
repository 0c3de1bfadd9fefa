//! `descope-mgmt state list | show | rm | import`: which live resources this tool manages.
//! `list`, `show` and `rm` never touch the network; `import` reads the live project once to
//! check the resource exists and to record its fingerprint. Writes hold the state lock, so
//! they never interleave with an apply.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{OpError, Session};
use crate::kinds::ReadScope;
use crate::model::Address;
use crate::state::{ManagedResource, StateDir, StateFile, StateLock};

pub fn parse_address(text: &str) -> Result<Address, OpError> {
    text.parse::<Address>()
        .map_err(|e| OpError::Usage(format!("`{text}` is not a resource address: {e}")))
}

pub fn list(dir: &StateDir) -> Result<BTreeMap<Address, ManagedResource>, OpError> {
    Ok(StateFile::load(dir)?.resources)
}

pub fn show(dir: &StateDir, address: &Address) -> Result<ManagedResource, OpError> {
    StateFile::load(dir)?
        .get(address)
        .cloned()
        .ok_or_else(|| not_managed(dir, address))
}

fn not_managed(dir: &StateDir, address: &Address) -> OpError {
    OpError::Usage(format!(
        "{address} is not managed in environment `{}` (see `descope-mgmt state list`)",
        dir.env()
    ))
}

/// Stops managing `address`; the live resource is left as it is. Returns what was recorded.
pub fn rm(
    dir: &StateDir,
    address: &Address,
    lock_timeout: Duration,
) -> Result<ManagedResource, OpError> {
    let _lock = StateLock::acquire(dir, lock_timeout)?;
    let mut state = StateFile::load(dir)?;
    let removed = state
        .forget(address)
        .ok_or_else(|| not_managed(dir, address))?;
    state.save(dir)?;
    Ok(removed)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported(ManagedResource),
    /// It was managed already; the fingerprint was refreshed.
    AlreadyManaged(ManagedResource),
}

/// Starts managing a resource that exists in the live project and that the configuration
/// names. Like Terraform's import without a config block, an address the configuration does
/// not name is refused: managed and absent from the config, the next plan would delete it.
pub async fn import(
    session: &Session,
    address: &Address,
    lock_timeout: Duration,
) -> Result<ImportOutcome, OpError> {
    let desired = super::plan::desired_graph(session)?;
    if !desired.resources.contains_key(address) {
        return Err(OpError::Usage(format!(
            "{address} is not in the configuration of environment `{env}` ({file}); imported as it is, \
             the next plan would delete it. Add its entry to the configuration first \
             (`descope-mgmt export --env {env} --out exported/` writes entries for everything live), \
             then run `descope-mgmt state import {address} --env {env}` again",
            env = session.loaded.environment,
            file = session.loaded.file.display(),
        )));
    }
    // The same scope (and so the same theme form) apply uses when it records fingerprints.
    let scope = ReadScope::for_addresses([address], &BTreeMap::new());
    let live = session.read_live(&scope, &[]).await?;
    let resource = live.resources.get(address).ok_or_else(|| {
        OpError::Usage(format!(
            "{address} does not exist in the live project {} (environment `{}`); nothing to import",
            session.credentials.project_id, session.loaded.environment
        ))
    })?;
    if resource.system {
        return Err(OpError::Usage(format!(
            "{address} is a Descope system default; this tool never manages it"
        )));
    }
    let _lock = StateLock::acquire(&session.state, lock_timeout)?;
    let mut state = StateFile::load(&session.state)?;
    state.bind_project(&session.state, &session.credentials.project_id)?;
    let already = state.is_managed(address);
    let protect = state.protected(address);
    state.set_managed(address.clone(), resource.fingerprint(), protect);
    state.set_attributes(
        address,
        crate::kinds::of(address.kind()).recorded_attributes(resource),
    );
    state.save(&session.state)?;
    let record = state.get(address).cloned().unwrap_or(ManagedResource {
        fingerprint: resource.fingerprint(),
        protect,
        ..Default::default()
    });
    Ok(if already {
        ImportOutcome::AlreadyManaged(record)
    } else {
        ImportOutcome::Imported(record)
    })
}
