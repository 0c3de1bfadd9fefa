"""The official Descope Python SDK against the emulator: every management endpoint the emulator
serves, called the way the SDK calls it, with the results checked. Run by
`cargo test -p descope-emulator --test emulator python_sdk_conformance`, which starts the emulator and passes:

  EMULATOR_BASE_URL, EMULATOR_PROJECT_ID, EMULATOR_MANAGEMENT_KEY   a fresh emulator
  EMULATOR_LIMITED_BASE_URL                                         one limited to 2 requests/60 s

The SDK has no v2 flow or theme methods; those go through the SDK's own HTTP client, so they still
carry its headers and error handling.
"""

import json
import os
import sys

from descope import AuthException, DescopeClient, RateLimitException
from descope.management.sso_settings import (
    AttributeMapping,
    RoleMapping,
    SSOOIDCSettings,
    SSOSAMLSettings,
    SSOSAMLSettingsByMetadata,
)

BASE = os.environ["EMULATOR_BASE_URL"]
PROJECT = os.environ["EMULATOR_PROJECT_ID"]
KEY = os.environ["EMULATOR_MANAGEMENT_KEY"]
LIMITED = os.environ.get("EMULATOR_LIMITED_BASE_URL")

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def expect_error(status, call, code=None):
    try:
        call()
    except AuthException as e:
        check(e.status_code == status, f"expected HTTP {status}, got {e.status_code}: {e.error_message}")
        body = json.loads(e.error_message)
        check("errorCode" in body, f"error without errorCode: {body}")
        if code:
            check(body["errorCode"] == code, f"expected {code}, got {body}")
        return body
    raise AssertionError(f"expected HTTP {status}, call succeeded")


client = DescopeClient(project_id=PROJECT, management_key=KEY, base_url=BASE)
mgmt = client.mgmt

# License handshake.
check(mgmt.license.get() == {"rateLimitTier": "tier1"}, "license tier")

# Permissions, singly and in batches.
perms = {p["name"]: p for p in mgmt.permission.load_all()["permissions"]}
for name in ("User Admin", "SSO Admin", "Impersonate"):
    check(perms[name]["systemDefault"] is True, f"system permission {name}")
mgmt.permission.create("docs.read", "Read documents")
mgmt.permission.create_batch([{"name": "docs.write"}, {"name": "docs.delete", "description": "Delete"}])
mgmt.permission.update("docs.read", "docs.view")  # description omitted: cleared
mgmt.permission.update_batch([{"name": "docs.write", "newName": "docs.edit", "description": "Edit"}])
perms = {p["name"]: p for p in mgmt.permission.load_all()["permissions"]}
check(perms["docs.view"]["description"] == "", "permission update is a full override")
check(perms["docs.edit"]["description"] == "Edit", "permission batch update")
check(perms["docs.view"]["id"].startswith("PERM"), "permission ids")
mgmt.permission.update_by_id(perms["docs.view"]["id"], "docs.read", "Read again")
expect_error(400, lambda: mgmt.permission.create("docs.read"), "E011003")
expect_error(404, lambda: mgmt.permission.delete("no-such-permission"))

# Tenants: create, load, update, patch, search, settings, default roles.
created = mgmt.tenant.create("Acme", id="acme", self_provisioning_domains=["acme.com"],
                             custom_attributes={"plan": "gold"})
check(created == {"id": "acme"}, f"tenant create returns the id: {created}")
generated = mgmt.tenant.create("Globex")["id"]
check(generated.startswith("T"), f"generated tenant id {generated}")
tenant = mgmt.tenant.load("acme")
check(tenant["id"] == "acme" and tenant["name"] == "Acme", f"load is unwrapped: {tenant}")
check(tenant["selfProvisioningDomains"] == ["acme.com"], "domains")
check(isinstance(tenant["createdTime"], int), "integer timestamps")
expect_error(400, lambda: mgmt.tenant.create("Acme"), "E011003")
expect_error(400, lambda: mgmt.tenant.create("Other", self_provisioning_domains=["acme.com"]), "E011003")

mgmt.tenant.update("acme", "Acme Inc", self_provisioning_domains=["acme.com"])
tenant = mgmt.tenant.load("acme")
check(tenant["name"] == "Acme Inc", "update")
check(tenant["customAttributes"] == {}, "update is a full override")
mgmt.tenant.patch_tenant("acme", disabled=True)
tenant = mgmt.tenant.load("acme")
check(tenant["disabled"] is True and tenant["name"] == "Acme Inc", "patch changes only what it sends")

check(len(mgmt.tenant.load_all()["tenants"]) == 2, "load_all")
found = mgmt.tenant.search_all(ids=["acme"])["tenants"]
check([t["id"] for t in found] == ["acme"], f"search by id: {found}")
found = mgmt.tenant.search_all(self_provisioning_domains=["acme.com"])["tenants"]
check([t["id"] for t in found] == ["acme"], "search by domain")

mgmt.tenant.update_settings("acme", self_provisioning_domains=["acme.com", "acme.io"],
                            session_settings_enabled=True, session_token_expiration=30,
                            session_token_expiration_unit="minutes", auth_type="saml")
settings = mgmt.tenant.load_settings("acme")
check(settings["selfProvisioningDomains"] == ["acme.com", "acme.io"], f"settings domains: {settings}")
check(settings["enabled"] is True and settings["sessionTokenExpiration"] == 30, "settings values")
check(settings["authType"] == "saml" and settings["JITDisabled"] is False, "settings defaults")

# Password settings: the project's, and a tenant's own (inherited until it is set).
project_pw = mgmt.password.get_settings()
check(project_pw["enabled"] is True and project_pw["minLength"] == 8, f"password defaults: {project_pw}")
mgmt.password.configure_settings("", {"minLength": 12, "uppercase": True, "lock": True, "lockAttempts": 5})
check(mgmt.password.get_settings("acme")["minLength"] == 12, "a tenant inherits the project's policy")
mgmt.password.configure_settings("acme", {"minLength": 16})
tenant_pw = mgmt.password.get_settings("acme")
check(tenant_pw["minLength"] == 16 and tenant_pw["uppercase"] is True, f"tenant policy: {tenant_pw}")
check(mgmt.password.get_settings()["minLength"] == 12, "the project's policy is unchanged")
expect_error(404, lambda: mgmt.password.get_settings("no-such-tenant"))
expect_error(400, lambda: mgmt.password.configure_settings("", {"minLength": "long"}), "E011004")

# Lists: create, load, update (a full override), items, load all, delete, 404.
office = mgmt.list.create("office", "ips", description="Office", data=["10.0.0.0/8"])["list"]
check(office["id"] and office["type"] == "ips" and office["data"] == ["10.0.0.0/8"], f"list create: {office}")
check(mgmt.list.load(office["id"])["list"]["name"] == "office", "list load")
check(mgmt.list.load_by_name("office")["list"]["id"] == office["id"], "list load by name")
mgmt.list.add_ips(office["id"], ["192.168.1.1", "10.0.0.0/8"])
check(mgmt.list.check_ip(office["id"], "192.168.1.1") is True, "list ip check")
mgmt.list.remove_ips(office["id"], ["192.168.1.1"])
check(mgmt.list.load(office["id"])["list"]["data"] == ["10.0.0.0/8"], "list ip add/remove")
mgmt.list.update(office["id"], "offices", "ips", data=["172.16.0.0/12"])
updated = mgmt.list.load(office["id"])["list"]
check(updated["name"] == "offices" and updated["description"] == "", f"list update is a full override: {updated}")
words = mgmt.list.create("words", "texts", data=["alpha"])["list"]
mgmt.list.add_texts(words["id"], ["beta"])
check(mgmt.list.check_texts(words["id"], ["alpha", "beta"], match_all=True) is True, "list texts check")
mgmt.list.clear(words["id"])
check(mgmt.list.check_text(words["id"], "alpha") is False, "list clear")
check(sorted(l["name"] for l in mgmt.list.load_all()["lists"]) == ["offices", "words"], "list load all")
expect_error(400, lambda: mgmt.list.create("offices", "texts"), "E011003")
expect_error(400, lambda: mgmt.list.create("bad", "ips", data=["10.0.0.0/33"]), "E011003")
mgmt.list.delete(words["id"])
expect_error(404, lambda: mgmt.list.load(words["id"]))

# Roles: project and tenant scope, batches, search.
mgmt.role.create("viewer", "Views", permission_names=["docs.read"])
mgmt.role.create("editor", permission_names=["docs.edit"], tenant_id="acme")
mgmt.role.create_batch([{"name": "auditor"}, {"name": "admin", "permissionNames": ["docs.delete"]}])
mgmt.role.update("viewer", "viewer", permission_names=["docs.read", "docs.edit"])
mgmt.role.update_batch([{"name": "auditor", "newName": "auditors", "description": "Audit"}])
roles = mgmt.role.load_all()["roles"]
by_key = {(r["name"], r.get("tenantId", "")): r for r in roles}
check(by_key[("viewer", "")]["description"] == "", "role update is a full override")
check(by_key[("viewer", "")]["permissionNames"] == ["docs.read", "docs.edit"], "role permissions")
check(by_key[("editor", "acme")]["id"].startswith("ROL"), "tenant role listed with its tenantId")
check(("Tenant Admin", "") in by_key, "built-in role")
mgmt.role.update_by_id(by_key[("auditors", "")]["id"], "auditors", description="By id")
found = mgmt.role.search(tenant_ids=["acme"])["roles"]
check([r["name"] for r in found] == ["editor"], f"role search by tenant: {found}")
found = mgmt.role.search(role_name_like="AUDIT")["roles"]
check([r["description"] for r in found] == ["By id"], f"role search like: {found}")
expect_error(400, lambda: mgmt.role.create("viewer"), "E011003")
expect_error(400, lambda: mgmt.role.create("ghostly", permission_names=["no-such-permission"]), "E011003")
expect_error(404, lambda: mgmt.role.create("r", tenant_id="no-such-tenant"))

mgmt.tenant.update_default_roles("acme", ["viewer"])
check(mgmt.tenant.load("acme")["defaultRoles"] == ["viewer"], "default roles")

mgmt.role.delete("editor", tenant_id="acme")
mgmt.role.delete_by_id(by_key[("admin", "")]["id"])
mgmt.role.delete_batch(["auditors"])
mgmt.role.create("temp")
mgmt.role.delete_batch_by_ids([r["id"] for r in mgmt.role.search(role_names=["temp"])["roles"]])
names = sorted(r["name"] for r in mgmt.role.load_all()["roles"])
check(names == ["Tenant Admin", "viewer"], f"roles after deletes: {names}")
mgmt.permission.delete("docs.delete")
mgmt.permission.delete_batch(["docs.edit"])
mgmt.permission.delete_batch_by_ids([p["id"] for p in mgmt.permission.load_all()["permissions"]
                                     if p["name"] == "docs.read"])
names = sorted(p["name"] for p in mgmt.permission.load_all()["permissions"])
check(names == ["Impersonate", "SSO Admin", "User Admin"], f"permissions after deletes: {names}")
viewer = [r for r in mgmt.role.load_all()["roles"] if r["name"] == "viewer"][0]
check(viewer["permissionNames"] == [], "deleted permissions leave the roles")

mgmt.tenant.delete(generated)
expect_error(404, lambda: mgmt.tenant.load(generated))
expect_error(404, lambda: mgmt.tenant.delete(generated))

# Flows, v1 through the SDK.
flows = mgmt.flow.list_flows()
ids = [f["id"] for f in flows["flows"]]
check(flows["total"] == len(ids) and "sign-up-or-in" in ids, f"flow list: {ids}")
exported = mgmt.flow.export_flow("sign-up-or-in")
check(exported["flow"]["name"] and len(exported["screens"]) > 1, "export v1 has a name and screens")
flow = dict(exported["flow"], name="Renamed")
imported = mgmt.flow.import_flow("sign-up-or-in", flow, exported["screens"])
check(imported["flow"]["name"] == "Renamed", "import v1 returns the new flow")
check(imported["flow"]["version"] == exported["flow"]["version"] + 1, "import bumps the version")
mgmt.flow.import_flow("copy", flow, exported["screens"])
mgmt.flow.delete_flows(["copy", "no-such-flow"])
check("copy" not in [f["id"] for f in mgmt.flow.list_flows()["flows"]], "flow delete")
expect_error(404, lambda: mgmt.flow.export_flow("no-such-flow"))

# Theme v1 through the SDK (the reply is wrapped, whatever the docstring says).
theme = mgmt.flow.export_theme()["theme"]
after = mgmt.flow.import_theme(dict(theme, cssTemplate={"light": {}}))["theme"]
check(after["version"] == theme["version"] + 1 and after["cssTemplate"] == {"light": {}}, "theme import")

# v2 flow and theme through the SDK's HTTP client.
http = mgmt.flow._http
v2 = http.post("/v2/mgmt/flow/export", body={"flowId": "sign-in"}).json()["flow"]
check(v2["flowId"] == "sign-in" and "contents" in v2 and "metadata" in v2, f"export v2: {list(v2)}")
v2["metadata"]["name"] = "Sign In (v2)"
http.post("/v2/mgmt/flow/import", body={"flow": v2})
check(mgmt.flow.export_flow("sign-in")["flow"]["name"] == "Sign In (v2)", "import v2")
styles = http.post("/v2/mgmt/theme/export", body={}).json()["theme"]
check("styles" in styles, "theme export v2")
http.post("/v2/mgmt/theme/import", body={"theme": dict(styles, styles={"dark": {}})})
check(mgmt.flow.export_theme()["theme"]["cssTemplate"] == {"dark": {}}, "theme import v2")

# FGA schema: PY saves it; it has no load, so the load goes through its HTTP client.
fresh = http.get("/v1/mgmt/fga/schema").json()
check(fresh["dsl"] == "" and "schema" in fresh and "version" in fresh, f"fga load before any save: {fresh}")
DSL = "model AuthZ 1.0\n\ntype user\n\ntype org\n  relation member: user\n"
mgmt.fga.save_schema(DSL)
loaded = http.get("/v1/mgmt/fga/schema").json()
check(loaded["dsl"] == DSL and loaded["version"] != fresh["version"], f"fga load after save: {loaded}")
mgmt.fga.save_schema(DSL + "  relation admin: user\n")
check(http.get("/v1/mgmt/fga/schema").json()["dsl"].endswith("admin: user\n"), "fga save replaces the schema")
expect_error(400, lambda: mgmt.fga.save_schema(""), "E011002")
# Access keys: create (cleartext once), load, search, partial update, deactivate/activate,
# rotate, batches, delete, 404.
from descope import AssociatedTenant  # noqa: E402

made = mgmt.access_key.create(
    "ci-bot", expire_time=0, role_names=["viewer"],
    key_tenants=[AssociatedTenant("acme", ["Tenant Admin"])],
    user_id="U123", custom_claims={"team": "ci"}, description="CI", permitted_ips=["10.0.0.0/8"],
)
key, first = made["key"], made["cleartext"]
check(key["id"].startswith("K") and len(key["id"]) == 28, f"access key id: {key['id']}")
check(isinstance(first, str) and len(first) > 20, "create returns a cleartext")
check(key["boundUserId"] == "U123" and "userId" not in key, f"userId reads back as boundUserId: {key}")
check(key["keyTenants"] == [{"tenantId": "acme", "tenantName": "Acme Inc", "roleNames": ["Tenant Admin"]}],
      f"keyTenants with tenantName: {key['keyTenants']}")
check(key["status"] == "active" and key["expireTime"] == 0, "new keys are active, 0 = never")
loaded = mgmt.access_key.load(key["id"])["key"]
check(loaded == key and "cleartext" not in mgmt.access_key.load(key["id"]), "load: the key, no cleartext")
check([k["id"] for k in mgmt.access_key.search_all_access_keys(["acme"])["keys"]] == [key["id"]], "search by tenant")
check(mgmt.access_key.search_all_access_keys(["no-such-tenant"])["keys"] == [], "search, no match")
mgmt.access_key.update(key["id"], "ci-bot", description="CI runner")
loaded = mgmt.access_key.load(key["id"])["key"]
check(loaded["description"] == "CI runner" and loaded["permittedIps"] == ["10.0.0.0/8"]
      and loaded["customClaims"] == {"team": "ci"}, f"update is partial: {loaded}")
mgmt.access_key.update(key["id"], "ci-bot", permitted_ips=["192.168.0.1"], custom_claims={})
loaded = mgmt.access_key.load(key["id"])["key"]
check(loaded["permittedIps"] == ["192.168.0.1"] and loaded["customClaims"] == {}
      and loaded["description"] == "CI runner", f"update replaces what it sends: {loaded}")
mgmt.access_key.deactivate(key["id"])
check(mgmt.access_key.load(key["id"])["key"]["status"] == "inactive", "deactivate")
mgmt.access_key.activate(key["id"])
check(mgmt.access_key.load(key["id"])["key"]["status"] == "active", "activate")
rotated = mgmt.access_key.rotate(key["id"])
check(rotated["cleartext"] != first and rotated["key"]["id"] == key["id"], "rotate issues a new cleartext")
other = mgmt.access_key.create("other")["key"]
mgmt.access_key.deactivate_batch([key["id"], other["id"]])
check({k["status"] for k in mgmt.access_key.search_all_access_keys([])["keys"]} == {"inactive"}, "deactivate batch")
mgmt.access_key.activate_batch([key["id"], other["id"]])
check({k["status"] for k in mgmt.access_key.search_all_access_keys([])["keys"]} == {"active"}, "activate batch")
expect_error(400, lambda: mgmt.access_key.create("bad", permitted_ips=["10.0.0.0/33"]))
expect_error(400, lambda: mgmt.access_key.create("bad", role_names=["no-such-role"]))
mgmt.access_key.delete(other["id"])
expect_error(404, lambda: mgmt.access_key.load(other["id"]))
expect_error(404, lambda: mgmt.access_key.delete(other["id"]))
mgmt.access_key.delete_batch([key["id"]])
check(mgmt.access_key.search_all_access_keys([])["keys"] == [], "delete batch")
# SSO applications (Descope as IdP): OIDC and SAML create (chosen and generated ids), load,
# update (a full override), load all, secret and rotate, delete, 404.
from descope.management.common import SAMLIDPAttributeMappingInfo, SAMLIDPGroupsMappingInfo, SAMLIDPRoleGroupMappingInfo

sa = mgmt.sso_application
check(sa.create_oidc_application("Portal", "https://portal.example/login", id="portal", description="d")["id"] == "portal", "sso app oidc create with id")
oidc = sa.load("portal")
check(oidc["appType"] == "oidc" and oidc["enabled"] is True and oidc["oidcSettings"]["loginPageUrl"] == "https://portal.example/login", f"sso app load: {oidc}")
check(oidc["oidcSettings"]["issuer"] and oidc["oidcSettings"]["clientId"], f"sso app server fields: {oidc}")
sa.update_oidc_application("portal", "Portal 2", "https://portal.example/login2")
oidc = sa.load("portal")
check(oidc["name"] == "Portal 2" and oidc["description"] == "", f"sso app update is a full override: {oidc}")
saml_id = sa.create_saml_application(
    "Wiki", "https://wiki.example/login", entity_id="wiki", acs_url="https://wiki.example/acs", certificate="cert",
    attribute_mapping=[SAMLIDPAttributeMappingInfo("email", "", "attrVal1")],
    groups_mapping=[SAMLIDPGroupsMappingInfo("grp1", "", "roles", "", [SAMLIDPRoleGroupMappingInfo("", "Tenant Admin")])],
)["id"]
check(saml_id.startswith("SA"), f"generated sso app id: {saml_id}")
saml = sa.load(saml_id)["samlSettings"]
check(saml["entityId"] == "wiki" and saml["attributeMapping"][0]["value"] == "attrVal1" and saml["groupsMapping"][0]["roles"][0]["name"] == "Tenant Admin", f"saml load: {saml}")
check(sorted(a["id"] for a in sa.load_all()["apps"]) == sorted(["portal", saml_id]), "sso app load all")
secret = sa.get_application_secret("portal")
check(secret and sa.get_application_secret("portal") == secret, "sso app secret, whenever asked")
check(sa.rotate_application_secret("portal") != secret, "sso app rotate")
expect_error(400, lambda: sa.create_oidc_application("Other", "https://x", id="portal"), "E011003")
sa.delete(saml_id)
expect_error(404, lambda: sa.load(saml_id))

# Third-party applications: create (id and secret), load, update (a full override), patch,
# load all (and GO's POST with page/limit), secret and rotate, delete, delete batch, 404.
tp = mgmt.third_party_application
created = tp.create("Partner", "https://partner.example/login", description="d", approved_callback_urls=["https://partner.example/cb"],
                    permissions_scopes=[{"name": "read", "description": "Read", "values": ["Tenant Admin"]}])
check(created["id"] and created["cleartext"], f"third party create: {list(created)}")
app = tp.load(created["id"])
check(app["name"] == "Partner" and app["clientId"] and app["permissionsScopes"][0]["values"] == ["Tenant Admin"], f"third party load: {app}")
tp.update(created["id"], "Partner 2", "https://partner.example/login")
app = tp.load(created["id"])
check(app["name"] == "Partner 2" and app["description"] == "" and app["approvedCallbackUrls"] == [], f"third party update is a full override: {app}")
tp.patch(created["id"], description="patched")
app = tp.load(created["id"])
check(app["name"] == "Partner 2" and app["description"] == "patched", f"third party patch is partial: {app}")
other = tp.create("Other", "https://other.example")["id"]
listed = tp.load_all()
check(listed["total"] == 2 and len(listed["apps"]) == 2, f"third party load all: {listed}")
page = http.post("/v1/mgmt/thirdparty/apps/load", body={"page": 1, "limit": 1}).json()
check(page["total"] == 2 and len(page["apps"]) == 1, f"third party load all, GO's POST: {page}")
check(tp.get_secret(created["id"])["cleartext"] == created["cleartext"], "third party secret")
check(tp.rotate_secret(created["id"])["cleartext"] != created["cleartext"], "third party rotate")
tp.delete(other)
expect_error(404, lambda: tp.load(other))
tp.delete_batch([created["id"]])
check(tp.load_all()["apps"] == [], "third party delete batch")

# Tenant SSO configurations (docs/descope-api.md §11). PY's configure and load reach only the
# default configuration; other ssoIds go through the SDK's HTTP client.
mgmt.tenant.create("SSO Co", "sso-co")
sso = mgmt.sso
empty = sso.load_settings("sso-co")
check(empty["saml"]["idpSSOUrl"] == "" and empty["tenant"]["authType"] == "none", f"unconfigured default: {empty}")
cert = "-----BEGIN CERTIFICATE-----\naGk=\n-----END CERTIFICATE-----"
sso.configure_saml_settings(
    "sso-co",
    SSOSAMLSettings(
        idp_url="https://idp.example.com/sso",
        idp_entity_id="idp-entity",
        idp_cert=cert,
        attribute_mapping=AttributeMapping(name="displayName", email="mail"),
        role_mappings=[RoleMapping(["admins"], "viewer")],
        default_sso_roles=["viewer"],
        disable_sign_request=True,
    ),
    redirect_url="https://app.example.com/done",
    domains=["sso-co.com"],
)
loaded = sso.load_settings("sso-co")
saml = loaded["saml"]
check(saml["idpSSOUrl"] == "https://idp.example.com/sso" and saml["idpEntityId"] == "idp-entity", f"saml load: {saml}")
check(saml["groupsMapping"][0]["role"]["name"] == "viewer" and saml["groupsMapping"][0]["groups"] == ["admins"],
      f"role mappings come back as groupsMapping: {saml['groupsMapping']}")
check(saml["defaultSSORoles"] == ["viewer"] and saml["redirectUrl"] == "https://app.example.com/done", "saml roles, redirect")
check(saml["spACSUrl"] != "" and saml["spCertificate"] != "", "Descope computes the service provider's values")
check(loaded["tenant"]["authType"] == "saml" and loaded["tenant"]["domains"] == ["sso-co.com"], "configure sets the tenant")
check(mgmt.tenant.load("sso-co")["authType"] == "saml", "the tenant itself shows SAML")
# Update: default_sso_roles=None keeps the stored roles; an empty list clears them.
sso.configure_saml_settings("sso-co", SSOSAMLSettings("https://idp2.example.com/sso", "idp-entity", cert))
check(sso.load_settings("sso-co")["saml"]["defaultSSORoles"] == ["viewer"], "unsent default roles are kept")
sso.configure_saml_settings("sso-co", SSOSAMLSettings("https://idp2.example.com/sso", "idp-entity", cert, default_sso_roles=[]))
check(sso.load_settings("sso-co")["saml"]["defaultSSORoles"] == [], "an empty list with replace clears them")
sso.configure_saml_settings_by_metadata("sso-co", SSOSAMLSettingsByMetadata("https://idp.example.com/metadata"))
check(sso.load_settings("sso-co")["saml"]["idpMetadataUrl"] == "https://idp.example.com/metadata", "saml by metadata")
expect_error(400, lambda: sso.configure_saml_settings_by_metadata("sso-co", SSOSAMLSettingsByMetadata("")), "E011002")
# OIDC: the secret is write-only.
sso.configure_oidc_settings(
    "sso-co",
    SSOOIDCSettings(name="Google", client_id="cid", client_secret="s3cret", scope=["openid"], use_pkce=True),
    domains=["sso-co.com"],
)
oidc = sso.load_settings("sso-co")["oidc"]
check(oidc["name"] == "Google" and oidc["clientId"] == "cid" and oidc["clientSecret"] == "", f"oidc load: {oidc}")
check(oidc["scope"] == ["openid"], "oidc scope")
# Several configurations per tenant: new, then configure and load through the HTTP client.
created = sso.new_settings("sso-co", "Second IdP", sso_id="second")
check(created["ssoId"] == "second", f"new settings: {created}")
expect_error(400, lambda: sso.new_settings("sso-co", "Again", sso_id="second"), "E011003")
expect_error(400, lambda: sso.new_settings("sso-co", ""), "E011002")
http = sso._http
http.post("/v1/mgmt/sso/saml", body={"tenantId": "sso-co", "ssoId": "second", "settings": {
    "idpUrl": "https://second.example.com", "entityId": "second", "idpCert": cert, "disableSignRequest": False}})
second = http.get("/v2/mgmt/sso/settings", params={"tenantId": "sso-co", "ssoId": "second"}).json()
check(second["ssoId"] == "second" and second["saml"]["idpSSOUrl"] == "https://second.example.com", f"load by ssoId: {second}")
all_settings = sso.load_all_settings("sso-co")["SSOSettings"]
check(sorted(c["ssoId"] for c in all_settings) == ["", "second"], f"load all: {[c['ssoId'] for c in all_settings]}")
expect_error(400, lambda: http.post("/v1/mgmt/sso/saml", body={"tenantId": "sso-co", "settings": {"idpUrl": "x"}}), "E011002")
sso.configure_auth_type("sso-co", "none", sso_id="second")
sso.configure_sso_redirect_url("sso-co", saml_redirect_url="https://app.example.com/saml", sso_id="second")
sso.recalculate_sso_mappings("sso-co", sso_id="second")
second = http.get("/v2/mgmt/sso/settings", params={"tenantId": "sso-co", "ssoId": "second"}).json()
check(second["tenant"]["authType"] == "none" and second["saml"]["redirectUrl"] == "https://app.example.com/saml",
      f"auth type and redirect: {second}")
sso.delete_settings("sso-co", sso_id="second")
expect_error(404, lambda: http.get("/v2/mgmt/sso/settings", params={"tenantId": "sso-co", "ssoId": "second"}))
expect_error(404, lambda: sso.delete_settings("sso-co", sso_id="second"))
sso.delete_settings("sso-co")
check(mgmt.tenant.load("sso-co")["authType"] == "none", "deleting the default resets the tenant")
expect_error(404, lambda: sso.load_settings("no-such-tenant"))

# A wrong key is a 401 with an errorCode.
wrong = DescopeClient(project_id=PROJECT, management_key="wrong-key", base_url=BASE)
expect_error(401, lambda: wrong.mgmt.tenant.load_all())

# The SDK's view of a rate limit: errorCode as status_code, Retry-After parsed.
if LIMITED:
    limited = DescopeClient(project_id=PROJECT, management_key=KEY, base_url=LIMITED)  # license: 1
    limited.mgmt.tenant.load_all()  # 2
    try:
        limited.mgmt.tenant.load_all()
        raise AssertionError("expected a rate limit")
    except RateLimitException as e:
        check(e.status_code == "E130429", f"rate limit status_code: {e.status_code}")
        retry = e.rate_limit_parameters.get("Retry-After")
        check(isinstance(retry, int) and 1 <= retry <= 60, f"Retry-After: {e.rate_limit_parameters}")

# Project (docs/descope-api.md §16): update then read back through the only read there is.
mgmt.project.update_name("Conformance")
mgmt.project.update_tags(["prod", "eu"])
projects = mgmt.project.list_projects()["projects"]
check([p["id"] for p in projects] == [PROJECT], f"projects/list lists the served project: {projects}")
check(projects[0]["name"] == "Conformance" and projects[0]["tags"] == ["prod", "eu"], f"project: {projects}")
mgmt.project.update_tags(["eu"])
check(mgmt.project.list_projects()["projects"][0]["tags"] == ["eu"], "tags are replaced")
expect_error(400, lambda: mgmt.project.update_name(""), "E011002")
expect_error(400, lambda: mgmt.project.update_tags([""]), "E011003")

# Outbound applications (docs/descope-api.md §19): create, load, update, load, delete, 404.
from descope.management.common import AccessType, PromptType, URLParam

outbound = mgmt.outbound_application
app = outbound.create_application(
    "Google",
    id="google",
    description="Calendar",
    client_id="cid",
    client_secret="shh",
    authorization_url="https://accounts.example.com/auth",
    authorization_url_params=[URLParam("hd", "example.com")],
    token_url="https://accounts.example.com/token",
    default_scopes=["calendar.read"],
    pkce=True,
    access_type=AccessType.OFFLINE,
    prompt=[PromptType.CONSENT],
)["app"]
check(app["id"] == "google" and app["name"] == "Google", f"outbound create: {app}")
check("clientSecret" not in app, "the client secret is write-only")
loaded = outbound.load_application("google")["app"]
check(loaded["authorizationUrlParams"] == [{"name": "hd", "value": "example.com"}], f"url params as sent: {loaded}")
check(loaded["accessType"] == "offline" and loaded["prompt"] == ["consent"] and loaded["pkce"] is True, f"{loaded}")
check("clientSecret" not in loaded, "load leaves the secret out")
updated = outbound.update_application("google", "Google Workspace", client_id="cid2")["app"]
check(updated["name"] == "Google Workspace", f"outbound update: {updated}")
loaded = outbound.load_application("google")["app"]
check(loaded["clientId"] == "cid2" and loaded["description"] == "", f"update is a full override: {loaded}")
check(loaded["defaultScopes"] == [] and loaded["pkce"] is False, f"update is a full override: {loaded}")
slack_id = outbound.create_application("Slack")["app"]["id"]
apps = outbound.load_all_applications()["apps"]
check(sorted(a["id"] for a in apps) == sorted(["google", slack_id]), f"outbound load all: {apps}")
expect_error(400, lambda: outbound.create_application("Slack"), "E011003")
outbound.delete_application("google")
expect_error(404, lambda: outbound.load_application("google"))
expect_error(404, lambda: outbound.delete_application("google"))

print(f"conformance: {checks} checks passed")
sys.exit(0)
