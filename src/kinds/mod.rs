//! Resource kinds: everything the engine knows about one kind of Descope object lives in that
//! kind's module, behind the [`ResourceKind`] trait (the shape of Terraform's plugin framework:
//! a resource is its schema plus create, read, update, delete and import).
//!
//! A kind owns: its config section → typed spec (`desired`); live JSON → typed spec (`live`);
//! the managed fields it compares (`Spec::fields`); what it refers to and what unique values it
//! claims; the exact operation a create, update or delete sends (`create_op`, `update_op`,
//! `delete_op`, read-modify-write for full-override endpoints); whether it batches; how to read
//! one object back; and how it is written back to a config (`export`). The engine — diff,
//! ordering, plan file, executor, journal, drift, backup/restore, export — only iterates over
//! [`all`] and never matches on a kind.
//!
//! Adding a kind: one new module here and one line in [`all`]
//! (docs/adding-a-resource-kind.md).

pub mod access_key;
pub mod default_roles;
pub mod document;
pub mod entries;
pub mod fga_schema;
pub mod fields;
pub mod flow;
pub mod list;
pub mod outbound_app;
pub mod password_policy;
pub mod per_tenant;
pub mod permission;
pub mod project;
pub mod role;
pub mod sso_app;
pub mod tenant;
pub mod tenant_settings;
pub mod tenant_sso;
pub mod theme;
pub mod third_party_app;

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::api::gateway::Gateway;
use crate::api::ApiError;
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{LiveGraph, LiveSnapshot};
use crate::resource::{DesiredResource, LiveResource};

/// Managed fields by their config names; a field a side does not know is absent.
pub type Fields = BTreeMap<&'static str, Value>;

/// One resource's managed content. Each kind has its own typed spec; the engine sees only the
/// fields it compares, and the kind gets its own type back with [`spec_of`].
pub trait Spec: fmt::Debug + Send + Sync + Any {
    /// The fields this spec knows, under the config's field names. Unmanaged or unknown fields
    /// are absent, so comparing two views compares only what both sides know.
    fn fields(&self) -> Fields;
}

/// The kind's own spec type behind a `dyn Spec` (a kind only ever asks for its own type).
pub fn spec_of<T: Spec>(spec: &dyn Spec) -> Option<&T> {
    // Trait upcasting: `Spec: Any`, so a `&dyn Spec` is a `&dyn Any`.
    let any: &dyn Any = spec;
    any.downcast_ref::<T>()
}

/// The form and normalized content of a document kind's spec (flows, the theme), for the
/// commands that read or compare documents by form.
pub fn document(spec: &dyn Spec) -> Option<(crate::resource::DocForm, &Value)> {
    spec_of::<document::DocumentSpec>(spec).map(|d| (d.form, &d.document))
}

/// How one resource relates to another, for ordering and for what a delete takes along.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// Needs the target to exist (created after it, deleted before it); Descope does not
    /// refuse deleting the target first (a role's permission).
    Uses(Address),
    /// Lives inside the target: Descope deletes it with the target (a tenant's roles).
    OwnedBy(Address),
    /// A child the target cannot be deleted or replaced without (a sub-tenant's parent).
    ChildOf(Address),
    /// Needs the first of these that exists (a default role: the tenant's role of that name,
    /// else the project role).
    UsesOneOf(Vec<Address>),
}

impl Reference {
    /// Every address this reference may point at.
    pub fn targets(&self) -> &[Address] {
        match self {
            Reference::Uses(a) | Reference::OwnedBy(a) | Reference::ChildOf(a) => {
                std::slice::from_ref(a)
            }
            Reference::UsesOneOf(v) => v,
        }
    }
}

/// What reading live objects needs to know about the plan or command at hand.
#[derive(Debug, Clone, Default)]
pub struct ReadScope {
    /// Addresses the config names or state.json manages (documents are exported only for
    /// these).
    pub addresses: Vec<Address>,
    /// The form (`v1`/`v2`) of each configured document, so live exports compare like for like.
    pub forms: BTreeMap<Address, crate::resource::DocForm>,
    /// Read everything the kind has, for `export` (e.g. every flow's document).
    pub everything: bool,
    /// Kinds to list even when no address of theirs is named (`list flows`: the list only,
    /// no documents).
    pub kinds: Vec<Kind>,
}

impl ReadScope {
    /// What a plan or apply over these addresses needs.
    pub fn for_addresses<'a>(
        addresses: impl IntoIterator<Item = &'a Address>,
        forms: &BTreeMap<Address, crate::resource::DocForm>,
    ) -> ReadScope {
        // The config and state.json mostly name the same addresses: each once.
        let addresses: std::collections::BTreeSet<&Address> = addresses.into_iter().collect();
        ReadScope {
            addresses: addresses.into_iter().cloned().collect(),
            forms: forms.clone(),
            everything: false,
            kinds: Vec::new(),
        }
    }

    /// Everything every kind has (`export`).
    pub fn everything() -> ReadScope {
        ReadScope {
            everything: true,
            ..ReadScope::default()
        }
    }

    pub fn names_kind(&self, kind: Kind) -> bool {
        self.everything
            || self.kinds.contains(&kind)
            || self.addresses.iter().any(|a| a.kind() == kind)
    }
}

/// What a kind's live read works with: the gateway to Descope and the snapshot it fills.
pub struct LiveRead<'a> {
    pub gateway: &'a Gateway,
    pub snapshot: &'a mut LiveSnapshot,
}

impl<'a> LiveRead<'a> {
    pub fn new(gateway: &'a Gateway, snapshot: &'a mut LiveSnapshot) -> Self {
        LiveRead { gateway, snapshot }
    }
}

/// Boxed future of a kind's live read (the trait stays object-safe).
pub type ReadFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>> + Send + 'a>>;

/// Values that must be unique in a project (a tenant's name, a self-provisioning domain): the
/// planner orders releases before claims and refuses a claim nobody releases.
pub type Claim = String;

/// What a kind is called and what it manages.
pub struct KindInfo {
    pub kind: Kind,
    /// Heading used when output is grouped by kind.
    pub plural: &'static str,
    /// The fields `ignore_changes` may name: the config's names of the fields this kind
    /// manages (the planner skips exactly these when diffing and writing).
    pub managed_fields: &'static [&'static str],
    /// One object per project, addressed by the kind's name alone (`theme`).
    pub singleton: bool,
}

impl KindInfo {
    pub const fn new(
        kind: Kind,
        plural: &'static str,
        managed_fields: &'static [&'static str],
    ) -> KindInfo {
        KindInfo {
            kind,
            plural,
            managed_fields,
            singleton: false,
        }
    }

    pub const fn singleton(mut self) -> KindInfo {
        self.singleton = true;
        self
    }
}

/// Everything the engine may ask of a kind.
pub trait ResourceKind: Send + Sync {
    fn info(&self) -> &'static KindInfo;

    fn kind(&self) -> Kind {
        self.info().kind
    }

    fn plural(&self) -> &'static str {
        self.info().plural
    }

    fn managed_fields(&self) -> &'static [&'static str] {
        self.info().managed_fields
    }

    fn singleton(&self) -> bool {
        self.info().singleton
    }

    /// Is `key` a well-formed key of this kind (the part after `<kind>.`, never empty)? A
    /// singleton has none unless it says otherwise.
    fn check_key(&self, key: &str) -> Result<(), String> {
        let _ = key;
        match self.singleton() {
            true => Err(format!("the {0}'s address is just `{0}`", self.kind())),
            false => Ok(()),
        }
    }

    /// An address shown in "expected e.g." hints.
    fn example_address(&self) -> String {
        if self.singleton() {
            self.kind().to_string()
        } else {
            format!("{}.<id>", self.kind())
        }
    }

    // ---- config → desired ----

    /// Add the resources the config declares for this kind.
    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, errors: &mut Vec<String>);

    /// The config sections this kind owns, for a kind whose configuration is not one of the
    /// file's own types (docs/adding-a-resource-kind.md).
    fn config_sections(&self) -> &'static [crate::config::ConfigSection] {
        &[]
    }

    /// The rules of this kind's section beyond its shape, reported with positions.
    fn check_config(&self, cx: &mut crate::config::checks::ConfigCheck<'_>) {
        let _ = cx;
    }

    // ---- live ----

    /// For a kind whose objects are one list call (`…/all` and the key of its array): `read`,
    /// `read_count` and `read_saved` follow from it.
    fn list(&self) -> Option<ListCall> {
        None
    }

    /// The key of the array in the list call's answer where it is not the snapshot's: an
    /// answer whose key other calls use too (`apps`) is kept under a name of the kind's own.
    fn list_answer_key(&self) -> Option<&'static str> {
        None
    }

    /// Read what this kind needs from the live project into the snapshot (list calls are
    /// shared: a kind reading what another kind already read reads nothing).
    /// For a kind whose objects are one document per tenant behind a load call with no list
    /// (`per_tenant`): `read`, `read_count` and `read_one` follow from it.
    fn per_tenant(&self) -> Option<&'static per_tenant::PerTenantDocuments> {
        None
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, scope: &'a ReadScope) -> ReadFuture<'a> {
        if let Some(docs) = self.per_tenant() {
            return Box::pin(docs.read(io, scope));
        }
        Box::pin(async move {
            match self.list() {
                Some(_) if self.read_when_named() && !scope.names_kind(self.kind()) => Ok(()),
                Some(list) => {
                    let field = self.list_answer_key().unwrap_or(list.key);
                    io.snapshot
                        .read_list_as(io.gateway, (list.request)(), field, list.key)
                        .await
                }
                None => Ok(()),
            }
        })
    }

    /// Requests [`ResourceKind::read`] sends for this scope (for apply-time estimates).
    fn read_count(&self, scope: &ReadScope) -> usize {
        if let Some(docs) = self.per_tenant() {
            return docs.count(scope);
        }
        let skipped = self.read_when_named() && !scope.names_kind(self.kind());
        usize::from(self.list().is_some() && !skipped)
    }

    /// Read only when the scope names this kind (its addresses, `--prune`, `export`): a kind
    /// most projects do not use costs no request in their plans.
    fn read_when_named(&self) -> bool {
        false
    }

    /// Turn the snapshot into this kind's live resources.
    /// (Every kind but a `per_tenant` one implements this.)
    fn live(&self, snapshot: &LiveSnapshot, cx: &LiveContext<'_>, out: &mut LiveGraph) {
        let _ = cx;
        if let Some(docs) = self.per_tenant() {
            docs.live(snapshot, out);
        }
    }

    /// The read that shows one address again (after an ambiguous write, on resume, for the
    /// state snapshot after apply). Defaults to the kind's whole read.
    fn read_one<'a>(&'a self, io: LiveRead<'a>, address: &'a Address) -> ReadFuture<'a> {
        if let Some(docs) = self.per_tenant() {
            return Box::pin(docs.read_one(io, address.key()));
        }
        Box::pin(async move {
            let scope = ReadScope {
                addresses: vec![address.clone()],
                ..ReadScope::default()
            };
            self.read(io, &scope).await
        })
    }

    /// Fingerprint of a live object: sha256 of its canonical JSON, less what other resources
    /// derive (a tenant's `successors`).
    fn fingerprint(&self, raw: &serde_json::Value) -> String {
        crate::resource::fingerprint(raw)
    }

    /// What state.json records of a live object for `state show` (secret values are already
    /// stand-ins in `raw`); `None` where the object is too large to keep in a committed file.
    fn recorded_attributes(&self, live: &LiveResource) -> Option<serde_json::Value> {
        Some(live.raw())
    }

    // ---- comparing and ordering ----

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        let _ = spec;
        Vec::new()
    }

    /// The resource this address lives inside (a tenant role's tenant), known from the address
    /// alone.
    fn owner(&self, address: &Address) -> Option<Address> {
        // A per-tenant document lives inside its tenant (a project-wide one, key "", does not).
        let tenant = address.key();
        (self.per_tenant().is_some() && !tenant.is_empty()).then(|| Address::tenant(tenant))
    }

    fn claims(&self, spec: &dyn Spec) -> Vec<Claim> {
        let _ = spec;
        Vec::new()
    }

    /// Claims a request body makes (for a swap's temporary release).
    fn body_claims(&self, body: &Value) -> Vec<Claim> {
        let _ = body;
        Vec::new()
    }

    /// Fields whose change Descope cannot apply in place (a tenant's parent): a replace.
    fn replace_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Restrict the live fields to what the desired side can state (documents: the keys the
    /// file has), before comparing.
    fn compare_view(&self, desired: &dyn Spec, live: &mut Fields) {
        let _ = (desired, live);
    }

    /// Can a live object of this kind be deleted by this tool? (The theme cannot.)
    fn deletable(&self) -> bool {
        // Per-tenant documents (settings, policies) always exist while their tenant does.
        self.per_tenant().is_none()
    }

    /// May `--prune KIND` delete unmanaged objects of this kind?
    fn prunable(&self) -> bool {
        self.deletable()
    }

    /// Is an unmanaged live object of this kind worth reporting? (Default roles go with their
    /// tenant.)
    fn reports_unmanaged(&self) -> bool {
        // Every tenant has its per-tenant documents: not worth a line each.
        self.per_tenant().is_none()
    }

    /// A delete of this kind may take what it owns along (`delete_cascade`).
    fn cascades(&self) -> bool {
        false
    }

    // ---- renames ----

    /// The live addresses this desired resource had before (`renamed_from:`), in the config's
    /// order: when the live project has one of them and not the resource itself, the plan
    /// renames that object in place ([`ResourceKind::rename_body`]) instead of deleting it
    /// and creating another, so whatever refers to it by id keeps it.
    fn renamed_from(&self, desired: &DesiredResource) -> Vec<Address> {
        let _ = desired;
        Vec::new()
    }

    /// The update that turns the live object at `from` into `desired`, its new name included.
    fn rename_body(&self, desired: &DesiredResource, from: &Address, live: &Value) -> Value {
        let _ = from;
        self.update_body(desired, live)
    }

    /// The requests of a rename (an update that names the object by its old name).
    fn rename_op(&self, address: &Address, body: &Value) -> Op {
        self.update_op(address, body)
    }

    // ---- operations ----

    fn create_body(&self, desired: &DesiredResource) -> Value;

    /// Read-modify-write: the live object with only the managed fields replaced.
    fn update_body(&self, desired: &DesiredResource, live: &Value) -> Value {
        let _ = live;
        self.create_body(desired)
    }

    /// For a kind whose changes are one call each, its object named by the address's key:
    /// `create_op`, `update_op` and `delete_op` follow from them.
    fn keyed_calls(&self) -> Option<&'static KeyedCalls> {
        None
    }

    /// A kind without [`ResourceKind::keyed_calls`] writes its own.
    fn create_op(&self, address: &Address, body: &Value) -> Op {
        let _ = address;
        self.keyed_calls()
            .map(|c| Op::single((c.create)(body.clone())))
            .unwrap_or_default()
    }

    /// Defaults to the create's request (imports, settings: one call does both).
    fn update_op(&self, address: &Address, body: &Value) -> Op {
        match self.keyed_calls() {
            Some(c) => Op::single((c.update)(body.clone())),
            None => self.create_op(address, body),
        }
    }

    /// `live` is the object as read (a kind whose delete names a server-generated id takes
    /// it from there). A kind that is not `deletable` is never asked: the default sends
    /// nothing, which apply would refuse ("plan again") if it ever were.
    fn delete_op(&self, address: &Address, live: &Value, cascade: bool) -> Op {
        let _ = (live, cascade);
        match self.keyed_calls() {
            Some(c) => Op::single((c.delete)(address.key())),
            None => Op::default(),
        }
    }

    /// A temporary update that frees `frees` (a swap of unique values); `None` when the kind
    /// has nothing to release.
    fn release_for_swap(&self, swap: &Swap<'_>) -> Option<Release> {
        let _ = swap;
        None
    }

    /// The document form (`v1`/`v2`) a change's `after` imports, for kinds whose objects are
    /// documents: they are read back and backed up in the same form.
    fn document_form(&self, after: &Value) -> Option<crate::resource::DocForm> {
        let _ = after;
        None
    }

    /// The read whose answer a backup keeps for this address, when the live list entry is not
    /// the whole object (a flow's document); `None` keeps the live object as read.
    fn backup_read(
        &self,
        address: &Address,
        form: crate::resource::DocForm,
    ) -> Option<crate::api::ApiRequest> {
        let _ = (address, form);
        None
    }

    /// Where, in the bodies this kind sends, the value of its secret attribute `attribute` sits
    /// (a JSON pointer); `None` for kinds that hold no secrets. Apply resolves a stand-in there
    /// and nowhere else (apply/secrets.rs).
    fn secret_body_pointer(&self, _attribute: &str) -> Option<String> {
        None
    }

    /// Values the API accepts but never returns (an OIDC client secret), as JSON pointers
    /// into `Spec::fields()` (`/oidc/client_secret`). The live spec leaves them out; the
    /// planner compares the desired value with what state.json recorded for it at the last
    /// apply (docs/design.md, "Secrets the API never gives back").
    fn write_only_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// May the configuration hold `${secret:VAR}` at this config pointer (`/tenants/0/sso/x/
    /// oidc/client_secret`)? The kind then turns it into a stand-in and declares it as a
    /// `SecretField` whose attribute `secret_body_pointer` maps into its bodies.
    fn accepts_secret_at(&self, config_pointer: &str) -> bool {
        let _ = config_pointer;
        false
    }

    /// Can a read-back show whether a write took effect? (Document imports cannot be compared
    /// from a list entry; they are idempotent, so they are sent again.)
    fn verifiable(&self) -> bool {
        true
    }

    /// Fields of a saved object a restore's create carries over although the config never
    /// manages them, so the resource comes back as it was.
    fn restore_carried(&self) -> &'static [&'static str] {
        &[]
    }

    /// A live resource from an object a backup saved (as the API returned it then); list kinds
    /// read it as one entry of their list.
    fn read_saved(
        &self,
        address: &Address,
        object: &Value,
        key: &crate::secret::Secret,
    ) -> Option<LiveResource> {
        let list = self.list()?;
        let mut snapshot = LiveSnapshot::default();
        snapshot.put_list(list.key, vec![object.clone()]);
        let mut graph = LiveGraph::default();
        // The saved objects already hold secret stand-ins: nothing to mask.
        self.live(
            &snapshot,
            &LiveContext {
                secret_fields: &[],
                key,
            },
            &mut graph,
        );
        graph.resources.remove(address)
    }

    /// What apply tells the user after creating `address` (where a secret Descope generated
    /// can be read, since the tool never reads or keeps it).
    fn created_note(&self, address: &Address) -> Option<String> {
        let _ = address;
        None
    }

    // ---- export ----

    /// Write this kind's live objects (system defaults left out) into a config being exported.
    /// Kinds export in registration order, so a kind may complete what an earlier one wrote.
    fn export(
        &self,
        live: &[&LiveResource],
        snapshot: &LiveSnapshot,
        out: &mut crate::config::exported::Exported,
    );
}

/// The list call a list kind's objects come from.
#[derive(Clone, Copy)]
pub struct ListCall {
    pub request: fn() -> crate::api::ApiRequest,
    /// The key of the array in the answer, and of the list in the snapshot.
    pub key: &'static str,
}

/// The calls of a kind whose objects the configuration names by the id Descope uses.
pub struct KeyedCalls {
    pub create: fn(Value) -> crate::api::ApiRequest,
    pub update: fn(Value) -> crate::api::ApiRequest,
    /// Takes the address's key.
    pub delete: fn(&str) -> crate::api::ApiRequest,
}

/// A change whose unique values another change claims: the live object, the body the change
/// sends, and the values to free first.
pub struct Swap<'a> {
    pub address: &'a Address,
    pub live: &'a LiveResource,
    pub body: &'a Value,
    pub frees: &'a [Claim],
}

/// The body and display of a swap's temporary release.
pub struct Release {
    pub body: Value,
    pub fields: Vec<crate::plan::FieldChange>,
    pub values: Vec<String>,
}

/// What reading live objects into specs needs besides the snapshot.
pub struct LiveContext<'a> {
    pub secret_fields: &'a [crate::resource::desired::SecretField],
    pub key: &'a crate::secret::Secret,
}

/// Every kind this tool manages, in the order changes of equal rank run and output is grouped.
/// Registering a kind is one line here.
pub fn all() -> &'static [&'static dyn ResourceKind] {
    &[
        &permission::PermissionKind,
        &role::RoleKind,
        &tenant::TenantKind,
        &default_roles::DefaultRolesKind,
        &tenant_settings::TenantSettingsKind,
        &password_policy::PasswordPolicyKind,
        &list::ListKind,
        &flow::FlowKind,
        &theme::ThemeKind,
        &tenant_sso::TenantSsoKind,
        &fga_schema::FgaSchemaKind,
        &project::ProjectKind,
        &outbound_app::OutboundAppKind,
        &access_key::AccessKeyKind,
        &sso_app::SsoAppKind,
        &third_party_app::ThirdPartyAppKind,
    ]
}

/// Every kind's own config section.
pub fn config_sections() -> Vec<crate::config::ConfigSection> {
    all()
        .iter()
        .flat_map(|k| k.config_sections().iter().copied())
        .collect()
}

/// A kind's place in [`all`]: changes of equal rank run in this order.
pub fn rank(kind: Kind) -> usize {
    all()
        .iter()
        .position(|k| k.kind() == kind)
        .expect("every Kind is registered in kinds::all")
}

/// The module of a kind.
pub fn of(kind: Kind) -> &'static dyn ResourceKind {
    *all()
        .iter()
        .find(|k| k.kind() == kind)
        .expect("every Kind is registered in kinds::all")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The engine knows kinds only through the trait: no type a kind module defines is named
    /// in any other file under `src/` (the CLI included).
    #[test]
    fn kind_types_stay_inside_their_modules() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let kinds_dir = root.join("kinds");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&kinds_dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines() {
                let line = line.trim_start();
                for prefix in ["pub struct ", "pub enum ", "struct ", "enum "] {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        names.push(name);
                    }
                }
            }
        }
        // Types of the trait's own vocabulary, not of one kind.
        names.retain(|n| {
            ![
                "Reference",
                "ReadScope",
                "Release",
                "LiveContext",
                "LiveRead",
                "Swap",
            ]
            .contains(&n.as_str())
        });
        assert!(names.iter().any(|n| n == "TenantSpec"), "{names:?}");
        let mut offenders = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path == kinds_dir {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for n in &names {
                        let found = text.match_indices(n.as_str()).any(|(i, _)| {
                            let before = text[..i].chars().next_back();
                            let after = text[i + n.len()..].chars().next();
                            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        });
                        if found {
                            offenders.push(format!("{} names {n}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }
}
