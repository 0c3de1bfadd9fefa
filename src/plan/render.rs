//! Renderings of a plan for people (text, markdown for pull requests) and for programs (a
//! versioned JSON document, docs/plan-format.md). Order is always: replacements (destructive)
//! first, then creates and updates grouped by kind, then deletions, each sorted by address.

use std::fmt::Write;

use serde_json::{json, Value};

use super::file::{PlanFile, Summary};
use super::{Action, Change, FieldChange};

/// Markdown comments on GitHub are limited to 65,536 characters; keep a margin.
pub const MARKDOWN_BUDGET: usize = 65_000;
pub const JSON_FORMAT_VERSION: u32 = 1;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn action(&self, a: Action, text: &str) -> String {
        let code = match a {
            Action::Create => "32",
            Action::Update => "33",
            Action::Delete => "31",
            Action::Replace => "1;31",
        };
        self.paint(code, text)
    }
}

fn sorted(plan: &PlanFile, pick: impl Fn(&Change) -> bool) -> Vec<&Change> {
    let mut v: Vec<&Change> = plan.changes.iter().filter(|c| pick(c)).collect();
    v.sort_by(|a, b| a.address.cmp(&b.address).then(a.id.cmp(&b.id)));
    v
}

fn describe(c: &Change) -> String {
    let what = match c.action {
        Action::Create if c.op.issues_secret() => {
            "will be created (apply writes its secret to --access-key-out DIR)".to_string()
        }
        Action::Create => "will be created".to_string(),
        Action::Update => "will be updated in place".to_string(),
        Action::Delete if c.cascade => {
            "will be DELETED with its users and access keys (cascade)".to_string()
        }
        Action::Delete => "will be deleted".to_string(),
        Action::Replace if c.cascade => {
            "will be DESTROYED AND CREATED AGAIN, with its users and access keys (cascade)"
                .to_string()
        }
        // A key with a new secret: the old one stops working, and apply needs somewhere to
        // write the new one.
        Action::Replace if c.op.issues_secret() => {
            "will be DESTROYED AND CREATED AGAIN with a NEW SECRET (the old one stops working; \
             apply needs --access-key-out DIR)"
                .to_string()
        }
        Action::Replace => {
            "will be DESTROYED AND CREATED AGAIN: its users' membership and SSO setup are lost"
                .to_string()
        }
    };
    format!("{} {what} ({})", c.address, c.reason)
}

fn short(v: &Option<Value>) -> String {
    match v {
        None => "(unknown)".to_string(),
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
    }
}

/// Lines describing one field change; documents (flows, theme) get a path-level diff.
fn field_lines(f: &FieldChange, action: Action) -> Vec<String> {
    if f.field == "document" {
        let before = f.before.clone().unwrap_or(Value::Null);
        let after = f.after.clone().unwrap_or(Value::Null);
        if before.is_null() {
            return vec![format!(
                "+ document = (new, {} top-level keys)",
                after.as_object().map_or(0, |o| o.len())
            )];
        }
        let mut lines = Vec::new();
        document_diff("", &before, &after, &mut lines);
        return lines;
    }
    if let Some(lines) = text_diff(f) {
        return lines;
    }
    match action {
        Action::Create => vec![format!("+ {} = {}", f.field, short(&f.after))],
        _ => vec![format!(
            "~ {} = {} -> {}",
            f.field,
            short(&f.before),
            short(&f.after)
        )],
    }
}

/// A field whose value is text of several lines (the FGA schema's DSL) as a unified line diff
/// with three lines of context, whatever the kind: `~ field:` (`+ field:` when new) then `@@` hunks whose lines
/// start with `+`, `-` or a space. A new value is all `+` lines. `None` for any other value.
fn text_diff(f: &FieldChange) -> Option<Vec<String>> {
    const LIMIT: usize = 200;
    fn text(v: &Option<Value>) -> Option<&str> {
        match v {
            None | Some(Value::Null) => Some(""),
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => None,
        }
    }
    let (before, after) = (text(&f.before)?, text(&f.after)?);
    if !before.contains('\n') && !after.contains('\n') {
        return None;
    }
    let sign = if before.is_empty() { '+' } else { '~' };
    let mut out = vec![format!("{sign} {}:", f.field)];
    let diff = similar::TextDiff::from_lines(before, after);
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push(hunk.header().to_string());
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let line = format!("{sign} {}", change.value());
            out.push(line.trim_end().to_string());
        }
    }
    if out.len() > LIMIT {
        let more = out.len() - LIMIT;
        out.truncate(LIMIT);
        out.push(format!("… ({more} more lines of the diff not shown)"));
    }
    Some(out)
}

/// Which parts of a flow or theme document differ, named by key: arrays of objects are
/// matched by their `id` / `screenId` / `taskId` / `name`, so a changed screen is named.
pub fn document_diff(path: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    const LIMIT: usize = 40;
    if out.len() >= LIMIT || before == after {
        return;
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                match a.get(k) {
                    None => out.push(format!("- {}", join(k))),
                    Some(av) => document_diff(&join(k), bv, av, out),
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                out.push(format!("+ {}", join(k)));
            }
        }
        (Value::Array(b), Value::Array(a)) if keyed(b).is_some() && keyed(a).is_some() => {
            let (kb, ka) = (keyed(b).unwrap_or_default(), keyed(a).unwrap_or_default());
            for (id, bv) in &kb {
                let here = format!("{path}[{id}]");
                match ka.iter().find(|(i, _)| i == id) {
                    None => out.push(format!("- {here}")),
                    Some((_, av)) if *av != *bv => {
                        let before_len = out.len();
                        document_diff(&here, bv, av, out);
                        if out.len() == before_len {
                            out.push(format!("~ {here}"));
                        }
                    }
                    Some(_) => {}
                }
            }
            for (id, _) in ka.iter().filter(|(i, _)| !kb.iter().any(|(j, _)| j == i)) {
                out.push(format!("+ {path}[{id}]"));
            }
        }
        // Same length, no keys: element by element, so one changed text is named by index.
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                document_diff(&format!("{path}[{i}]"), bv, av, out);
            }
        }
        // A changed scalar shows both values when they are short enough to read in a line.
        (b, a) if !b.is_object() && !b.is_array() && !a.is_object() && !a.is_array() => {
            let (bs, as_) = (b.to_string(), a.to_string());
            if bs.len() + as_.len() <= 120 {
                out.push(format!("~ {path} = {bs} -> {as_}"));
            } else {
                out.push(format!("~ {path}"));
            }
        }
        _ => out.push(format!("~ {path}")),
    }
    if out.len() == LIMIT {
        out.push("… (more differences not listed)".to_string());
    }
}

fn keyed(items: &[Value]) -> Option<Vec<(String, &Value)>> {
    items
        .iter()
        .map(|v| {
            ["screenId", "id", "taskId", "name"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str))
                .map(|id| (id.to_string(), v))
        })
        .collect()
}

/// `~ role.admin`; a rename names both addresses, like Terraform's `moved`:
/// `~ role.Old -> role.New (renamed)`.
fn heading(c: &Change) -> String {
    match &c.reason {
        super::Reason::Renamed { from } => {
            format!("{} {from} -> {} (renamed)", c.action.symbol(), c.address)
        }
        _ => format!("{} {}", c.action.symbol(), c.address),
    }
}

fn change_block(c: &Change, style: &Style, indent: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{indent}# {}", describe(c));
    let _ = writeln!(s, "{indent}{}", style.action(c.action, &heading(c)));
    for f in &c.fields {
        for line in field_lines(f, c.action) {
            let _ = writeln!(s, "{indent}    {line}");
        }
    }
    s
}

/// Terraform-style text. `color` only when writing to a terminal and not `--no-color`/`NO_COLOR`.
pub fn text(plan: &PlanFile, color: bool) -> String {
    let style = Style { color };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Plan for environment {} (project {}), planned {}",
        plan.environment, plan.project_id, plan.created_at
    );
    if plan.has_changes() {
        let _ = writeln!(s, "Symbols: + create   ~ update in place   - delete   -/+ replace (delete, then create)\n");
    }
    let replaces = sorted(plan, |c| c.action == Action::Replace);
    if !replaces.is_empty() {
        let _ = writeln!(
            s,
            "{}",
            style.paint("1;31", "DESTRUCTIVE: resources to be replaced")
        );
        for c in replaces {
            s.push_str(&change_block(c, &style, "  "));
            s.push('\n');
        }
    }
    for kind in crate::kinds::all().iter().map(|k| k.kind()) {
        let group = sorted(plan, |c| {
            c.address.kind() == kind && matches!(c.action, Action::Create | Action::Update)
        });
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(s, "{}", kind.plural());
        for c in group {
            s.push_str(&change_block(c, &style, "  "));
            s.push('\n');
        }
    }
    let deletes = sorted(plan, |c| c.action == Action::Delete);
    if !deletes.is_empty() {
        let _ = writeln!(s, "{}", style.paint("31", "Deletions"));
        for c in deletes {
            s.push_str(&change_block(c, &style, "  "));
            s.push('\n');
        }
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            s,
            // Flows and the theme are never pruned, so the hint names the kinds that can be.
            "Not managed ({} live resources not in the config; left alone, --prune tenant|role|permission deletes those kinds):",
            plan.unmanaged.len()
        );
        for a in plan.unmanaged.iter().take(20) {
            let _ = writeln!(s, "  {a}");
        }
        if plan.unmanaged.len() > 20 {
            let _ = writeln!(s, "  … and {} more", plan.unmanaged.len() - 20);
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "{}",
        style.paint("1", &Summary::of(&plan.changes).line())
    );
    s
}

/// A pull-request comment: summary first, destructive changes called out, one collapsible
/// section per resource, never over `MARKDOWN_BUDGET` characters.
pub fn markdown(plan: &PlanFile, plan_path: &str) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "### descope-mgmt plan: `{}`\n", plan.environment);
    let _ = writeln!(head, "**{}**\n", Summary::of(&plan.changes).line());
    let _ = writeln!(
        head,
        "Project `{}` · planned {} · digest `{}`\n",
        plan.project_id,
        plan.created_at,
        plan.digest.get(..19).unwrap_or(&plan.digest)
    );
    // Replaces head the warning as they head every rendering (docs/design.md §2), and a cascade is
    // spelled out: a reviewer of the comment alone must see that users will be deleted.
    let mut destructive = sorted(plan, |c| c.action == Action::Replace);
    destructive.extend(sorted(plan, |c| c.action == Action::Delete));
    if !destructive.is_empty() {
        let _ = writeln!(
            head,
            "> [!WARNING]\n> This plan deletes or replaces {} resource(s):",
            destructive.len()
        );
        for c in &destructive {
            let _ = writeln!(
                head,
                "> - `{}` {} — {}{}",
                c.action.symbol(),
                c.address,
                c.reason,
                if c.cascade {
                    " — **cascade: also deletes its users and access keys**"
                } else {
                    ""
                }
            );
        }
        head.push('\n');
    }

    let mut ordered: Vec<&Change> = sorted(plan, |c| c.action == Action::Replace);
    for kind in crate::kinds::all().iter().map(|k| k.kind()) {
        ordered.extend(sorted(plan, |c| {
            c.address.kind() == kind && matches!(c.action, Action::Create | Action::Update)
        }));
    }
    ordered.extend(sorted(plan, |c| c.action == Action::Delete));

    let mut tail = String::new();
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            tail,
            "\n{} live resources are not managed by this configuration (left alone).",
            plan.unmanaged.len()
        );
    }

    let mut body = String::new();
    let mut left_out = 0;
    for c in &ordered {
        // Once one is left out all after it are: a 10k-change plan builds 10k sections
        // otherwise, to print a few hundred.
        if left_out > 0 {
            left_out += 1;
            continue;
        }
        let mut section = String::new();
        let _ = writeln!(
            section,
            "<details><summary><code>{}</code> — {}</summary>\n",
            escape_html(&heading(c)),
            escape_html(&c.reason.to_string())
        );
        let _ = writeln!(section, "```diff");
        for f in &c.fields {
            for line in field_lines(f, c.action) {
                let _ = writeln!(section, "{}", diff_marker(&line));
            }
        }
        if c.fields.is_empty() {
            let _ = writeln!(
                section,
                "{} {}",
                if c.action == Action::Delete { "-" } else { "!" },
                c.address
            );
        }
        let _ = writeln!(section, "```\n</details>\n");
        let reserve = 400 + tail.len();
        if head.len() + body.len() + section.len() + reserve > MARKDOWN_BUDGET {
            left_out += 1;
            continue;
        }
        body.push_str(&section);
    }
    let mut out = head;
    out.push_str(&body);
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n**{left_out} more resource(s) not shown** to stay within the comment size limit. \
             Run `descope-mgmt show {plan_path}` to see the whole plan."
        );
    }
    out.push_str(&tail);
    out
}

fn diff_marker(line: &str) -> String {
    // GitHub colours lines starting with + and - in diff blocks; updates are shown with `!`.
    match line.chars().next() {
        Some('+') | Some('-') => line.to_string(),
        Some('~') => format!("!{}", &line[1..]),
        _ => format!("  {line}"),
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The machine format (docs/plan-format.md): stable, versioned, secrets only as stand-ins.
pub fn json(plan: &PlanFile) -> Value {
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "address": c.address.to_string(),
                "kind": c.address.kind().as_str(),
                "action": c.action,
                "reason": c.reason,
                "reason_text": c.reason.to_string(),
                "fields": c.fields,
                "before": c.before,
                "after": c.after,
                "depends_on": c.depends_on,
                "cascade": c.cascade,
            })
        })
        .collect();
    json!({
        "format": "descope-mgmt-plan-json",
        "format_version": JSON_FORMAT_VERSION,
        "tool_version": plan.tool_version,
        "environment": plan.environment,
        "project_id": plan.project_id,
        "created_at": plan.created_at,
        "digest": plan.digest,
        "summary": Summary::of(&plan.changes),
        "changes": changes,
        "unmanaged": plan.unmanaged.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    })
}
