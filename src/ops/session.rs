//! What every networked command starts from: the loaded configuration of one environment, its
//! credentials, the shared API gateway (rate budget + retries) and the state directory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::OpError;
use crate::api::credentials::Credentials;
use crate::api::gateway::{Gateway, GatewayEvent, GatewayOptions, RateBudget, MAX_IN_FLIGHT};
use crate::api::transport::{Transport, TransportOptions};
use crate::api::window::Memory;
use crate::apply::execute::SecretResolver;
use crate::apply::secrets::SecretPolicy;
use crate::config::{self, LoadOptions, LoadedConfig, Settings, VarSource};
use crate::secret::{Secret, SecretRef};
use crate::state::StateDir;
use crate::util::interrupt::Interrupt;

/// Settings shared by every command (the CLI's global flags, as the library sees them).
#[derive(Debug, Clone)]
pub struct GlobalOptions {
    pub config: PathBuf,
    pub env: Option<String>,
    pub state_dir: PathBuf,
    pub rate_limit: Option<RateBudget>,
    /// Most requests in flight; `None`: settings.parallelism, else sized automatically.
    pub parallelism: Option<u32>,
    /// Where this machine's recent requests per endpoint are remembered across commands
    /// (`window::Memory::default_dir()` for the CLI); `None` remembers nothing.
    pub cache_dir: Option<PathBuf>,
    pub vars: VarSource,
    /// Talk to this base URL instead of the configured one (the local emulator).
    pub endpoint_override: Option<EndpointOverride>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl GlobalOptions {
    pub fn new(
        config: impl Into<PathBuf>,
        env: Option<&str>,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        GlobalOptions {
            config: config.into(),
            env: env.map(str::to_string),
            state_dir: state_dir.into(),
            rate_limit: None,
            parallelism: None,
            cache_dir: None,
            vars: VarSource::Process,
            endpoint_override: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A local emulator standing in for Descope: its URL, and the credentials it accepts when the
/// configuration cannot supply them.
#[derive(Debug, Clone)]
pub struct EndpointOverride {
    pub base_url: String,
    pub project_id: String,
    pub management_key: String,
}

pub struct Session {
    pub loaded: LoadedConfig,
    pub vars: VarSource,
    pub credentials: Credentials,
    pub gateway: Gateway,
    pub state: StateDir,
    /// Operations the executor runs at once: the in-flight cap (the gateway sizes the requests
    /// in flight below it).
    pub parallelism: usize,
    pub rate: RateBudget,
    /// Triggered by the CLI's Ctrl-C handler: apply sends nothing new and stops cleanly.
    pub interrupt: Interrupt,
}

impl Session {
    /// Load and validate the configuration of one environment and set up the API client. No
    /// request is sent yet.
    pub fn open(
        opts: &GlobalOptions,
        events: Option<UnboundedSender<GatewayEvent>>,
    ) -> Result<Session, OpError> {
        let loaded = config::load(&LoadOptions {
            path: opts.config.clone(),
            env: opts.env.clone(),
            vars: opts.vars.clone(),
        })?;
        Session::from_loaded(opts, loaded, events)
    }

    /// A session over an already loaded (or, for `export` into an empty directory, a blank)
    /// configuration.
    pub fn from_loaded(
        opts: &GlobalOptions,
        loaded: LoadedConfig,
        events: Option<UnboundedSender<GatewayEvent>>,
    ) -> Result<Session, OpError> {
        let credentials = match &opts.endpoint_override {
            None => config::resolve_credentials(&loaded, &opts.vars)?,
            Some(o) => {
                // The emulator accepts the configured project and key when they resolve, so the
                // same config works against both; otherwise its own defaults.
                let configured = loaded.env.as_ref().and_then(|e| e.project_id.clone());
                let key = config::resolve_credentials(&loaded, &opts.vars)
                    .map(|c| c.management_key)
                    .unwrap_or_else(|_| Secret::new(o.management_key.clone()));
                Credentials::new(
                    configured.unwrap_or_else(|| o.project_id.clone()),
                    key,
                    Some(&o.base_url),
                )
            }
        };
        let settings: &Settings = &loaded.config.settings;
        let rate = opts.rate_limit.unwrap_or(settings.rate_limit);
        let cap = opts.parallelism.or(settings.parallelism);
        if cap == Some(0) {
            return Err(OpError::Usage(
                "parallelism must be at least 1 (leave it unset to size it automatically)".into(),
            ));
        }
        let cap = cap.map(|n| n as usize);
        let transport = Transport::new(
            credentials.clone(),
            TransportOptions {
                timeout: opts.timeout,
                ..TransportOptions::default()
            },
        )?;
        let gateway = Gateway::new(
            transport,
            GatewayOptions {
                rate,
                parallelism: cap,
                memory: opts
                    .cache_dir
                    .as_deref()
                    .map(|dir| Memory::path_for(dir, &credentials.base_url)),
                events,
                ..GatewayOptions::default()
            },
        );
        let state = StateDir::open(
            &opts.state_dir,
            &loaded.environment,
            settings.state.as_ref(),
            &opts.vars,
        )?;
        Ok(Session {
            loaded,
            vars: opts.vars.clone(),
            credentials,
            gateway,
            state,
            parallelism: cap.unwrap_or(MAX_IN_FLIGHT),
            rate,
            interrupt: Interrupt::new(),
        })
    }

    /// The SDKs' license handshake. A failure only loses the tier header, as in the SDKs, even a
    /// 401: the first real call's 401 says the key or project is wrong (docs/design.md §2).
    pub async fn handshake(&self) -> Result<(), OpError> {
        if let Err(e) = self.gateway.handshake().await {
            tracing::warn!("license handshake failed, continuing without the tier header: {e}");
        }
        Ok(())
    }

    /// Resolves a plan's secret stand-ins only at the fields `declared` (the configuration's
    /// `${secret:VAR}`), from the variables as the loader resolves them: the process
    /// environment, never `vars:` in the config file (docs/config.md).
    pub fn secret_resolver(
        &self,
        declared: &[crate::resource::desired::SecretField],
    ) -> SecretResolver {
        let vars = self.vars.clone();
        Arc::new(SecretPolicy::new(
            declared,
            Arc::new(move |name: &str| vars.get(name)),
            self.credentials.management_key.clone(),
        ))
    }

    /// The stand-in a secret variable has now (for apply's "secret changed" check).
    pub fn recompute_secret(&self, var: &str) -> Option<SecretRef> {
        self.vars
            .get(var)
            .map(|v| SecretRef::new(var, &v, &self.credentials.management_key))
    }
}
