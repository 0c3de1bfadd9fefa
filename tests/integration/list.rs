//! The list kind (`list.<name>`, a top-level `lists:` section) end to end through the
//! executable: plan, apply, no changes after, an items change, drift, prune, export.

use descope_emulator::EmulatorOptions;
use serde_json::Value;

use crate::util::TestEnv;

const CONFIG: &str = "version: 1
settings: {rate_limit: 1000/1}
lists:
  - name: office
    type: ips
    description: Office ranges
    items: [10.0.0.0/8, 192.168.1.1]
  - name: blocked-words
    type: texts
    items: [spam]
";

fn items(w: &TestEnv, name: &str) -> Vec<String> {
    let data = w.emu().data();
    let list = data
        .lists
        .iter()
        .find(|l| l.name == name)
        .expect("list exists");
    let mut v: Vec<String> = serde_json::from_value(list.data.clone()).unwrap();
    v.sort();
    v
}

#[test]
fn lists_are_planned_applied_updated_drifted_pruned_and_exported() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(CONFIG);
    let (code, out, err) = w.run_text(&["plan", "-out", "plans/a.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("list.office") && out.contains("list.blocked-words"),
        "{out}"
    );
    let (code, out, err) = w.run_text(&["apply", "plans/a.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(items(&w, "office"), ["10.0.0.0/8", "192.168.1.1"]);

    // Items are a set: another order is no change.
    w.write_config(&CONFIG.replace("[10.0.0.0/8, 192.168.1.1]", "[192.168.1.1, 10.0.0.0/8]"));
    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // A changed item is one update that keeps the list's id and the fields left alone.
    let id = w
        .emu()
        .data()
        .lists
        .iter()
        .find(|l| l.name == "office")
        .unwrap()
        .id
        .clone();
    w.write_config(&CONFIG.replace("192.168.1.1", "192.168.1.2"));
    let (code, out, err) = w.run_text(&["plan", "-out", "plans/b.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("~ list.office"), "{out}");
    let (code, out, err) = w.run_text(&["apply", "plans/b.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let data = w.emu().data();
    let office = data.lists.iter().find(|l| l.name == "office").unwrap();
    assert_eq!(
        (office.id.as_str(), office.description.as_str()),
        (id.as_str(), "Office ranges")
    );
    assert_eq!(items(&w, "office"), ["10.0.0.0/8", "192.168.1.2"]);

    // Drift: an item added in the console.
    w.emu().mutate(|d| {
        let l = d
            .lists
            .iter_mut()
            .find(|l| l.name == "blocked-words")
            .unwrap();
        l.data = serde_json::json!(["spam", "eggs"]);
    });
    let (code, out, err) = w.run_text(&["drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("list.blocked-words"), "{out}");

    // A managed list the config drops is deleted (by the id Descope gave it).
    w.write_config(
        &CONFIG
            .replace(
                "  - name: blocked-words\n    type: texts\n    items: [spam]\n",
                "",
            )
            .replace("192.168.1.1", "192.168.1.2"),
    );
    let (code, out, err) = w.run_text(&["plan", "-out", "plans/c.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("- list.blocked-words"), "{out}");
    let (code, out, err) = w.run_text(&["apply", "plans/c.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(w
        .emu()
        .data()
        .lists
        .iter()
        .all(|l| l.name != "blocked-words"));

    // One made in the console is left alone, and deleted only with --prune list.
    w.emu().mutate(|d| {
        d.lists.push(descope_emulator::NamedList {
            id: "LSTconsole".into(),
            name: "console".into(),
            list_type: "texts".into(),
            data: serde_json::json!([]),
            ..Default::default()
        })
    });
    let (code, out, _) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, err) = w.run_text(&["plan", "--prune", "list", "-out", "plans/d.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("- list.console"), "{out}");
    let (code, out, err) = w.run_text(&["apply", "plans/d.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(w.emu().data().lists.iter().all(|l| l.name != "console"));

    let (code, out, err) = w.run_text(&["export", "--out", "exp"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(exported["lists"][0]["name"], "office", "{yaml}");
    assert_eq!(exported["lists"][0]["type"], "ips", "{yaml}");
    assert_eq!(
        exported["lists"][0]["items"],
        serde_json::json!(["10.0.0.0/8", "192.168.1.2"]),
        "{yaml}"
    );
}

#[test]
fn bad_lists_are_reported_where_they_are() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
lists:
  - name: office
    type: ips
    items: [10.0.0.0/33]
  - name: office
    type: words
",
    );
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("descope.yaml:5:13") && err.contains("CIDR"),
        "{err}"
    );
    assert!(err.contains("descope.yaml:7:11"), "{err}");
}

/// Items from a file (`file:`, relative to the config): one per line, blanks and `#` comments
/// skipped, compared as a set like inline items; export writes them inline.
#[test]
fn list_items_come_from_a_file() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(
        "version: 1
settings: {rate_limit: 1000/1}
lists:
  - name: office
    type: ips
    file: lists/office.txt
",
    );
    w.write(
        "lists/office.txt",
        "# Office egress\n10.0.0.0/8\n\n  192.168.1.1  \n# VPN\n2001:db8::/32\n",
    );
    let (code, out, err) = w.run_text(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        items(&w, "office"),
        ["10.0.0.0/8", "192.168.1.1", "2001:db8::/32"]
    );
    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // A line removed from the file is an update of the list.
    w.write("lists/office.txt", "10.0.0.0/8\n2001:db8::/32\n");
    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("~ list.office"), "{out}");

    let (code, out, err) = w.run_text(&["export", "--out", "exp"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(exported["lists"][0]["items"][1], "192.168.1.1", "{yaml}");
    assert!(exported["lists"][0].get("file").is_none(), "{yaml}");
}

#[test]
fn a_bad_item_in_a_list_file_is_reported_at_its_line() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
lists:
  - name: office
    type: ips
    file: office.txt
  - name: both
    type: texts
    items: [a]
    file: words.txt
  - name: missing
    type: texts
    file: nowhere.txt
",
    );
    w.write("office.txt", "# ranges\n10.0.0.0/8\n\n   10.0.0.0/33\n");
    w.write("words.txt", "a\n");
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("office.txt:4:4") && err.contains("10.0.0.0/33"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:9:11") && err.contains("both"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:12:11") && err.contains("nowhere.txt"),
        "{err}"
    );
}
