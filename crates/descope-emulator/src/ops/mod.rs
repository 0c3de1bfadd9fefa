//! The endpoints of docs/descope-api.md §2 and §4-7 as plain functions over `ProjectData`, and
//! the table that maps a method and path to one. Nothing here knows about HTTP, faults or limits.

mod access_keys;
mod fga;
mod flows;
pub(crate) mod lists;
mod outbound_apps;
mod password;
mod permissions;
mod project;
mod roles;
mod sso;
mod sso_apps;
mod tenants;
mod third_party_apps;

pub use flows::etag as flows_etag;

use std::collections::HashMap;

use axum::http::Method;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::data::{omit_defaults, ProjectData};
use super::error::ApiError;
use super::fields::Body;

/// What a handler gets besides the data.
pub struct Ctx<'a> {
    pub now: i64,
    /// Refuse what Descope plausibly refuses but no source confirms (docs/emulator.md).
    pub strict: bool,
    pub omit_defaults: bool,
    pub rng: &'a mut StdRng,
}

impl Ctx<'_> {
    /// KSUID-like: the prefix plus 27 base62 characters.
    pub fn new_id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let tail: String = (0..27)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        format!("{prefix}{tail}")
    }

    /// A resource object on its way out, shaped by the omit-defaults mode.
    pub fn out(&self, mut v: Value) -> Value {
        if self.omit_defaults {
            omit_defaults(&mut v);
        }
        v
    }

    pub fn out_all(&self, items: Vec<Value>) -> Vec<Value> {
        items.into_iter().map(|v| self.out(v)).collect()
    }
}

pub struct Input {
    pub body: Body,
    pub query: HashMap<String, String>,
}

impl Input {
    pub fn query_id(&self) -> Result<String, ApiError> {
        match self.query.get("id") {
            Some(id) if !id.is_empty() => Ok(id.clone()),
            _ => Err(ApiError::missing("id")),
        }
    }
}

pub type Handler = fn(&mut ProjectData, &mut Ctx, &Input) -> Result<Value, ApiError>;

#[derive(Clone, Copy)]
pub struct Route {
    pub handler: Handler,
    /// Changes data: runs on a draft that replaces the data only on success (batches are one
    /// transaction), and counts as a committed write.
    pub write: bool,
    /// The license handshake, which faults skip unless asked (the SDKs call it at start-up).
    pub license: bool,
}

/// Calls that carry their key in the path rather than the query: NODE loads a list as
/// `GET /v1/mgmt/list/<id>` and `GET /v1/mgmt/list/name/<name>` where PY sends `?id=` and
/// `?name=` (docs/emulator.md); every SDK loads an outbound application as
/// `GET /v1/mgmt/outbound/app/<id>` (docs/descope-api.md §19). Returns the path to route and the query pair it stands for,
/// still percent-encoded (the query parser decodes it).
pub fn path_key(method: &Method, path: &str) -> Option<(&'static str, String)> {
    if method.as_str() != "GET" {
        return None;
    }
    if let Some(id) = path.strip_prefix("/v1/mgmt/outbound/app/") {
        return (!id.is_empty() && !id.contains('/'))
            .then(|| ("/v1/mgmt/outbound/app", format!("id={id}")));
    }
    if let Some(name) = path.strip_prefix("/v1/mgmt/list/name/") {
        return (!name.is_empty()).then(|| ("/v1/mgmt/list/name", format!("name={name}")));
    }
    let id = path.strip_prefix("/v1/mgmt/list/")?;
    (!id.is_empty() && !id.contains('/') && !["all", "name"].contains(&id))
        .then(|| ("/v1/mgmt/list", format!("id={id}")))
}

pub fn route(method: &Method, path: &str) -> Option<Route> {
    let (handler, write): (Handler, bool) = match (method.as_str(), path) {
        ("GET", "/v1/mgmt/license") => {
            return Some(Route {
                handler: license,
                write: false,
                license: true,
            })
        }
        ("POST", "/v1/mgmt/tenant/create") => (tenants::create, true),
        ("POST", "/v1/mgmt/tenant/update") => (tenants::update, true),
        ("PATCH", "/v1/mgmt/tenant/patch") => (tenants::patch, true),
        ("POST", "/v1/mgmt/tenant/delete") => (tenants::delete, true),
        ("GET", "/v1/mgmt/tenant") => (tenants::load, false),
        ("GET", "/v1/mgmt/tenant/all") => (tenants::load_all, false),
        ("POST", "/v1/mgmt/tenant/search") => (tenants::search, false),
        ("GET", "/v1/mgmt/tenant/settings") => (tenants::load_settings, false),
        ("POST", "/v1/mgmt/tenant/settings") => (tenants::update_settings, true),
        ("POST", "/v1/mgmt/tenant/updateDefaultRoles") => (tenants::update_default_roles, true),
        ("GET", "/v1/mgmt/password/settings") => (password::load, false),
        ("POST", "/v1/mgmt/password/settings") => (password::update, true),
        ("POST", "/v1/mgmt/list") => (lists::create, true),
        ("POST", "/v1/mgmt/list/update") => (lists::update, true),
        ("POST", "/v1/mgmt/list/delete") => (lists::delete, true),
        ("GET", "/v1/mgmt/list") => (lists::load, false),
        ("GET", "/v1/mgmt/list/name") => (lists::load_by_name, false),
        ("GET", "/v1/mgmt/list/all") => (lists::load_all, false),
        ("POST", "/v1/mgmt/list/ip/add") => (lists::ip_add, true),
        ("POST", "/v1/mgmt/list/ip/remove") => (lists::ip_remove, true),
        ("POST", "/v1/mgmt/list/ip/check") => (lists::ip_check, false),
        ("POST", "/v1/mgmt/list/text/add") => (lists::text_add, true),
        ("POST", "/v1/mgmt/list/text/remove") => (lists::text_remove, true),
        ("POST", "/v1/mgmt/list/text/check") => (lists::text_check, false),
        ("POST", "/v1/mgmt/list/clear") => (lists::clear, true),
        ("POST", "/v1/mgmt/permission/create") => (permissions::create, true),
        ("POST", "/v1/mgmt/permission/create/batch") => (permissions::create_batch, true),
        ("POST", "/v1/mgmt/permission/update") => (permissions::update, true),
        ("POST", "/v1/mgmt/permission/update/batch") => (permissions::update_batch, true),
        ("POST", "/v1/mgmt/permission/delete") => (permissions::delete, true),
        ("POST", "/v1/mgmt/permission/delete/batch") => (permissions::delete_batch, true),
        ("GET", "/v1/mgmt/permission/all") => (permissions::load_all, false),
        ("POST", "/v1/mgmt/role/create") => (roles::create, true),
        ("POST", "/v1/mgmt/role/create/batch") => (roles::create_batch, true),
        ("POST", "/v1/mgmt/role/update") => (roles::update, true),
        ("POST", "/v1/mgmt/role/update/batch") => (roles::update_batch, true),
        ("POST", "/v1/mgmt/role/delete") => (roles::delete, true),
        ("POST", "/v1/mgmt/role/delete/batch") => (roles::delete_batch, true),
        ("GET", "/v1/mgmt/role/all") => (roles::load_all, false),
        ("POST", "/v1/mgmt/role/search") => (roles::search, false),
        ("POST", "/v1/mgmt/flow/list") => (flows::list, false),
        ("POST", "/v1/mgmt/flow/delete") => (flows::delete, true),
        ("POST", "/v1/mgmt/flow/export") => (flows::export_v1, false),
        ("POST", "/v1/mgmt/flow/import") => (flows::import_v1, true),
        ("POST", "/v2/mgmt/flow/export") => (flows::export_v2, false),
        ("POST", "/v2/mgmt/flow/import") => (flows::import_v2, true),
        ("POST", "/v1/mgmt/theme/export") => (flows::theme_export_v1, false),
        ("POST", "/v1/mgmt/theme/import") => (flows::theme_import_v1, true),
        ("POST", "/v2/mgmt/theme/export") => (flows::theme_export_v2, false),
        ("POST", "/v2/mgmt/theme/import") => (flows::theme_import_v2, true),
        ("GET", "/v2/mgmt/sso/settings") => (sso::load, false),
        ("GET", "/v2/mgmt/sso/settings/all") => (sso::load_all, false),
        ("POST", "/v1/mgmt/sso/saml") => (sso::configure_saml, true),
        ("POST", "/v1/mgmt/sso/saml/metadata") => (sso::configure_saml_metadata, true),
        ("POST", "/v1/mgmt/sso/oidc") => (sso::configure_oidc, true),
        ("POST", "/v1/mgmt/sso/settings/new") => (sso::new_settings, true),
        ("DELETE", "/v1/mgmt/sso/settings") => (sso::delete, true),
        ("POST", "/v1/mgmt/sso/settings/authtype") => (sso::auth_type, true),
        ("POST", "/v1/mgmt/sso/redirect") => (sso::redirect, true),
        ("POST", "/v1/mgmt/sso/recalculate-mappings") => (sso::recalculate, true),
        ("POST", "/v1/mgmt/fga/schema") => (fga::save, true),
        ("GET", "/v1/mgmt/fga/schema") => (fga::load, false),
        ("POST", "/v1/mgmt/project/update/name") => (project::update_name, true),
        ("POST", "/v1/mgmt/project/update/tags") => (project::update_tags, true),
        ("POST", "/v1/mgmt/projects/list") => (project::list, false),
        ("POST", "/v1/mgmt/outbound/app/create") => (outbound_apps::create, true),
        ("POST", "/v1/mgmt/outbound/app/update") => (outbound_apps::update, true),
        ("POST", "/v1/mgmt/outbound/app/delete") => (outbound_apps::delete, true),
        ("GET", "/v1/mgmt/outbound/app") => (outbound_apps::load, false),
        ("GET", "/v1/mgmt/outbound/apps") => (outbound_apps::load_all, false),
        ("POST", "/v1/mgmt/accesskey/create") => (access_keys::create, true),
        ("GET", "/v1/mgmt/accesskey") => (access_keys::load, false),
        ("POST", "/v1/mgmt/accesskey/search") => (access_keys::search, false),
        ("POST", "/v1/mgmt/accesskey/update") => (access_keys::update, true),
        ("POST", "/v1/mgmt/accesskey/activate") => (access_keys::activate, true),
        ("POST", "/v1/mgmt/accesskey/activate/batch") => (access_keys::activate_batch, true),
        ("POST", "/v1/mgmt/accesskey/deactivate") => (access_keys::deactivate, true),
        ("POST", "/v1/mgmt/accesskey/deactivate/batch") => (access_keys::deactivate_batch, true),
        ("POST", "/v1/mgmt/accesskey/delete") => (access_keys::delete, true),
        ("POST", "/v1/mgmt/accesskey/delete/batch") => (access_keys::delete_batch, true),
        ("POST", "/v1/mgmt/accesskey/rotate") => (access_keys::rotate, true),
        ("POST", "/v1/mgmt/sso/idp/app/oidc/create") => (sso_apps::create_oidc, true),
        ("POST", "/v1/mgmt/sso/idp/app/saml/create") => (sso_apps::create_saml, true),
        ("POST", "/v1/mgmt/sso/idp/app/oidc/update") => (sso_apps::update_oidc, true),
        ("POST", "/v1/mgmt/sso/idp/app/saml/update") => (sso_apps::update_saml, true),
        ("POST", "/v1/mgmt/sso/idp/app/delete") => (sso_apps::delete, true),
        ("GET", "/v1/mgmt/sso/idp/app/load") => (sso_apps::load, false),
        ("GET", "/v1/mgmt/sso/idp/apps/load") => (sso_apps::load_all, false),
        ("GET", "/v1/mgmt/sso/idp/app/secret") => (sso_apps::secret, false),
        ("POST", "/v1/mgmt/sso/idp/app/rotate") => (sso_apps::rotate, true),
        ("POST", "/v1/mgmt/thirdparty/app/create") => (third_party_apps::create, true),
        ("POST", "/v1/mgmt/thirdparty/app/update") => (third_party_apps::update, true),
        ("POST", "/v1/mgmt/thirdparty/app/patch") => (third_party_apps::patch, true),
        ("POST", "/v1/mgmt/thirdparty/app/delete") => (third_party_apps::delete, true),
        ("POST", "/v1/mgmt/thirdparty/app/delete/batch") => (third_party_apps::delete_batch, true),
        ("GET", "/v1/mgmt/thirdparty/app/load") => (third_party_apps::load, false),
        ("GET", "/v1/mgmt/thirdparty/apps/load") => (third_party_apps::load_all, false),
        ("POST", "/v1/mgmt/thirdparty/apps/load") => (third_party_apps::load_all, false),
        ("GET", "/v1/mgmt/thirdparty/app/secret") => (third_party_apps::secret, false),
        ("POST", "/v1/mgmt/thirdparty/app/rotate") => (third_party_apps::rotate, true),
        _ => return None,
    };
    Some(Route {
        handler,
        write,
        license: false,
    })
}

fn license(_: &mut ProjectData, _: &mut Ctx, _: &Input) -> Result<Value, ApiError> {
    Ok(json!({"rateLimitTier": "tier1"}))
}
