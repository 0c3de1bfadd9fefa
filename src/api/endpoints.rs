//! One pure function per Management API call this tool makes (docs/descope-api.md §2, §4-7). Each
//! returns the exact method, path, query and body; nothing here touches the network, so the
//! request shapes can be tested against golden JSON without a server.
//!
//! Create, update and import bodies are taken as `serde_json::Value` and sent exactly: Descope's
//! updates override the whole object, so the planner builds them from the live object
//! (read-modify-write), and any reshaping here would drop fields nobody manages.

// `ApiError` is the shared error type every layer returns; boxing it would change what the
// other modules build against, for a few bytes on a path that ends in a network call.
#![allow(clippy::result_large_err)]

use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiErrorKind};
use super::request::{ApiRequest, Effect, Method};
use crate::model::Address;

pub const LICENSE: &str = "/v1/mgmt/license";

pub const TENANT_CREATE: &str = "/v1/mgmt/tenant/create";
pub const TENANT_UPDATE: &str = "/v1/mgmt/tenant/update";
pub const TENANT_PATCH: &str = "/v1/mgmt/tenant/patch";
pub const TENANT_DELETE: &str = "/v1/mgmt/tenant/delete";
pub const TENANT_LOAD: &str = "/v1/mgmt/tenant";
pub const TENANT_LOAD_ALL: &str = "/v1/mgmt/tenant/all";
pub const TENANT_SEARCH: &str = "/v1/mgmt/tenant/search";
pub const TENANT_SETTINGS: &str = "/v1/mgmt/tenant/settings";
pub const PASSWORD_SETTINGS: &str = "/v1/mgmt/password/settings";
pub const LIST_CREATE: &str = "/v1/mgmt/list";
pub const LIST_UPDATE: &str = "/v1/mgmt/list/update";
pub const LIST_DELETE: &str = "/v1/mgmt/list/delete";
pub const LIST_LOAD_ALL: &str = "/v1/mgmt/list/all";
pub const TENANT_DEFAULT_ROLES: &str = "/v1/mgmt/tenant/updateDefaultRoles";
pub const SSO_APP_OIDC_CREATE: &str = "/v1/mgmt/sso/idp/app/oidc/create";
pub const SSO_APP_SAML_CREATE: &str = "/v1/mgmt/sso/idp/app/saml/create";
pub const SSO_APP_OIDC_UPDATE: &str = "/v1/mgmt/sso/idp/app/oidc/update";
pub const SSO_APP_SAML_UPDATE: &str = "/v1/mgmt/sso/idp/app/saml/update";
pub const SSO_APP_DELETE: &str = "/v1/mgmt/sso/idp/app/delete";
pub const SSO_APP_LOAD_ALL: &str = "/v1/mgmt/sso/idp/apps/load";
pub const THIRD_PARTY_APP_CREATE: &str = "/v1/mgmt/thirdparty/app/create";
pub const THIRD_PARTY_APP_UPDATE: &str = "/v1/mgmt/thirdparty/app/update";
pub const THIRD_PARTY_APP_DELETE: &str = "/v1/mgmt/thirdparty/app/delete";
pub const THIRD_PARTY_APP_DELETE_BATCH: &str = "/v1/mgmt/thirdparty/app/delete/batch";
pub const THIRD_PARTY_APP_LOAD_ALL: &str = "/v1/mgmt/thirdparty/apps/load";

pub const PERMISSION_CREATE: &str = "/v1/mgmt/permission/create";
pub const PERMISSION_CREATE_BATCH: &str = "/v1/mgmt/permission/create/batch";
pub const PERMISSION_UPDATE: &str = "/v1/mgmt/permission/update";
pub const PERMISSION_UPDATE_BATCH: &str = "/v1/mgmt/permission/update/batch";
pub const PERMISSION_DELETE: &str = "/v1/mgmt/permission/delete";
pub const PERMISSION_DELETE_BATCH: &str = "/v1/mgmt/permission/delete/batch";
pub const PERMISSION_LOAD_ALL: &str = "/v1/mgmt/permission/all";

pub const ROLE_CREATE: &str = "/v1/mgmt/role/create";
pub const ROLE_CREATE_BATCH: &str = "/v1/mgmt/role/create/batch";
pub const ROLE_UPDATE: &str = "/v1/mgmt/role/update";
pub const ROLE_UPDATE_BATCH: &str = "/v1/mgmt/role/update/batch";
pub const ROLE_DELETE: &str = "/v1/mgmt/role/delete";
pub const ROLE_DELETE_BATCH: &str = "/v1/mgmt/role/delete/batch";
pub const ROLE_LOAD_ALL: &str = "/v1/mgmt/role/all";
pub const ROLE_SEARCH: &str = "/v1/mgmt/role/search";

pub const FLOW_LIST: &str = "/v1/mgmt/flow/list";
pub const FLOW_DELETE: &str = "/v1/mgmt/flow/delete";
pub const FLOW_EXPORT_V1: &str = "/v1/mgmt/flow/export";
pub const FLOW_IMPORT_V1: &str = "/v1/mgmt/flow/import";
pub const FLOW_EXPORT_V2: &str = "/v2/mgmt/flow/export";
pub const FLOW_IMPORT_V2: &str = "/v2/mgmt/flow/import";

pub const THEME_EXPORT_V1: &str = "/v1/mgmt/theme/export";
pub const THEME_IMPORT_V1: &str = "/v1/mgmt/theme/import";
pub const THEME_EXPORT_V2: &str = "/v2/mgmt/theme/export";
pub const THEME_IMPORT_V2: &str = "/v2/mgmt/theme/import";

pub const SSO_LOAD_ALL: &str = "/v2/mgmt/sso/settings/all";
pub const SSO_CONFIGURE_SAML: &str = "/v1/mgmt/sso/saml";
pub const SSO_CONFIGURE_SAML_METADATA: &str = "/v1/mgmt/sso/saml/metadata";
pub const SSO_CONFIGURE_OIDC: &str = "/v1/mgmt/sso/oidc";
pub const SSO_NEW: &str = "/v1/mgmt/sso/settings/new";
pub const SSO_DELETE: &str = "/v1/mgmt/sso/settings";
pub const FGA_SCHEMA: &str = "/v1/mgmt/fga/schema";
pub const PROJECT_UPDATE_NAME: &str = "/v1/mgmt/project/update/name";
pub const PROJECT_UPDATE_TAGS: &str = "/v1/mgmt/project/update/tags";
pub const PROJECTS_LIST: &str = "/v1/mgmt/projects/list";

pub const OUTBOUND_APP_CREATE: &str = "/v1/mgmt/outbound/app/create";
pub const OUTBOUND_APP_UPDATE: &str = "/v1/mgmt/outbound/app/update";
pub const OUTBOUND_APP_DELETE: &str = "/v1/mgmt/outbound/app/delete";
pub const OUTBOUND_APPS_LOAD_ALL: &str = "/v1/mgmt/outbound/apps";
pub const ACCESS_KEY_CREATE: &str = "/v1/mgmt/accesskey/create";
pub const ACCESS_KEY_UPDATE: &str = "/v1/mgmt/accesskey/update";
pub const ACCESS_KEY_ACTIVATE: &str = "/v1/mgmt/accesskey/activate";
pub const ACCESS_KEY_DEACTIVATE: &str = "/v1/mgmt/accesskey/deactivate";
pub const ACCESS_KEY_DELETE: &str = "/v1/mgmt/accesskey/delete";
pub const ACCESS_KEY_DELETE_BATCH: &str = "/v1/mgmt/accesskey/delete/batch";
pub const ACCESS_KEY_SEARCH: &str = "/v1/mgmt/accesskey/search";
/// Never a plan step (not in `WRITE_PATHS`): only `access-key rotate` sends it.
pub const ACCESS_KEY_ROTATE: &str = "/v1/mgmt/accesskey/rotate";

/// Every path this tool writes to: a plan file's steps may name only these.
const WRITE_PATHS: &[&str] = &[
    TENANT_CREATE,
    TENANT_UPDATE,
    TENANT_PATCH,
    TENANT_DELETE,
    TENANT_SETTINGS,
    PASSWORD_SETTINGS,
    LIST_CREATE,
    LIST_UPDATE,
    LIST_DELETE,
    TENANT_DEFAULT_ROLES,
    PERMISSION_CREATE,
    PERMISSION_CREATE_BATCH,
    PERMISSION_UPDATE,
    PERMISSION_UPDATE_BATCH,
    PERMISSION_DELETE,
    PERMISSION_DELETE_BATCH,
    ROLE_CREATE,
    ROLE_CREATE_BATCH,
    ROLE_UPDATE,
    ROLE_UPDATE_BATCH,
    ROLE_DELETE,
    ROLE_DELETE_BATCH,
    FLOW_DELETE,
    FLOW_IMPORT_V1,
    FLOW_IMPORT_V2,
    THEME_IMPORT_V1,
    THEME_IMPORT_V2,
    SSO_CONFIGURE_SAML,
    SSO_CONFIGURE_SAML_METADATA,
    SSO_CONFIGURE_OIDC,
    SSO_NEW,
    SSO_DELETE,
    FGA_SCHEMA,
    PROJECT_UPDATE_NAME,
    PROJECT_UPDATE_TAGS,
    OUTBOUND_APP_CREATE,
    OUTBOUND_APP_UPDATE,
    OUTBOUND_APP_DELETE,
    ACCESS_KEY_CREATE,
    ACCESS_KEY_UPDATE,
    ACCESS_KEY_ACTIVATE,
    ACCESS_KEY_DEACTIVATE,
    ACCESS_KEY_DELETE,
    ACCESS_KEY_DELETE_BATCH,
    SSO_APP_OIDC_CREATE,
    SSO_APP_SAML_CREATE,
    SSO_APP_OIDC_UPDATE,
    SSO_APP_SAML_UPDATE,
    SSO_APP_DELETE,
    THIRD_PARTY_APP_CREATE,
    THIRD_PARTY_APP_UPDATE,
    THIRD_PARTY_APP_DELETE,
    THIRD_PARTY_APP_DELETE_BATCH,
];

/// The known write path equal to `path`.
pub fn write_path(path: &str) -> Option<&'static str> {
    WRITE_PATHS.iter().copied().find(|p| *p == path)
}

/// The known query parameter equal to `key`.
pub fn query_key(key: &str) -> Option<&'static str> {
    ["id", "tenantId", "ssoId"].into_iter().find(|k| *k == key)
}

fn post_read(path: &'static str, body: Option<Value>) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path,
        query: Vec::new(),
        body,
        effect: Effect::Read,
        address: None,
    }
}

fn with_address(req: ApiRequest, address: Option<Address>) -> ApiRequest {
    match address {
        Some(a) => req.for_address(a),
        None => req,
    }
}

fn refuse(path: &'static str, address: Option<Address>, why: &str) -> ApiError {
    ApiError {
        method: Method::Post.as_str(),
        path: path.to_string(),
        address: address.map(|a| a.to_string()),
        kind: ApiErrorKind::Setup(why.to_string()),
        credentials_hint: false,
    }
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The tenant a body is about, for error messages. Creates may leave the id to Descope.
fn tenant_address(body: &Value) -> Option<Address> {
    str_field(body, "id").map(Address::tenant)
}

/// Updates address a role by its current `name` (or `id`), creates by `name`.
fn role_address(body: &Value) -> Option<Address> {
    let name = str_field(body, "name").or_else(|| str_field(body, "id"))?;
    Some(Address::role(str_field(body, "tenantId"), name))
}

fn permission_address(body: &Value) -> Option<Address> {
    str_field(body, "name")
        .or_else(|| str_field(body, "id"))
        .map(Address::permission)
}

/// An empty string in a filter list is as good as no filter to a server that treats `""` as
/// "not set" (docs/descope-api.md §3), so it is refused like an empty list.
fn check_names(
    path: &'static str,
    names: &[String],
    what: &str,
    address: Option<Address>,
) -> Result<(), ApiError> {
    if names.is_empty() {
        return Err(refuse(
            path,
            address,
            &format!("refusing to send an empty list of {what}: this endpoint treats a missing filter as \"all\""),
        ));
    }
    if names.iter().any(|n| n.trim().is_empty()) {
        return Err(refuse(
            path,
            address,
            &format!("refusing to send an empty name in the list of {what}"),
        ));
    }
    Ok(())
}

fn check_items(path: &'static str, items: &[Value], what: &str) -> Result<(), ApiError> {
    if items.is_empty() {
        return Err(refuse(
            path,
            None,
            &format!("refusing to send an empty batch of {what}"),
        ));
    }
    Ok(())
}

fn object(
    path: &'static str,
    address: Option<Address>,
    what: &str,
    v: Value,
) -> Result<Map<String, Value>, ApiError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(refuse(
            path,
            address,
            &format!(
                "the {what} must be a JSON object, got {}",
                json_type(&other)
            ),
        )),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---- license (docs/descope-api.md §2) ----

/// The SDKs' handshake; its answer's tier goes into `x-descope-license` on later calls.
pub fn license() -> ApiRequest {
    ApiRequest::read(Method::Get, LICENSE)
}

// ---- tenants (docs/descope-api.md §4) ----

pub fn tenant_create(body: Value) -> ApiRequest {
    let address = tenant_address(&body);
    with_address(ApiRequest::write(TENANT_CREATE, body), address)
}

/// Full override: send the complete tenant (the live object with managed fields replaced).
pub fn tenant_update(body: Value) -> ApiRequest {
    let address = tenant_address(&body);
    with_address(ApiRequest::write(TENANT_UPDATE, body), address)
}

/// Partial update: `{"id", <only the fields to change>}`. Only newer SDKs know it.
pub fn tenant_patch(body: Value) -> ApiRequest {
    let address = tenant_address(&body);
    let mut req = ApiRequest::write(TENANT_PATCH, body);
    req.method = Method::Patch;
    with_address(req, address)
}

/// `cascade: true` also deletes the users and access keys that belong only to this tenant.
pub fn tenant_delete(id: &str, cascade: bool) -> ApiRequest {
    ApiRequest::write(TENANT_DELETE, json!({"id": id, "cascade": cascade}))
        .for_address(Address::tenant(id))
}

pub fn tenant_load(id: &str) -> ApiRequest {
    ApiRequest::read(Method::Get, TENANT_LOAD)
        .with_query("id", id)
        .for_address(Address::tenant(id))
}

pub fn tenant_load_all() -> ApiRequest {
    ApiRequest::read(Method::Get, TENANT_LOAD_ALL)
}

/// A POST that only reads (`tenantIds`, `tenantNames`, `tenantSelfProvisioningDomains`,
/// `customAttributes`; docs/descope-api.md §4).
pub fn tenant_search(body: Value) -> ApiRequest {
    post_read(TENANT_SEARCH, Some(body))
}

pub fn tenant_load_settings(id: &str) -> ApiRequest {
    ApiRequest::read(Method::Get, TENANT_SETTINGS)
        .with_query("id", id)
        .for_address(Address::tenant(id))
}

/// The body names its tenant as `tenantId` (not `id`, unlike every other tenant call).
pub fn tenant_update_settings(body: Value) -> ApiRequest {
    let address = str_field(&body, "tenantId").map(Address::tenant);
    with_address(ApiRequest::write(TENANT_SETTINGS, body), address)
}

/// An empty list is legitimate here: it clears the tenant's default roles.
pub fn tenant_update_default_roles(id: &str, default_roles: &[String]) -> ApiRequest {
    ApiRequest::write(
        TENANT_DEFAULT_ROLES,
        json!({"id": id, "defaultRoles": default_roles}),
    )
    .for_address(Address::default_roles(id))
}

// ---- password settings (docs/descope-api.md §14) ----

/// `tenant` empty: the project's settings.
pub fn password_settings_load(tenant: &str) -> ApiRequest {
    ApiRequest::read(Method::Get, PASSWORD_SETTINGS)
        .with_query("tenantId", tenant)
        .for_address(Address::password_policy(tenant))
}

/// The body names its tenant as `tenantId`, empty for the project.
pub fn password_settings_update(body: Value) -> ApiRequest {
    let tenant = str_field(&body, "tenantId").unwrap_or_default().to_string();
    ApiRequest::write(PASSWORD_SETTINGS, body).for_address(Address::password_policy(tenant))
}

// ---- FGA schema (docs/descope-api.md §15) ----

pub fn fga_schema_load() -> ApiRequest {
    ApiRequest::read(Method::Get, FGA_SCHEMA).for_address(Address::fga_schema())
}

/// `{"dsl"}`: replaces the whole schema.
pub fn fga_schema_save(body: Value) -> ApiRequest {
    ApiRequest::write(FGA_SCHEMA, body).for_address(Address::fga_schema())
}

// ---- lists (docs/descope-api.md §18) ----

pub fn list_create(body: Value) -> ApiRequest {
    let address = str_field(&body, "name").map(Address::list);
    with_address(ApiRequest::write(LIST_CREATE, body), address)
}

/// A full override: the body is the whole list, `id` included.
pub fn list_update(body: Value) -> ApiRequest {
    let address = str_field(&body, "name").map(Address::list);
    with_address(ApiRequest::write(LIST_UPDATE, body), address)
}

pub fn list_delete(id: &str, name: &str) -> ApiRequest {
    ApiRequest::write(LIST_DELETE, json!({ "id": id })).for_address(Address::list(name))
}

pub fn list_load_all() -> ApiRequest {
    ApiRequest::read(Method::Get, LIST_LOAD_ALL)
}

// ---- tenant SSO configurations (docs/descope-api.md §11) ----

/// Every configuration of one tenant: `{"SSOSettings": [...]}`.
pub fn sso_load_all(tenant: &str) -> ApiRequest {
    ApiRequest::read(Method::Get, SSO_LOAD_ALL).with_query("tenantId", tenant)
}

/// `path` is one of the three configure calls; the body names tenant and (unless default)
/// `ssoId`.
pub fn sso_configure(path: &'static str, body: Value, address: Address) -> ApiRequest {
    ApiRequest::write(path, body).for_address(address)
}

pub fn sso_new(body: Value, address: Address) -> ApiRequest {
    ApiRequest::write(SSO_NEW, body).for_address(address)
}

/// `DELETE ?tenantId=&ssoId=`, without `ssoId` for the default configuration.
pub fn sso_delete(tenant: &str, sso_id: Option<&str>, address: Address) -> ApiRequest {
    let mut req = ApiRequest {
        method: Method::Delete,
        path: SSO_DELETE,
        query: Vec::new(),
        body: None,
        effect: Effect::Write,
        address: None,
    }
    .with_query("tenantId", tenant);
    if let Some(id) = sso_id {
        req = req.with_query("ssoId", id);
    }
    req.for_address(address)
}

// ---- access keys (docs/descope-api.md §17) ----

/// Its answer carries the key's cleartext, once.
pub fn access_key_create(body: Value) -> ApiRequest {
    let address = str_field(&body, "name").map(Address::access_key);
    with_address(ApiRequest::write(ACCESS_KEY_CREATE, body), address)
}

/// Partial: fields left out keep their values.
pub fn access_key_update(body: Value) -> ApiRequest {
    let address = str_field(&body, "name").map(Address::access_key);
    with_address(ApiRequest::write(ACCESS_KEY_UPDATE, body), address)
}

/// `activate` or `deactivate` of the key `id` (empty when the id comes from an earlier step).
pub fn access_key_set_active(id: &str, name: &str, active: bool) -> ApiRequest {
    let path = if active {
        ACCESS_KEY_ACTIVATE
    } else {
        ACCESS_KEY_DEACTIVATE
    };
    ApiRequest::write(path, json!({ "id": id })).for_address(Address::access_key(name))
}

pub fn access_key_delete(id: &str, name: &str) -> ApiRequest {
    ApiRequest::write(ACCESS_KEY_DELETE, json!({ "id": id })).for_address(Address::access_key(name))
}

/// Every key: no filter.
pub fn access_key_search() -> ApiRequest {
    post_read(ACCESS_KEY_SEARCH, Some(json!({})))
}

/// A new cleartext for the key `id`; the old one stops working.
pub fn access_key_rotate(id: &str, name: &str) -> ApiRequest {
    ApiRequest::write(ACCESS_KEY_ROTATE, json!({ "id": id })).for_address(Address::access_key(name))
}
// ---- SSO applications (docs/descope-api.md §13) ----

/// A SAML request always carries `useMetadataInfo`, an OIDC one never does.
fn sso_app_is_saml(body: &Value) -> bool {
    body.get("useMetadataInfo").is_some()
}

pub fn sso_app_create(body: Value) -> ApiRequest {
    let address = str_field(&body, "id").map(Address::sso_app);
    let path = match sso_app_is_saml(&body) {
        true => SSO_APP_SAML_CREATE,
        false => SSO_APP_OIDC_CREATE,
    };
    with_address(ApiRequest::write(path, body), address)
}

/// A full override: the body is the whole app (never the create-only OIDC client id).
pub fn sso_app_update(body: Value) -> ApiRequest {
    let address = str_field(&body, "id").map(Address::sso_app);
    let path = match sso_app_is_saml(&body) {
        true => SSO_APP_SAML_UPDATE,
        false => SSO_APP_OIDC_UPDATE,
    };
    with_address(ApiRequest::write(path, body), address)
}

pub fn sso_app_delete(id: &str) -> ApiRequest {
    ApiRequest::write(SSO_APP_DELETE, json!({ "id": id })).for_address(Address::sso_app(id))
}

pub fn sso_app_load_all() -> ApiRequest {
    ApiRequest::read(Method::Get, SSO_APP_LOAD_ALL)
}

// ---- third-party applications (docs/descope-api.md §19) ----

fn third_party_app_address(body: &Value) -> Option<Address> {
    str_field(body, "name").map(Address::third_party_app)
}

/// Descope answers the new app's secret; the executor discards answers, so it goes nowhere.
pub fn third_party_app_create(body: Value) -> ApiRequest {
    let address = third_party_app_address(&body);
    with_address(ApiRequest::write(THIRD_PARTY_APP_CREATE, body), address)
}

/// A full override: the body is the whole app, `id` included.
pub fn third_party_app_update(body: Value) -> ApiRequest {
    let address = third_party_app_address(&body);
    with_address(ApiRequest::write(THIRD_PARTY_APP_UPDATE, body), address)
}

pub fn third_party_app_delete(id: &str, name: &str) -> ApiRequest {
    ApiRequest::write(THIRD_PARTY_APP_DELETE, json!({ "id": id }))
        .for_address(Address::third_party_app(name))
}

/// PY's `GET` (GO `POST`s `{page, limit}` to the same path; both answer every app when not
/// paged).
pub fn third_party_app_load_all() -> ApiRequest {
    ApiRequest::read(Method::Get, THIRD_PARTY_APP_LOAD_ALL)
}

// ---- permissions (docs/descope-api.md §5) ----

pub fn permission_create(body: Value) -> ApiRequest {
    let address = permission_address(&body);
    with_address(ApiRequest::write(PERMISSION_CREATE, body), address)
}

/// One transaction on Descope's side: all succeed or none.
pub fn permission_create_batch(permissions: Vec<Value>) -> Result<ApiRequest, ApiError> {
    check_items(PERMISSION_CREATE_BATCH, &permissions, "permissions")?;
    Ok(ApiRequest::write(
        PERMISSION_CREATE_BATCH,
        json!({ "permissions": permissions }),
    ))
}

/// `{"name": current, "newName": new (required), "description"}`; an omitted description is
/// cleared.
pub fn permission_update(body: Value) -> ApiRequest {
    let address = permission_address(&body);
    with_address(ApiRequest::write(PERMISSION_UPDATE, body), address)
}

pub fn permission_update_batch(permissions: Vec<Value>) -> Result<ApiRequest, ApiError> {
    check_items(PERMISSION_UPDATE_BATCH, &permissions, "permissions")?;
    Ok(ApiRequest::write(
        PERMISSION_UPDATE_BATCH,
        json!({ "permissions": permissions }),
    ))
}

pub fn permission_delete(name: &str) -> ApiRequest {
    ApiRequest::write(PERMISSION_DELETE, json!({ "name": name }))
        .for_address(Address::permission(name))
}

pub fn permission_delete_batch(names: &[String]) -> Result<ApiRequest, ApiError> {
    check_names(PERMISSION_DELETE_BATCH, names, "permission names", None)?;
    Ok(ApiRequest::write(
        PERMISSION_DELETE_BATCH,
        json!({ "names": names }),
    ))
}

pub fn permission_load_all() -> ApiRequest {
    ApiRequest::read(Method::Get, PERMISSION_LOAD_ALL)
}

// ---- roles (docs/descope-api.md §6) ----

/// A role is identified by its name together with `tenantId` (absent or "" = project role).
pub fn role_create(body: Value) -> ApiRequest {
    let address = role_address(&body);
    with_address(ApiRequest::write(ROLE_CREATE, body), address)
}

pub fn role_create_batch(roles: Vec<Value>) -> Result<ApiRequest, ApiError> {
    check_items(ROLE_CREATE_BATCH, &roles, "roles")?;
    Ok(ApiRequest::write(
        ROLE_CREATE_BATCH,
        json!({ "roles": roles }),
    ))
}

/// Full override: `newName` is required even when unchanged, and an omitted description or
/// permissionNames is removed.
pub fn role_update(body: Value) -> ApiRequest {
    let address = role_address(&body);
    with_address(ApiRequest::write(ROLE_UPDATE, body), address)
}

pub fn role_update_batch(roles: Vec<Value>) -> Result<ApiRequest, ApiError> {
    check_items(ROLE_UPDATE_BATCH, &roles, "roles")?;
    Ok(ApiRequest::write(
        ROLE_UPDATE_BATCH,
        json!({ "roles": roles }),
    ))
}

/// `tenant_id: None` (or "") deletes the project role of that name; the key is then omitted.
pub fn role_delete(name: &str, tenant_id: Option<&str>) -> ApiRequest {
    let tenant_id = tenant_id.filter(|t| !t.is_empty());
    let mut body = json!({ "name": name });
    if let Some(t) = tenant_id {
        body["tenantId"] = json!(t);
    }
    ApiRequest::write(ROLE_DELETE, body).for_address(Address::role(tenant_id, name))
}

/// Never sends an empty list: with no filter, Descope deletes EVERY role in the project.
pub fn role_delete_batch(
    names: &[String],
    tenant_id: Option<&str>,
) -> Result<ApiRequest, ApiError> {
    let tenant_id = tenant_id.filter(|t| !t.is_empty());
    check_names(
        ROLE_DELETE_BATCH,
        names,
        "role names",
        tenant_id.map(Address::tenant),
    )?;
    let mut body = json!({ "roleNames": names });
    if let Some(t) = tenant_id {
        body["tenantId"] = json!(t);
    }
    Ok(ApiRequest::write(ROLE_DELETE_BATCH, body))
}

/// Includes tenant-scoped roles, each with its `tenantId`.
pub fn role_load_all() -> ApiRequest {
    ApiRequest::read(Method::Get, ROLE_LOAD_ALL)
}

/// A POST that only reads (`tenantIds`, `roleNames`, `roleNameLike`, `permissionNames`,
/// `includeProjectRoles`, `roleIds`; docs/descope-api.md §6).
pub fn role_search(body: Value) -> ApiRequest {
    post_read(ROLE_SEARCH, Some(body))
}

// ---- flows (docs/descope-api.md §7) ----

/// A POST that only reads. NODE's `{}` rather than PY's missing body: a JSON body is what every
/// other POST carries.
pub fn flow_list() -> ApiRequest {
    post_read(FLOW_LIST, Some(json!({})))
}

/// Unknown ids are ignored by Descope; an empty list is refused rather than guessed at.
pub fn flow_delete(ids: &[String]) -> Result<ApiRequest, ApiError> {
    let address = match ids {
        [one] => Some(Address::flow(one.as_str())),
        _ => None,
    };
    check_names(FLOW_DELETE, ids, "flow ids", address.clone())?;
    Ok(with_address(
        ApiRequest::write(FLOW_DELETE, json!({ "ids": ids })),
        address,
    ))
}

/// Answers `{"flow": {.., "dsl"}, "screens": [..]}`.
pub fn flow_export_v1(flow_id: &str) -> ApiRequest {
    post_read(FLOW_EXPORT_V1, Some(json!({ "flowId": flow_id })))
        .for_address(Address::flow(flow_id))
}

/// `document` is a v1 export (`{"flow": {..}, "screens": [..]}`); it is sent as is with
/// `flowId` added, overwriting the flow with that id.
pub fn flow_import_v1(flow_id: &str, document: Value) -> Result<ApiRequest, ApiError> {
    let address = Address::flow(flow_id);
    let mut body = object(
        FLOW_IMPORT_V1,
        Some(address.clone()),
        "flow document",
        document,
    )?;
    body.insert("flowId".into(), json!(flow_id));
    Ok(ApiRequest::write(FLOW_IMPORT_V1, Value::Object(body)).for_address(address))
}

/// Answers `{"flow": {"flowId", "metadata", "contents", "screens", "references"}}`.
pub fn flow_export_v2(flow_id: &str) -> ApiRequest {
    post_read(FLOW_EXPORT_V2, Some(json!({ "flowId": flow_id })))
        .for_address(Address::flow(flow_id))
}

/// `flow` is the bare v2 flow (`{"flowId", "metadata", "contents", ..}`, the inside of an
/// export's `flow`). Like GO, the id is written into it, then it is wrapped as `{"flow": ..}`.
pub fn flow_import_v2(flow_id: &str, flow: Value) -> Result<ApiRequest, ApiError> {
    let address = Address::flow(flow_id);
    let mut flow = object(FLOW_IMPORT_V2, Some(address.clone()), "flow document", flow)?;
    flow.insert("flowId".into(), json!(flow_id));
    Ok(
        ApiRequest::write(FLOW_IMPORT_V2, json!({ "flow": Value::Object(flow) }))
            .for_address(address),
    )
}

// ---- theme (docs/descope-api.md §7) ----

/// A POST that only reads; PY sends `{}`. Answers `{"theme": {..}}` (wrapped, whatever the PY
/// docstring says).
pub fn theme_export_v1() -> ApiRequest {
    post_read(THEME_EXPORT_V1, Some(json!({}))).for_address(Address::theme())
}

/// `theme` is the inside of an export's `theme`; it is sent wrapped as `{"theme": ..}`.
pub fn theme_import_v1(theme: Value) -> Result<ApiRequest, ApiError> {
    let theme = object(THEME_IMPORT_V1, Some(Address::theme()), "theme", theme)?;
    Ok(
        ApiRequest::write(THEME_IMPORT_V1, json!({ "theme": Value::Object(theme) }))
            .for_address(Address::theme()),
    )
}

/// The DOCS show no body for v2 export.
pub fn theme_export_v2() -> ApiRequest {
    post_read(THEME_EXPORT_V2, None).for_address(Address::theme())
}

/// `theme` is `{"styles", "componentsVersion", "references"}`, sent as `{"theme": ..}`.
pub fn theme_import_v2(theme: Value) -> Result<ApiRequest, ApiError> {
    let theme = object(THEME_IMPORT_V2, Some(Address::theme()), "theme", theme)?;
    Ok(
        ApiRequest::write(THEME_IMPORT_V2, json!({ "theme": Value::Object(theme) }))
            .for_address(Address::theme()),
    )
}

// ---- project (docs/descope-api.md §16) ----

pub fn project_update_name(name: &str) -> ApiRequest {
    ApiRequest::write(PROJECT_UPDATE_NAME, json!({ "name": name })).for_address(Address::project())
}

/// The list replaces the project's tags.
pub fn project_update_tags(tags: &[String]) -> ApiRequest {
    ApiRequest::write(PROJECT_UPDATE_TAGS, json!({ "tags": tags })).for_address(Address::project())
}

/// The only read of a project's name and tags: every project the key may see.
pub fn projects_list() -> ApiRequest {
    post_read(PROJECTS_LIST, Some(json!({}))).for_address(Address::project())
}

// ---- outbound applications (docs/descope-api.md §19) ----

/// A flat body, `id` included (the config chooses it).
pub fn outbound_app_create(body: Value) -> ApiRequest {
    let address = str_field(&body, "id").map(Address::outbound_app);
    with_address(ApiRequest::write(OUTBOUND_APP_CREATE, body), address)
}

/// A full override: the whole app, wrapped as `{"app": {...}}`.
pub fn outbound_app_update(app: Value) -> ApiRequest {
    let address = str_field(&app, "id").map(Address::outbound_app);
    with_address(
        ApiRequest::write(OUTBOUND_APP_UPDATE, json!({ "app": app })),
        address,
    )
}

pub fn outbound_app_delete(id: &str) -> ApiRequest {
    ApiRequest::write(OUTBOUND_APP_DELETE, json!({ "id": id }))
        .for_address(Address::outbound_app(id))
}

pub fn outbound_apps_load_all() -> ApiRequest {
    ApiRequest::read(Method::Get, OUTBOUND_APPS_LOAD_ALL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_marked() {
        assert_eq!(flow_list().effect, Effect::Read);
        assert_eq!(flow_list().method, Method::Post);
        assert_eq!(flow_export_v2("x").effect, Effect::Read);
        assert_eq!(tenant_search(json!({})).effect, Effect::Read);
        assert_eq!(role_search(json!({})).effect, Effect::Read);
        assert_eq!(theme_export_v1().effect, Effect::Read);
        assert_eq!(tenant_delete("a", false).effect, Effect::Write);
        assert_eq!(tenant_patch(json!({"id": "a"})).method, Method::Patch);
    }

    #[test]
    fn empty_batches_are_refused() {
        let e = role_delete_batch(&[], Some("acme")).unwrap_err();
        assert!(e.to_string().contains("empty list of role names"), "{e}");
        assert!(role_delete_batch(&["".into()], None).is_err());
        assert!(permission_delete_batch(&[]).is_err());
        assert!(flow_delete(&[]).is_err());
        assert!(role_create_batch(vec![]).is_err());
        assert!(permission_update_batch(vec![]).is_err());
    }

    #[test]
    fn addresses_come_from_bodies() {
        let r = role_update(json!({"name": "viewer", "tenantId": "acme", "newName": "v"}));
        assert_eq!(r.address.as_deref(), Some("role.acme/viewer"));
        let r = role_create(json!({"name": "viewer", "tenantId": null}));
        assert_eq!(r.address.as_deref(), Some("role.viewer"));
        assert_eq!(tenant_create(json!({"name": "x"})).address, None);
    }

    #[test]
    fn non_object_documents_are_refused() {
        assert!(flow_import_v2("f", json!([1])).is_err());
        assert!(theme_import_v1(json!("x")).is_err());
    }
}
