//! The integration tests: one binary, so the crate is linked once (`cargo test --test
//! integration`, or `cargo test --test integration plan::` for one module).
//!
//! Each module tests one area through the library and/or the real `descope-mgmt` executable.
//! To add a test, put it in the module of its area (or add `mod area;` below for a new one)
//! and build its world with `util::TestEnv`:
//!
//! - `TestEnv::new()`: a temp dir of its own, deleted when the test ends.
//! - `TestEnv::start(opts).await` (in `#[tokio::test]`) or `TestEnv::start_blocking(opts)` (in
//!   `#[test]`): also an in-process emulator on 127.0.0.1:0, and `vars` holding the SDKs'
//!   variables that point at it.
//! - `write_config`, `write_flow`, `write_theme`, `write`: files in the temp dir.
//! - `session`, `plan`, `apply`: the library against that config, state dir and `vars`.
//! - `cmd`/`bin`/`run`: the executable in the temp dir with `vars` set and nothing from the
//!   developer's shell that would change its behaviour.
//! - `use_s3(lease)`: the state in a fresh bucket of a local S3 server (`moto.rs`) instead of
//!   `state/`; `state(env)` then reads the bucket. With `DESCOPE_TEST_STATE=s3` the `apply` and
//!   `manage` suites do this for every world they build, so the same tests cover both stores
//!   (CI runs them both ways); `remote` holds what only object storage has (leases, takeover,
//!   compare-and-swap, migrate).
//!
//! Tests bind port 0 and never sleep waiting for time. Hand-written expectations live in
//! `tests/golden/` and `tests/fixtures/`. The emulator's own tests are `tests/emulator.rs`.

mod azurite;
mod moto;
mod util;

mod access_keys;
mod api;
mod apply;
mod apps;
mod config;
mod fga_schema;
mod fuzz;
mod list;
mod live;
mod manage;
mod outbound_app;
mod pace;
mod password_policy;
mod plan;
mod project;
mod promotion;
mod remote;
mod renames;
mod sso_templates;
mod state;
mod tenant_settings;
mod tenant_sso;
mod trust;
mod wire_requests;
mod workflow;
