//! Property tests (issue 14 §6) over a seeded corpus in the tree (`tests/corpus/`): the config
//! loader, the plan-file reader and the wire decoders are fed the seeds with random edits.
//! None may panic; the plan reader must refuse every edit. `cargo test` runs 96 cases of each
//! (`PROPTEST_CASES=5000` for a longer run); failures found are kept by proptest in
//! `proptest-regressions/`, which belongs in the tree too. `cargo fuzz` needs nightly, which is
//! not available here.

use std::path::{Path, PathBuf};

use descope_mgmt::api::wire;
use descope_mgmt::config::{load, LoadOptions, VarSource};
use descope_mgmt::plan::PlanFile;
use descope_mgmt::resource::live::{self, LiveSnapshot};
use descope_mgmt::secret::Secret;
use proptest::prelude::*;
use serde_json::Value;

use crate::util::TestEnv;

fn corpus(dir: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{} holds no seeds", root.display());
    out
}

/// Insertions, deletions and replacements of single bytes at random places.
fn mutate(mut b: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, byte, op) in edits {
        let i = at % (b.len() + 1);
        match op {
            0 => b.insert(i, byte),
            1 if i < b.len() => {
                b.remove(i);
            }
            _ if i < b.len() => b[i] = byte,
            _ => {}
        }
    }
    b
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    proptest::collection::vec((0usize..200_000, any::<u8>(), 0u8..3), 1..6)
}

/// Bytes that matter to JSON, so edits reach the decoders rather than stopping at the parser.
fn json_edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    let byte = prop::sample::select(b"{}[]\":,0123456789-.enultrfsa \n\\".to_vec());
    proptest::collection::vec((0usize..200_000, byte, 0u8..3), 1..6)
}

/// Every JSON value, nested, for the decoders.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "name",
                    "tenants",
                    "roles",
                    "permissions",
                    "flows",
                    "flow",
                    "theme",
                    "tenant",
                    "customAttributes",
                    "parent",
                    "version",
                    "etag",
                ]),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn decode_everything(v: &Value) {
    let _ = wire::tenants(v);
    let _ = wire::roles(v);
    let _ = wire::permissions(v);
    let _ = wire::flows(v);
    let _ = wire::tenant_object(v);
    let _ = wire::tenant_from_load(v);
    for key in ["flow", "theme"] {
        let _ = wire::document(v, key);
    }
    for key in ["tenants", "roles", "permissions", "flows"] {
        let _ = wire::list_objects(v.clone(), key);
    }
    // What each kind makes of objects it is given, through the same path a live read takes.
    if let Value::Object(o) = v {
        let mut snapshot = LiveSnapshot::default();
        for key in ["tenants", "roles", "permissions", "flows"] {
            if let Some(Value::Array(items)) = o.get(key) {
                snapshot.put_list(key, items.clone());
            }
        }
        snapshot.put_document("theme".into(), v.clone());
        snapshot.put_document("flow/sign-in".into(), v.clone());
        let _ = live::build(&snapshot, &[], &Secret::new("K2key"));
    }
}

fn load_config(bytes: &[u8]) {
    let dir = TestEnv::new();
    std::fs::write(dir.config_path(), bytes).unwrap();
    for env in [None, Some("dev"), Some("prod")] {
        let _ = load(&LoadOptions {
            path: dir.config_path(),
            env: env.map(str::to_string),
            vars: VarSource::from_pairs([("DESCOPE_DEV_KEY", "k"), ("DESCOPE_PROD_KEY", "k")]),
        });
    }
}

#[test]
fn the_seeds_themselves_are_read() {
    for (path, bytes) in corpus("plan") {
        PlanFile::parse_verified(std::str::from_utf8(&bytes).unwrap(), &path).unwrap();
    }
    for (path, bytes) in corpus("wire") {
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let ok = match name {
            "tenant-all.json" => wire::tenants(&v).is_ok(),
            "role-all.json" => wire::roles(&v).is_ok(),
            "permission-all.json" => wire::permissions(&v).is_ok(),
            "flow-list.json" => wire::flows(&v).is_ok(),
            "flow-export-v1.json" => wire::document(&v, "flow").is_ok(),
            "theme-export-v1.json" => wire::document(&v, "theme").is_ok(),
            "tenant-load.json" => wire::tenant_from_load(&v).is_ok(),
            other => panic!("no decoder named for seed {other}"),
        };
        assert!(ok, "{name}");
    }
    assert!(!corpus("config").is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96),
        ..ProptestConfig::default()
    })]

    /// Any edit of a plan file is refused (exit 3 territory), never a panic, never accepted.
    #[test]
    fn an_edited_plan_file_is_always_refused(seed in 0usize..8, edits in edits()) {
        let seeds = corpus("plan");
        let (path, original) = &seeds[seed % seeds.len()];
        let edited = mutate(original.clone(), &edits);
        prop_assume!(&edited != original);
        match std::str::from_utf8(&edited) {
            Ok(text) => prop_assert!(PlanFile::parse_verified(text, path).is_err()),
            Err(_) => {
                let p = std::env::temp_dir().join(format!("fuzz-{}.plan", std::process::id()));
                std::fs::write(&p, &edited).unwrap();
                let refused = PlanFile::read_verified(&p).is_err();
                let _ = std::fs::remove_file(&p);
                prop_assert!(refused);
            }
        }
    }

    /// Answers edited at random, or made up whole: decoders return errors, never panic.
    #[test]
    fn wire_decoders_never_panic_on_edited_answers(seed in 0usize..16, edits in json_edits()) {
        let seeds = corpus("wire");
        let (_, original) = &seeds[seed % seeds.len()];
        if let Ok(v) = serde_json::from_slice::<Value>(&mutate(original.clone(), &edits)) {
            decode_everything(&v);
        }
    }

    #[test]
    fn wire_decoders_never_panic_on_any_json(v in any_json()) {
        decode_everything(&v);
    }

    /// Seeds of the config loader, edited: diagnostics, never a panic.
    #[test]
    fn the_config_loader_never_panics_on_edited_seeds(seed in 0usize..8, edits in edits()) {
        let seeds = corpus("config");
        let (_, original) = &seeds[seed % seeds.len()];
        load_config(&mutate(original.clone(), &edits));
    }
}
