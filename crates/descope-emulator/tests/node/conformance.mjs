// The official Descope Node SDK (@descope/node-sdk, pinned in package.json) against the emulator:
// the calls of ../python/conformance.py, made the way the Node SDK makes them, with the results
// checked. Run by `cargo test -p descope-emulator --test emulator node_sdk_conformance`, which
// starts the emulator and passes:
//
//   EMULATOR_BASE_URL, EMULATOR_PROJECT_ID, EMULATOR_MANAGEMENT_KEY   a fresh emulator
//   EMULATOR_LIMITED_BASE_URL                                         one limited to 2 requests/60 s
//
// Where the Node SDK differs from the Python one (read in node_modules/@descope/node-sdk):
// - it never throws on an HTTP error: every call resolves to {ok, code, data, error}, where
//   `error` is the parsed error body and, on a 429, carries `retryAfter` from the header;
// - loadAll/search return the list itself, not {"tenants": [...]};
// - the license handshake is fire-and-forget, not synchronous, and its tier is sent as
//   `x-descope-license` once it has answered; there is no public license call;
// - by-id and batch calls: updateWithId/deleteWithId, permission deleteBatch(names, ids), role
//   deleteBatch(roleNames, tenantId, roleIds), batch updates address items by `id`;
// - tenants: createWithId, `parent` on create, `parentTenantId` in search, `cascade` on delete,
//   no patch; role create/update send `default`;
// - no v2 flow or theme methods: those go through the SDK's own HTTP client with the
//   management key as token, so they carry its headers and the same Authorization header.

import DescopeClient from '@descope/node-sdk';

const BASE = process.env.EMULATOR_BASE_URL;
const PROJECT = process.env.EMULATOR_PROJECT_ID;
const KEY = process.env.EMULATOR_MANAGEMENT_KEY;
const LIMITED = process.env.EMULATOR_LIMITED_BASE_URL;
const { invalidRequest, missingArguments } = DescopeClient.DescopeErrors;

let checks = 0;

function check(cond, what) {
  checks += 1;
  if (!cond) throw new Error(`check ${checks} failed: ${what}`);
}

const show = (v) => JSON.stringify(v);

/** The data of a call that must succeed. */
async function ok(call, what) {
  const resp = await call;
  check(resp.ok, `${what}: HTTP ${resp.code} ${show(resp.error)}`);
  return resp.data;
}

/** The error body of a call that must fail with `status` (and `code`, when given). */
async function expectError(status, call, what, code) {
  const resp = await call;
  check(!resp.ok && resp.code === status, `${what}: expected HTTP ${status}, got ${resp.code}`);
  check(typeof resp.error?.errorCode === 'string', `${what}: error without errorCode: ${show(resp.error)}`);
  if (code) check(resp.error.errorCode === code, `${what}: expected ${code}, got ${show(resp.error)}`);
  return resp.error;
}

/**
 * A client as an application builds one, plus SDK hooks that see each management request's
 * headers and tell when the fire-and-forget license handshake has been answered.
 */
function connect(baseUrl, managementKey) {
  let answered;
  const handshake = new Promise((resolve) => {
    answered = resolve;
  });
  const sent = [];
  const client = DescopeClient({
    projectId: PROJECT,
    managementKey,
    baseUrl,
    hooks: {
      beforeRequest: (config) => {
        sent.push({ path: config.path, license: config.headers?.['x-descope-license'] });
        return config;
      },
      afterRequest: (config, resp) => {
        if (config.path === '/v1/mgmt/license') answered(resp.status);
      },
    },
  });
  return { client, mgmt: client.management, handshake, sent };
}

/** A v2 call through the SDK's HTTP client: {ok, status, body}. */
async function raw(client, path, body) {
  const resp = await client.httpClient.post(path, body, { token: KEY });
  return { ok: resp.ok, status: resp.status, body: await resp.json() };
}

async function main() {
  const { client, mgmt, handshake, sent } = connect(BASE, KEY);

  // License handshake: answered, and its tier rides on later management calls (checked at the end).
  check((await handshake) === 200, 'license handshake answered 200');

  // Permissions, singly and in batches.
  let perms = await ok(mgmt.permission.loadAll(), 'permission loadAll');
  check(Array.isArray(perms), `loadAll returns the list: ${show(perms)}`);
  let byName = Object.fromEntries(perms.map((p) => [p.name, p]));
  for (const name of ['User Admin', 'SSO Admin', 'Impersonate']) {
    check(byName[name]?.systemDefault === true, `system permission ${name}`);
  }
  await ok(mgmt.permission.create('docs.read', 'Read documents'), 'permission create');
  await ok(
    mgmt.permission.createBatch([{ name: 'docs.write' }, { name: 'docs.delete', description: 'Delete' }]),
    'permission createBatch',
  );
  await ok(mgmt.permission.update('docs.read', 'docs.view'), 'permission update'); // description omitted: cleared
  byName = Object.fromEntries((await ok(mgmt.permission.loadAll(), 'loadAll')).map((p) => [p.name, p]));
  await ok(
    mgmt.permission.updateBatch([{ id: byName['docs.write'].id, newName: 'docs.edit', description: 'Edit' }]),
    'permission updateBatch by id',
  );
  byName = Object.fromEntries((await ok(mgmt.permission.loadAll(), 'loadAll')).map((p) => [p.name, p]));
  check(byName['docs.view']?.description === '', 'permission update is a full override');
  check(byName['docs.edit']?.description === 'Edit', 'permission batch update by id');
  check(!('docs.write' in byName), 'batch rename leaves no old name');
  check(byName['docs.view'].id.startsWith('PERM'), 'permission ids');
  await ok(mgmt.permission.updateWithId(byName['docs.view'].id, 'docs.read', 'Read again'), 'updateWithId');
  byName = Object.fromEntries((await ok(mgmt.permission.loadAll(), 'loadAll')).map((p) => [p.name, p]));
  check(byName['docs.read']?.description === 'Read again', 'permission update by id');
  await expectError(400, mgmt.permission.create('docs.read'), 'duplicate permission', invalidRequest);
  await expectError(404, mgmt.permission.delete('no-such-permission'), 'delete missing permission');
  await expectError(404, mgmt.permission.deleteWithId('PERMnosuchpermission'), 'delete missing permission id');

  // Tenants: create (with and without id, with a parent), load, update, search, settings.
  const created = await ok(
    mgmt.tenant.createWithId('acme', 'Acme', ['acme.com'], { plan: 'gold' }),
    'tenant createWithId',
  );
  check(created?.id === 'acme', `tenant create answers the id: ${show(created)}`);
  const generated = (await ok(mgmt.tenant.create('Globex'), 'tenant create')).id;
  check(/^T[0-9A-Za-z]{27}$/.test(generated), `generated tenant id ${generated}`);
  const child = (await ok(
    mgmt.tenant.create('Acme EU', ['eu.acme.com'], undefined, undefined, undefined, 'acme'),
    'tenant create with parent',
  )).id;
  let tenant = await ok(mgmt.tenant.load('acme'), 'tenant load');
  check(tenant.id === 'acme' && tenant.name === 'Acme', `load is unwrapped: ${show(tenant)}`);
  check(show(tenant.selfProvisioningDomains) === '["acme.com"]', 'domains');
  check(tenant.customAttributes?.plan === 'gold', 'custom attributes');
  check(Number.isInteger(tenant.createdTime), 'integer timestamps');
  check(show(tenant.successors) === show([child]), `successors: ${show(tenant.successors)}`);
  check((await ok(mgmt.tenant.load(child), 'load child')).parent === 'acme', 'child has its parent');
  await expectError(400, mgmt.tenant.createWithId('acme2', 'Acme'), 'duplicate tenant name', invalidRequest);
  await expectError(400, mgmt.tenant.create('Other', ['acme.com']), 'domain in two tenants', invalidRequest);
  await expectError(400, mgmt.tenant.create(''), 'tenant without a name', missingArguments);
  await expectError(404, mgmt.tenant.load('no-such-tenant'), 'load missing tenant');

  await ok(mgmt.tenant.update('acme', 'Acme Inc', ['acme.com'], undefined, undefined, true), 'tenant update');
  tenant = await ok(mgmt.tenant.load('acme'), 'load');
  check(tenant.name === 'Acme Inc' && tenant.disabled === true, `update: ${show(tenant)}`);
  check(show(tenant.customAttributes) === '{}', 'update is a full override');
  check(tenant.parent === '', 'root tenant has no parent');

  const all = await ok(mgmt.tenant.loadAll(), 'tenant loadAll');
  check(Array.isArray(all) && all.length === 3, `loadAll returns the list: ${all.length}`);
  const ids = (list) => list.map((t) => t.id).sort();
  check(show(ids(await ok(mgmt.tenant.searchAll(['acme']), 'search'))) === '["acme"]', 'search by id');
  check(show(ids(await ok(mgmt.tenant.searchAll(undefined, ['Acme Inc']), 'search'))) === '["acme"]', 'search by name');
  check(
    show(ids(await ok(mgmt.tenant.searchAll(undefined, undefined, ['acme.com']), 'search'))) === '["acme"]',
    'search by domain',
  );
  check(
    show(ids(await ok(mgmt.tenant.searchAll(undefined, undefined, undefined, undefined, 'acme'), 'search'))) ===
      show([child]),
    'search by parentTenantId',
  );
  check((await ok(mgmt.tenant.searchAll(), 'search')).length === 3, 'search without filters');

  // The wire names: NODE's TenantSettings type spells InactivityTime with a capital I
  // (docs/emulator.md); PY, GO and the server use inactivityTime.
  await ok(
    mgmt.tenant.configureSettings('acme', {
      selfProvisioningDomains: ['acme.com', 'acme.io'],
      enabled: true,
      sessionTokenExpiration: 30,
      sessionTokenExpirationUnit: 'minutes',
      enableInactivity: true,
      inactivityTime: 15,
      inactivityTimeUnit: 'minutes',
      authType: 'saml',
    }),
    'configureSettings',
  );
  let settings = await ok(mgmt.tenant.getSettings('acme'), 'getSettings');
  check(show(settings.selfProvisioningDomains) === '["acme.com","acme.io"]', `settings domains: ${show(settings)}`);
  check(settings.enabled === true && settings.sessionTokenExpiration === 30, 'settings values');
  check(settings.sessionTokenExpirationUnit === 'minutes', 'settings unit');
  check(settings.inactivityTime === 15 && settings.enableInactivity === true, 'inactivity settings');
  check(settings.authType === 'saml' && settings.JITDisabled === false, 'settings defaults');
  await ok(
    mgmt.tenant.configureSettings('acme', { selfProvisioningDomains: ['acme.com'], JITDisabled: true }),
    'configureSettings again',
  );
  settings = await ok(mgmt.tenant.getSettings('acme'), 'getSettings');
  check(settings.JITDisabled === true && settings.sessionTokenExpiration === 30, 'settings keys not sent are kept');
  check(show((await ok(mgmt.tenant.load('acme'), 'load')).selfProvisioningDomains) === '["acme.com"]',
    'settings domains are the tenant\'s');
  await expectError(404, mgmt.tenant.getSettings('no-such-tenant'), 'settings of a missing tenant');

  // Password settings: the project's ('' tenant) and a tenant's own, inherited until set. NODE's
  // PasswordSettings type spells `nonAlphaNumeric`; the wire name is `nonAlphanumeric`
  // (PY, GO), so the script sends the wire names.
  const projectPw = await ok(mgmt.password.getSettings(''), 'password getSettings');
  check(projectPw.enabled === true && projectPw.minLength === 8, `password defaults: ${show(projectPw)}`);
  await ok(
    mgmt.password.configureSettings('', { minLength: 12, nonAlphanumeric: true, lock: true, lockAttempts: 5 }),
    'password configureSettings (project)',
  );
  check((await ok(mgmt.password.getSettings('acme'), 'tenant password')).minLength === 12,
    'a tenant inherits the project\'s password settings');
  await ok(mgmt.password.configureSettings('acme', { minLength: 16 }), 'password configureSettings (tenant)');
  const tenantPw = await ok(mgmt.password.getSettings('acme'), 'tenant password');
  check(tenantPw.minLength === 16 && tenantPw.nonAlphanumeric === true, `tenant password: ${show(tenantPw)}`);
  check((await ok(mgmt.password.getSettings(''), 'password')).minLength === 12, 'project password unchanged');
  await expectError(404, mgmt.password.getSettings('no-such-tenant'), 'password of a missing tenant');

  // Lists. NODE loads by id and by name with the key in the path (`/v1/mgmt/list/<id>`,
  // `/v1/mgmt/list/name/<name>`), where PY sends `?id=` / `?name=`.
  const office = await ok(
    mgmt.list.create({ name: 'office ips', type: 'ips', description: 'Office', data: ['10.0.0.0/8'] }),
    'list create',
  );
  check(typeof office.id === 'string' && office.type === 'ips', `list create: ${show(office)}`);
  check((await ok(mgmt.list.load(office.id), 'list load')).name === 'office ips', 'list load (id in the path)');
  check((await ok(mgmt.list.loadByName('office ips'), 'list loadByName')).id === office.id,
    'list load by name (name in the path, percent-encoded)');
  await ok(mgmt.list.addIPs(office.id, ['192.168.0.1']), 'list addIPs');
  check((await ok(mgmt.list.checkIP(office.id, '192.168.0.1'), 'list checkIP')) === true, 'list checkIP');
  await ok(mgmt.list.update(office.id, { name: 'offices', type: 'ips', data: ['172.16.0.0/12'] }), 'list update');
  const updated = await ok(mgmt.list.load(office.id), 'list load');
  check(updated.description === '' && show(updated.data) === '["172.16.0.0/12"]', `list full override: ${show(updated)}`);
  check((await ok(mgmt.list.loadAll(), 'list loadAll')).some((l) => l.id === office.id), 'list loadAll');
  await expectError(400, mgmt.list.create({ name: 'bad', type: 'ips', data: ['300.0.0.1'] }), 'bad IP', 'E011003');
  await ok(mgmt.list.delete(office.id), 'list delete');
  await expectError(404, mgmt.list.load(office.id), 'deleted list');

  // Roles: project and tenant scope, default flag, batches, search.
  await ok(mgmt.role.create('viewer', 'Views', ['docs.read']), 'role create');
  await ok(mgmt.role.create('editor', undefined, ['docs.edit'], 'acme'), 'tenant role create');
  await ok(mgmt.role.create('approver', 'Approves', [], undefined, true), 'role create with default');
  const batch = await ok(
    mgmt.role.createBatch([{ name: 'auditor' }, { name: 'admin', permissionNames: ['docs.delete'] }]),
    'role createBatch',
  );
  check(Array.isArray(batch) && show(batch.map((r) => r.name)) === '["auditor","admin"]',
    `createBatch returns the roles: ${show(batch)}`);
  check(batch.every((r) => r.id.startsWith('ROL')), 'batch role ids');
  await ok(mgmt.role.update('viewer', 'viewer', undefined, ['docs.read', 'docs.edit']), 'role update');
  const renamed = await ok(
    mgmt.role.updateBatch([{ id: batch[0].id, newName: 'auditors', description: 'Audit' }]),
    'role updateBatch',
  );
  check(renamed?.[0]?.name === 'auditors' && renamed[0].description === 'Audit',
    `updateBatch returns the roles: ${show(renamed)}`);
  let roles = await ok(mgmt.role.loadAll(), 'role loadAll');
  const byKey = Object.fromEntries(roles.map((r) => [`${r.name}@${r.tenantId ?? ''}`, r]));
  check(byKey['viewer@']?.description === '', 'role update is a full override');
  check(show(byKey['viewer@'].permissionNames) === '["docs.read","docs.edit"]', 'role permissions');
  check(byKey['editor@acme']?.id.startsWith('ROL'), 'tenant role listed with its tenantId');
  check(byKey['approver@']?.default === true, 'default flag');
  check('Tenant Admin@' in byKey, 'built-in role');
  await ok(mgmt.role.updateWithId(byKey['auditors@'].id, 'auditors', 'By id'), 'role updateWithId');
  const names = (list) => list.map((r) => r.name).sort();
  check(show(names(await ok(mgmt.role.search({ tenantIds: ['acme'] }), 'search'))) === '["editor"]',
    'role search by tenant');
  const withProject = names(await ok(mgmt.role.search({ tenantIds: ['acme'], includeProjectRoles: true }), 'search'));
  check(withProject.includes('editor') && withProject.includes('viewer'), `includeProjectRoles: ${withProject}`);
  const like = await ok(mgmt.role.search({ roleNameLike: 'AUDIT' }), 'search');
  check(show(like.map((r) => r.description)) === '["By id"]', `role search like: ${show(like)}`);
  check(show(names(await ok(mgmt.role.search({ permissionNames: ['docs.delete'] }), 'search'))) === '["admin"]',
    'role search by permission');
  await expectError(400, mgmt.role.create('viewer'), 'duplicate role', invalidRequest);
  await expectError(400, mgmt.role.create('ghostly', undefined, ['no-such-permission']), 'unknown permission',
    invalidRequest);
  await expectError(404, mgmt.role.create('r', undefined, undefined, 'no-such-tenant'), 'role in missing tenant');

  await ok(mgmt.tenant.updateDefaultRoles('acme', ['viewer']), 'updateDefaultRoles');
  check(show((await ok(mgmt.tenant.load('acme'), 'load')).defaultRoles) === '["viewer"]', 'default roles');

  await ok(mgmt.role.delete('editor', 'acme'), 'tenant role delete');
  await expectError(404, mgmt.role.delete('editor', 'acme'), 'delete a deleted role');
  await ok(mgmt.role.deleteWithId(byKey['admin@'].id), 'role deleteWithId');
  await ok(mgmt.role.deleteBatch(['auditors']), 'role deleteBatch by name');
  await ok(mgmt.role.create('temp'), 'role create');
  const temp = (await ok(mgmt.role.search({ roleNames: ['temp'] }), 'search'))[0];
  await ok(mgmt.role.deleteBatch(undefined, undefined, [temp.id]), 'role deleteBatch by id');
  await ok(mgmt.role.create('local', undefined, undefined, 'acme'), 'tenant role create');
  await ok(mgmt.role.deleteBatch(['local'], 'acme'), 'tenant role deleteBatch');
  roles = await ok(mgmt.role.loadAll(), 'loadAll');
  check(show(names(roles)) === '["Tenant Admin","approver","viewer"]', `roles after deletes: ${names(roles)}`);
  await ok(mgmt.permission.delete('docs.delete'), 'permission delete');
  await ok(mgmt.permission.deleteBatch(['docs.edit']), 'permission deleteBatch by name');
  await ok(mgmt.permission.deleteBatch(undefined, [byName['docs.read'].id]), 'permission deleteBatch by id');
  perms = await ok(mgmt.permission.loadAll(), 'loadAll');
  check(show(names(perms)) === '["Impersonate","SSO Admin","User Admin"]', `permissions after deletes: ${names(perms)}`);
  const viewer = (await ok(mgmt.role.loadAll(), 'loadAll')).find((r) => r.name === 'viewer');
  check(show(viewer.permissionNames) === '[]', 'deleted permissions leave the roles');

  // Tenant deletes: children first (strict refuses a parent with sub-tenants), with cascade.
  await ok(mgmt.role.create('local', undefined, undefined, 'acme'), 'tenant role create');
  await expectError(400, mgmt.tenant.delete('acme'), 'delete a parent', invalidRequest);
  await ok(mgmt.tenant.delete(child, true), 'tenant delete with cascade');
  await ok(mgmt.tenant.delete('acme', true), 'parent delete with cascade');
  await expectError(404, mgmt.tenant.load('acme'), 'deleted tenant');
  roles = await ok(mgmt.role.loadAll(), 'loadAll');
  check(!roles.some((r) => r.tenantId === 'acme'), 'a tenant\'s roles go with it');
  await ok(mgmt.tenant.delete(generated), 'tenant delete');
  await expectError(404, mgmt.tenant.delete(generated), 'delete a deleted tenant');
  check((await ok(mgmt.tenant.loadAll(), 'loadAll')).length === 0, 'no tenants left');

  // Flows, v1 through the SDK.
  const flows = await ok(mgmt.flow.list(), 'flow list');
  const flowIds = flows.flows.map((f) => f.id);
  check(flows.total === flowIds.length && flowIds.includes('sign-up-or-in'), `flow list: ${flowIds}`);
  const exported = await ok(mgmt.flow.export('sign-up-or-in'), 'flow export');
  check(exported.flow.name && exported.screens.length > 1, 'export v1 has a name and screens');
  const flow = { ...exported.flow, name: 'Renamed' };
  const imported = await ok(mgmt.flow.import('sign-up-or-in', flow, exported.screens), 'flow import');
  check(imported.flow.name === 'Renamed', 'import v1 returns the new flow');
  check(imported.flow.version === exported.flow.version + 1, 'import bumps the version');
  check(imported.screens.length === exported.screens.length, 'import keeps the screens');
  await ok(mgmt.flow.import('copy', flow, exported.screens), 'flow import new');
  check((await ok(mgmt.flow.export('copy'), 'export')).flow.name === 'Renamed', 'import creates a flow');
  await ok(mgmt.flow.delete(['copy', 'no-such-flow']), 'flow delete');
  check(!(await ok(mgmt.flow.list(), 'list')).flows.some((f) => f.id === 'copy'), 'flow delete');
  await expectError(404, mgmt.flow.export('no-such-flow'), 'export missing flow');

  // Theme v1 through the SDK.
  const theme = (await ok(mgmt.theme.export(), 'theme export')).theme;
  check(theme && 'cssTemplate' in theme, `theme export is wrapped: ${show(theme)}`);
  const after = (await ok(mgmt.theme.import({ ...theme, cssTemplate: { light: {} } }), 'theme import')).theme;
  check(after.version === theme.version + 1 && show(after.cssTemplate) === '{"light":{}}', 'theme import');

  // v2 flow and theme through the SDK's HTTP client.
  let r = await raw(client, '/v2/mgmt/flow/export', { flowId: 'sign-in' });
  check(r.ok, `export v2: ${r.status} ${show(r.body)}`);
  const v2 = r.body.flow;
  check(v2.flowId === 'sign-in' && 'contents' in v2 && 'metadata' in v2, `export v2: ${Object.keys(v2)}`);
  v2.metadata.name = 'Sign In (v2)';
  check((await raw(client, '/v2/mgmt/flow/import', { flow: v2 })).ok, 'import v2');
  check((await ok(mgmt.flow.export('sign-in'), 'export')).flow.name === 'Sign In (v2)', 'v2 import seen by v1');
  r = await raw(client, '/v2/mgmt/theme/export', {});
  check(r.ok && 'styles' in r.body.theme, `theme export v2: ${show(r.body)}`);
  check((await raw(client, '/v2/mgmt/theme/import', { theme: { ...r.body.theme, styles: { dark: {} } } })).ok,
    'theme import v2');
  check(show((await ok(mgmt.theme.export(), 'export')).theme.cssTemplate) === '{"dark":{}}', 'theme v2 seen by v1');
  // FGA schema: save, load, save again (a full replacement), load; an empty DSL is refused.
  const DSL = 'model AuthZ 1.0\n\ntype user\n\ntype org\n  relation member: user\n';
  await ok(mgmt.fga.saveSchema({ dsl: DSL }), 'fga saveSchema');
  let fga = await ok(mgmt.fga.loadSchema(), 'fga loadSchema');
  check(fga.dsl === DSL && 'version' in fga, `fga loadSchema: ${show(fga)}`);
  await ok(mgmt.fga.saveSchema({ dsl: `${DSL}  relation admin: user\n` }), 'fga saveSchema again');
  fga = await ok(mgmt.fga.loadSchema(), 'fga loadSchema');
  check(fga.dsl.endsWith('admin: user\n'), `fga save replaces the schema: ${show(fga)}`);
  await expectError(400, mgmt.fga.saveSchema({ dsl: '' }), 'fga empty dsl', 'E011002');
  r = await raw(client, '/v1/mgmt/no-such-endpoint', {});
  check(r.status === 404 && typeof r.body.errorCode === 'string', `unknown endpoint: ${r.status} ${show(r.body)}`);

  // Project (docs/descope-api.md §16): update then read back through projects/list.
  {
    await ok(mgmt.project.updateName('Conformance (node)'), 'project updateName');
    await ok(mgmt.project.updateTags(['prod', 'eu']), 'project updateTags');
    let projects = await ok(mgmt.project.listProjects(), 'listProjects');
    check(projects.length === 1 && projects[0].id === PROJECT, `projects/list: ${show(projects)}`);
    check(projects[0].name === 'Conformance (node)' && show(projects[0].tags) === '["prod","eu"]',
      `project: ${show(projects)}`);
    await expectError(400, mgmt.project.updateName(''), 'empty project name', missingArguments);
    await expectError(400, mgmt.project.updateTags(['']), 'empty tag', invalidRequest);
  }

  // Outbound applications (docs/descope-api.md §19): create, load, update, load, delete, 404.
  {
    const outbound = mgmt.outboundApplication;
    const created = await ok(outbound.createApplication({
      id: 'google', name: 'Google', description: 'Calendar', clientId: 'cid', clientSecret: 'shh',
      tokenUrl: 'https://accounts.example.com/token', tokenUrlParams: [{ key: 'aud', value: 'x' }],
      defaultScopes: ['calendar.read'], pkce: true, accessType: 'offline', prompt: ['consent'],
    }), 'outbound createApplication');
    check(created.id === 'google' && !('clientSecret' in created), `outbound create: ${show(created)}`);
    let app = await ok(outbound.loadApplication('google'), 'outbound loadApplication');
    check(show(app.tokenUrlParams) === '[{"key":"aud","value":"x"}]', `url params as sent: ${show(app)}`);
    check(app.accessType === 'offline' && app.pkce === true && !('clientSecret' in app), `load: ${show(app)}`);
    const updated = await ok(outbound.updateApplication({ id: 'google', name: 'Google Workspace' }),
      'outbound updateApplication');
    check(updated.name === 'Google Workspace', `outbound update: ${show(updated)}`);
    app = await ok(outbound.loadApplication('google'), 'outbound loadApplication');
    check(app.clientId === '' && show(app.defaultScopes) === '[]', `update is a full override: ${show(app)}`);
    const apps = await ok(outbound.loadAllApplications(), 'outbound loadAllApplications');
    check(apps.map((a) => a.id).includes('google'), `outbound load all: ${show(apps)}`);
    await ok(outbound.deleteApplication('google'), 'outbound deleteApplication');
    await expectError(404, outbound.loadApplication('google'), 'deleted outbound app');
  }
  // Access keys: create (cleartext once), load, searchAll, partial update (NODE sends roleNames
  // and keyTenants too, like GO), deactivate/activate, rotate, batches, delete, 404.
  await ok(mgmt.tenant.createWithId('keys-t', 'Keys Tenant'), 'tenant for keys');
  const made = await ok(
    mgmt.accessKey.create('ci-bot', 0, ['Tenant Admin'], [{ tenantId: 'keys-t', roleNames: ['Tenant Admin'] }],
      'U123', { team: 'ci' }, 'CI', ['10.0.0.0/8']),
    'access key create',
  );
  const ak = made.key;
  check(ak.id.startsWith('K') && ak.id.length === 28, `access key id: ${ak.id}`);
  check(typeof made.cleartext === 'string' && made.cleartext.length > 20, 'create returns a cleartext');
  check(ak.boundUserId === 'U123' && !('userId' in ak), `boundUserId: ${show(ak)}`);
  const kt = ak.keyTenants?.[0];
  check(ak.keyTenants.length === 1 && kt.tenantId === 'keys-t' && kt.tenantName === 'Keys Tenant'
    && show(kt.roleNames) === '["Tenant Admin"]', `keyTenants: ${show(ak.keyTenants)}`);
  check(ak.status === 'active' && ak.expireTime === 0, 'new keys are active, 0 = never');
  check(show(await ok(mgmt.accessKey.load(ak.id), 'access key load')) === show(ak), 'load');
  check(show((await ok(mgmt.accessKey.searchAll(['keys-t']), 'searchAll')).map((k) => k.id)) === show([ak.id]),
    'search by tenant');
  await ok(mgmt.accessKey.update(ak.id, 'ci-bot', 'CI runner'), 'access key update');
  let akNow = await ok(mgmt.accessKey.load(ak.id), 'load');
  check(akNow.description === 'CI runner' && show(akNow.permittedIps) === '["10.0.0.0/8"]'
    && show(akNow.roleNames) === '["Tenant Admin"]', `update is partial: ${show(akNow)}`);
  await ok(mgmt.accessKey.update(ak.id, 'ci-bot', undefined, [], undefined, undefined, ['192.168.0.1']), 'update');
  akNow = await ok(mgmt.accessKey.load(ak.id), 'load');
  check(show(akNow.roleNames) === '[]' && show(akNow.permittedIps) === '["192.168.0.1"]'
    && akNow.keyTenants.length === 1, `update replaces what it sends: ${show(akNow)}`);
  await ok(mgmt.accessKey.deactivate(ak.id), 'deactivate');
  check((await ok(mgmt.accessKey.load(ak.id), 'load')).status === 'inactive', 'deactivate');
  await ok(mgmt.accessKey.activate(ak.id), 'activate');
  check((await ok(mgmt.accessKey.load(ak.id), 'load')).status === 'active', 'activate');
  const rotated = await ok(mgmt.accessKey.rotate(ak.id), 'rotate');
  check(rotated.cleartext !== made.cleartext && rotated.key.id === ak.id, 'rotate issues a new cleartext');
  const other = (await ok(mgmt.accessKey.create('other', 0), 'create')).key;
  await ok(mgmt.accessKey.deactivateBatch([ak.id, other.id]), 'deactivateBatch');
  check((await ok(mgmt.accessKey.searchAll([]), 'searchAll')).every((k) => k.status === 'inactive'),
    'deactivate batch');
  await ok(mgmt.accessKey.activateBatch([ak.id, other.id]), 'activateBatch');
  await expectError(400, mgmt.accessKey.create('bad', 0, undefined, undefined, undefined, undefined, undefined,
    ['10.0.0.0/33']), 'bad permitted IP');
  await ok(mgmt.accessKey.delete(other.id), 'access key delete');
  await expectError(404, mgmt.accessKey.load(other.id), 'deleted access key');
  await ok(mgmt.accessKey.deleteBatch([ak.id]), 'deleteBatch');
  check((await ok(mgmt.accessKey.searchAll(), 'searchAll')).length === 0, 'delete batch');

  // The handshake's tier went out on the management calls made after it had answered.
  const last = sent.filter((s) => s.path.startsWith('/v1/mgmt/tenant')).pop();
  check(last?.license === 'tier1', `x-descope-license after the handshake: ${show(last)}`);

  // SSO applications (Descope as IdP): OIDC and SAML create (chosen and generated ids), load,
  // update (a full override), loadAll (the list itself), secret and rotate, delete, 404.
  const sa = mgmt.ssoApplication;
  const portal = await ok(sa.createOidcApplication({ id: 'portal', name: 'Portal', loginPageUrl: 'https://p.example/login', description: 'd' }), 'sso app oidc create');
  check(portal.id === 'portal', `sso app create with id: ${show(portal)}`);
  let oidc = await ok(sa.load('portal'), 'sso app load');
  check(oidc.appType === 'oidc' && oidc.enabled === true && oidc.oidcSettings.clientId, `sso app load: ${show(oidc)}`);
  await ok(sa.updateOidcApplication({ id: 'portal', name: 'Portal 2', loginPageUrl: 'https://p.example/login' }), 'sso app oidc update');
  oidc = await ok(sa.load('portal'), 'sso app load');
  check(oidc.name === 'Portal 2' && oidc.description === '', `sso app update is a full override: ${show(oidc)}`);
  const wiki = await ok(sa.createSamlApplication({
    name: 'Wiki', loginPageUrl: 'https://w.example/login', useMetadataInfo: true, metadataUrl: 'https://w.example/md',
    attributeMapping: [{ name: 'email', type: '', value: 'v' }],
  }), 'sso app saml create');
  check(wiki.id.startsWith('SA'), `generated sso app id: ${show(wiki)}`);
  await ok(sa.updateSamlApplication({ id: wiki.id, name: 'Wiki', loginPageUrl: 'https://w.example/login', entityId: 'wiki', acsUrl: 'https://w.example/acs', certificate: 'c' }), 'sso app saml update');
  const saml = (await ok(sa.load(wiki.id), 'sso app load')).samlSettings;
  check(saml.entityId === 'wiki' && saml.useMetadataInfo === false && saml.attributeMapping.length === 0, `saml update is a full override: ${show(saml)}`);
  const apps = await ok(sa.loadAll(), 'sso app loadAll');
  check(Array.isArray(apps) && apps.length === 2, `sso app loadAll: ${show(apps)}`);
  const secret = (await ok(sa.getApplicationSecret('portal'), 'sso app secret')).cleartext;
  check(secret && (await ok(sa.rotateApplicationSecret('portal'), 'sso app rotate')).cleartext !== secret, 'sso app rotate');
  await expectError(400, sa.createOidcApplication({ id: 'portal', name: 'Other', loginPageUrl: 'https://x' }), 'duplicate sso app id', invalidRequest);
  await ok(sa.delete(wiki.id), 'sso app delete');
  await expectError(404, sa.load(wiki.id), 'deleted sso app');

  // Third-party applications (the SDK's `inboundApplication`): create (id, client id, secret),
  // load, update (a full override), patch, loadAll, secret and rotate, delete, deleteBatch, 404.
  const tp = mgmt.inboundApplication;
  const partner = await ok(tp.createApplication({
    name: 'Partner', loginPageUrl: 'https://partner.example/login', description: 'd',
    permissionsScopes: [{ name: 'read', description: 'Read', values: ['Tenant Admin'] }],
  }), 'third party create');
  check(partner.id && partner.clientId && partner.cleartext, `third party create: ${Object.keys(partner)}`);
  let app = await ok(tp.loadApplication(partner.id), 'third party load');
  check(app.name === 'Partner' && app.clientId === partner.clientId, `third party load: ${show(app)}`);
  await ok(tp.updateApplication({ id: partner.id, name: 'Partner 2', permissionsScopes: [] }), 'third party update');
  app = await ok(tp.loadApplication(partner.id), 'third party load');
  check(app.name === 'Partner 2' && app.description === '' && app.loginPageUrl === '', `third party update is a full override: ${show(app)}`);
  await ok(tp.patchApplication({ id: partner.id, description: 'patched' }), 'third party patch');
  app = await ok(tp.loadApplication(partner.id), 'third party load');
  check(app.name === 'Partner 2' && app.description === 'patched', `third party patch is partial: ${show(app)}`);
  const otherApp = await ok(tp.createApplication({ name: 'Other', permissionsScopes: [] }), 'third party create');
  check((await ok(tp.loadAllApplications(), 'third party loadAll')).length === 2, 'third party loadAll');
  check((await ok(tp.getApplicationSecret(partner.id), 'third party secret')).cleartext === partner.cleartext, 'third party secret');
  await ok(tp.rotateApplicationSecret(partner.id), 'third party rotate');
  check((await ok(tp.getApplicationSecret(partner.id), 'third party secret')).cleartext !== partner.cleartext, 'third party rotated');
  await ok(tp.deleteApplication(otherApp.id), 'third party delete');
  await expectError(404, tp.loadApplication(otherApp.id), 'deleted third party app');
  await ok(tp.deleteApplicationBatch([partner.id]), 'third party deleteBatch');
  check((await ok(tp.loadAllApplications(), 'third party loadAll')).length === 0, 'third party deleteBatch');

  // Tenant SSO configurations (docs/descope-api.md §11). Node addresses every ssoId itself, and
  // never sends disableSignRequest (like GO).
  await ok(mgmt.tenant.createWithId('sso-co', 'SSO Co'), 'sso tenant');
  await ok(mgmt.role.create('sso-viewer'), 'sso role');
  const sso = mgmt.sso;
  const cert = '-----BEGIN CERTIFICATE-----\naGk=\n-----END CERTIFICATE-----';
  let loaded = await ok(sso.loadSettings('sso-co'), 'load unconfigured default');
  check(loaded.saml.idpSSOUrl === '' && loaded.tenant.authType === 'none', `unconfigured default: ${show(loaded)}`);
  await ok(
    sso.configureSAMLSettings(
      'sso-co',
      {
        idpUrl: 'https://idp.example.com/sso',
        entityId: 'idp-entity',
        idpCert: cert,
        roleMappings: [{ groups: ['admins'], roleName: 'sso-viewer' }],
        attributeMapping: { name: 'displayName' },
        defaultSSORoles: ['sso-viewer'],
      },
      'https://app.example.com/done',
      ['sso-co.com'],
    ),
    'configure saml',
  );
  loaded = await ok(sso.loadSettings('sso-co'), 'load saml');
  check(loaded.saml.idpSSOUrl === 'https://idp.example.com/sso', `saml load: ${show(loaded.saml)}`);
  check(loaded.saml.groupsMapping[0].roleName === 'sso-viewer', `groupsMapping: ${show(loaded.saml.groupsMapping)}`);
  check(show(loaded.saml.defaultSSORoles) === '["sso-viewer"]', 'default sso roles');
  check(loaded.tenant.authType === 'saml' && show(loaded.tenant.domains) === '["sso-co.com"]', 'tenant set');
  // An update without defaultSSORoles keeps them.
  await ok(
    sso.configureSAMLSettings('sso-co', { idpUrl: 'https://idp2.example.com', entityId: 'e2', idpCert: cert }),
    'update saml',
  );
  loaded = await ok(sso.loadSettings('sso-co'), 'load saml');
  check(loaded.saml.idpSSOUrl === 'https://idp2.example.com', 'saml replaced');
  check(show(loaded.saml.defaultSSORoles) === '["sso-viewer"]', 'unsent default roles are kept');
  await ok(
    sso.configureSAMLByMetadata('sso-co', { idpMetadataUrl: 'https://idp.example.com/metadata' }),
    'configure metadata',
  );
  loaded = await ok(sso.loadSettings('sso-co'), 'load metadata');
  check(loaded.saml.idpMetadataUrl === 'https://idp.example.com/metadata', 'saml by metadata');
  await expectError(400, sso.configureSAMLByMetadata('sso-co', {}), 'metadata url required', missingArguments);
  await ok(
    sso.configureOIDCSettings('sso-co', { name: 'Google', clientId: 'cid', clientSecret: 's3cret', scope: ['openid'] }),
    'configure oidc',
  );
  loaded = await ok(sso.loadSettings('sso-co'), 'load oidc');
  check(loaded.oidc.clientId === 'cid' && loaded.oidc.clientSecret === '', `oidc secret is write-only: ${show(loaded.oidc)}`);
  // A second configuration: new, configure, load, load all, the small calls, delete, 404.
  const second = await ok(sso.newSettings('sso-co', 'second', 'Second IdP'), 'new settings');
  check(second.ssoId === 'second', `new settings: ${show(second)}`);
  await expectError(400, sso.newSettings('sso-co', 'second', 'Again'), 'duplicate ssoId', invalidRequest);
  await ok(
    sso.configureOIDCSettings('sso-co', { name: 'Okta', clientId: 'okta-cid' }, ['second.com'], 'second'),
    'configure second',
  );
  loaded = await ok(sso.loadSettings('sso-co', 'second'), 'load second');
  check(loaded.oidc.name === 'Okta' && show(loaded.tenant.domains) === '["second.com"]', `second: ${show(loaded)}`);
  const allSso = await ok(sso.loadAllSettings('sso-co'), 'load all');
  check(show(allSso.map((c) => c.ssoId).sort()) === '["","second"]', `load all: ${show(allSso.map((c) => c.ssoId))}`);
  await ok(sso.configureSSORedirectURL('sso-co', undefined, 'https://app.example.com/oauth', 'second'), 'redirect');
  await ok(sso.recalculateSSOMappings('sso-co', 'second'), 'recalculate');
  check((await ok(sso.loadSettings('sso-co', 'second'), 'load')).oidc.redirectUrl === 'https://app.example.com/oauth',
    'redirect url');
  await ok(sso.deleteSettings('sso-co', 'second'), 'delete second');
  await expectError(404, sso.loadSettings('sso-co', 'second'), 'deleted configuration');
  await ok(sso.deleteSettings('sso-co'), 'delete default');
  check((await ok(mgmt.tenant.load('sso-co'), 'tenant')).authType === 'none', 'deleting the default resets the tenant');
  await expectError(404, sso.loadSettings('no-such-tenant'), 'unknown tenant');

  // A wrong key: the handshake fails quietly (the SDK carries on), and calls are 401.
  const wrong = connect(BASE, 'wrong-key');
  check((await wrong.handshake) === 401, 'handshake with a wrong key is 401');
  await expectError(401, wrong.mgmt.tenant.loadAll(), 'wrong key');

  // The SDK's view of a rate limit: a 429 whose error carries the errorCode and Retry-After.
  if (LIMITED) {
    const limited = connect(LIMITED, KEY);
    check((await limited.handshake) === 200, 'limited handshake'); // request 1
    await ok(limited.mgmt.tenant.loadAll(), 'second request'); // 2
    const err = await expectError(429, limited.mgmt.tenant.loadAll(), 'rate limit', 'E130429');
    check(Number.isInteger(err.retryAfter) && err.retryAfter >= 1 && err.retryAfter <= 60,
      `retryAfter: ${show(err)}`);
  }

  console.log(`conformance (node): ${checks} checks passed`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`conformance (node) FAILED: ${e.stack ?? e}`);
    process.exit(1);
  },
);
