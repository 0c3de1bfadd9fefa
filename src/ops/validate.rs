//! `descope-mgmt validate`: the configuration alone, no network.

use std::path::PathBuf;

use crate::config::{self, Diagnostics, LoadOptions, LoadedConfig, VarSource};

pub struct ValidateOptions {
    pub config: PathBuf,
    /// One environment; `None` checks every environment's merged view.
    pub env: Option<String>,
    pub vars: VarSource,
    /// Also render each environment's configuration (`validate --print`).
    pub print: bool,
}

/// What one valid environment holds, for the one-line summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSummary {
    pub environment: String,
    pub tenants: usize,
    pub roles: usize,
    pub permissions: usize,
    pub flows: usize,
    pub theme: bool,
    /// Problems that do not make the configuration invalid (an unused SSO template).
    pub warnings: Vec<config::Diagnostic>,
    /// The configuration as YAML, secrets masked (`validate --print`).
    pub rendered: Option<String>,
}

impl std::fmt::Display for EnvSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        write!(
            f,
            "{}: valid ({}, {}, {}, {}{})",
            self.environment,
            plural(self.tenants, "tenant"),
            plural(self.roles, "role"),
            plural(self.permissions, "permission"),
            plural(self.flows, "flow"),
            if self.theme { ", theme" } else { "" }
        )
    }
}

fn summary(l: &LoadedConfig, print: bool) -> Result<EnvSummary, Diagnostics> {
    let rendered = if print {
        Some(l.render().map_err(|d| Diagnostics(vec![d]))?)
    } else {
        None
    };
    Ok(summary_of(l, rendered))
}

fn summary_of(l: &LoadedConfig, rendered: Option<String>) -> EnvSummary {
    EnvSummary {
        environment: l.environment.clone(),
        tenants: l.config.tenants.len(),
        roles: l.config.roles.len(),
        permissions: l.config.permissions.len(),
        flows: l.config.flows.len(),
        theme: l.config.theme.is_some(),
        warnings: l.warnings.clone(),
        rendered,
    }
}

/// Never needs a secret: a pull-request check validates prod's view without prod's key.
pub fn validate(opts: &ValidateOptions) -> Result<Vec<EnvSummary>, Diagnostics> {
    let vars = opts.vars.clone().offline();
    let load = |env: Option<String>| {
        config::load(&LoadOptions {
            path: opts.config.clone(),
            env,
            vars: vars.clone(),
        })
    };
    if opts.env.is_some() {
        let l = load(opts.env.clone())?;
        documents(&l)?;
        return Ok(vec![summary(&l, opts.print)?]);
    }
    // 1. every environment, all problems at once; 2. per-environment summaries (now known valid).
    let envs = config::validate_all(&opts.config, &vars)?;
    let has_envs = envs.iter().any(|e| e != config::DEFAULT_ENVIRONMENT);
    let mut problems = Diagnostics::default();
    let mut out = Vec::new();
    for e in envs {
        let l = load(has_envs.then_some(e))?;
        match documents(&l).and_then(|()| summary(&l, opts.print)) {
            Ok(s) => out.push(s),
            Err(d) => problems.0.extend(d.0),
        }
    }
    if problems.0.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The flow and theme files as this environment reads them (`${VAR}` substituted).
fn documents(l: &LoadedConfig) -> Result<(), Diagnostics> {
    let files = l
        .config
        .flows
        .iter()
        .map(|f| &f.file)
        .chain(l.config.theme.iter().map(|t| &t.file));
    let problems: Vec<_> = files.filter_map(|f| l.read_json(f).err()).collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems))
    }
}
