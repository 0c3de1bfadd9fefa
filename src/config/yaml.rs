//! YAML into a tree that remembers where every key and value came from. serde's YAML
//! deserializers forget positions, so we build our own tree from saphyr's event stream.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::diagnostic::{Diagnostic, DiagnosticKind, Location};

/// Where something starts: index into the loader's file list, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub file: usize,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text as written; `plain` scalars get YAML core-schema types later, after `${VAR}`
    /// substitution, which is what lets `${PORT}` become a number.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if is_null_text(text))
    }
}

fn shrunk(mut s: String) -> String {
    s.shrink_to_fit();
    s
}

pub fn is_null_text(t: &str) -> bool {
    matches!(t, "" | "~" | "null" | "Null" | "NULL")
}

/// Limits that keep hostile input (alias bombs, `[[[[...`) from exhausting memory or stack.
const MAX_DEPTH: usize = 128;
const MAX_NODES: usize = 1_000_000;

/// Parse one YAML document. Syntax errors stop parsing (there is no sound tree after them);
/// duplicate keys are returned beside the tree (first occurrence kept) so the rest is still checked.
pub fn parse(
    src: &str,
    file: usize,
    files: &[std::path::PathBuf],
) -> Result<(Node, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut b = Builder {
        events: Parser::new_from_str(src),
        file,
        files,
        anchors: HashMap::new(),
        nodes: 0,
        problems: Vec::new(),
    };
    match b.document() {
        Ok(node) => Ok((node, b.problems)),
        Err(d) => {
            b.problems.push(with_flow_hint(d, src));
            Err(b.problems)
        }
    }
}

/// `domains: [x.${SUFFIX}]`: inside `[...]` or `{...}` the braces of a reference are YAML's
/// own punctuation, and the parser's complaint names neither the cause nor the cure.
fn with_flow_hint(d: Diagnostic, src: &str) -> Diagnostic {
    let line = src.lines().nth(d.line.saturating_sub(1)).unwrap_or("");
    let in_flow = d.message.contains("flow") || line.contains('[') || line.contains('{');
    if d.kind == DiagnosticKind::YamlSyntax && d.hint.is_none() && in_flow && line.contains("${") {
        d.with_hint(
            "a `${VAR}` reference inside `[...]` or `{...}` must be quoted: write \"x.${VAR}\" (or use a block list, one `- item` per line)",
        )
    } else {
        d
    }
}

struct Builder<'a, 'f> {
    events: Parser<'a, saphyr_parser::StrInput<'a>>,
    file: usize,
    files: &'f [std::path::PathBuf],
    anchors: HashMap<usize, Node>,
    nodes: usize,
    problems: Vec<Diagnostic>,
}

impl<'a> Builder<'a, '_> {
    fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.files.get(pos.file).cloned().unwrap_or_default(),
            line: pos.line,
            column: pos.column,
        }
    }

    fn pos(&self, span: &Span) -> Pos {
        Pos {
            file: self.file,
            line: span.start.line().max(1),
            column: span.start.col() + 1,
        }
    }

    fn syntax(&self, pos: Pos, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.loc(pos), DiagnosticKind::YamlSyntax, msg)
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), Diagnostic> {
        match self.events.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => {
                let m = e.marker();
                let pos = Pos {
                    file: self.file,
                    line: m.line().max(1),
                    column: m.col() + 1,
                };
                Err(self.syntax(pos, format!("invalid YAML: {}", e.info())))
            }
            None => Err(self.syntax(
                Pos {
                    file: self.file,
                    line: 1,
                    column: 1,
                },
                "unexpected end of YAML",
            )),
        }
    }

    fn document(&mut self) -> Result<Node, Diagnostic> {
        let empty = Node {
            value: Value::Scalar {
                text: String::new(),
                plain: true,
            },
            pos: Pos {
                file: self.file,
                line: 1,
                column: 1,
            },
        };
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart => continue,
                Event::StreamEnd => return Ok(empty),
                Event::DocumentStart(_) => break,
                _ => return Err(self.syntax(self.pos(&span), "expected a YAML document")),
            }
        }
        let (ev, span) = self.next()?;
        let root = self.node(ev, span, 0)?;
        // A second document would silently be ignored; say so instead.
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::DocumentEnd => continue,
                Event::StreamEnd => return Ok(root),
                _ => {
                    return Err(self.syntax(
                        self.pos(&span),
                        "more than one YAML document; a configuration file holds exactly one",
                    ))
                }
            }
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span, depth: usize) -> Result<Node, Diagnostic> {
        let pos = self.pos(&span);
        if depth > MAX_DEPTH {
            return Err(self.syntax(pos, format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.syntax(
                pos,
                "document too large (too many values, or an alias expanding too far)",
            ));
        }
        let (node, anchor) = match ev {
            Event::Scalar(text, style, anchor, _tag) => (
                Node {
                    value: Value::Scalar {
                        // The scanner's buffers keep their spare capacity (about 300 bytes a
                        // scalar): a 10k-tenant file would hold 15 MB of it.
                        text: shrunk(text.into_owned()),
                        plain: style == ScalarStyle::Plain,
                    },
                    pos,
                },
                anchor,
            ),
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span, depth + 1)?);
                }
                items.shrink_to_fit();
                (
                    Node {
                        value: Value::Seq(items),
                        pos,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<Entry> = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key_pos = self.pos(&span);
                    let key = match self.node(ev, span, depth + 1)? {
                        Node {
                            value: Value::Scalar { text, .. },
                            ..
                        } => Some(text),
                        _ => None,
                    };
                    let (ev, span) = self.next()?;
                    let value = self.node(ev, span, depth + 1)?;
                    let Some(key) = key else {
                        let d = self.syntax(key_pos, "mapping keys must be plain text");
                        self.problems.push(d);
                        continue;
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == key) {
                        let d = Diagnostic::new(
                            &self.loc(key_pos),
                            DiagnosticKind::DuplicateKey,
                            format!("key `{key}` appears twice in the same mapping"),
                        )
                        .with_hint(format!(
                            "the first `{key}` is on line {}; keep one",
                            first.key_pos.line
                        ));
                        self.problems.push(d);
                        continue;
                    }
                    entries.push(Entry {
                        key,
                        key_pos,
                        value,
                    });
                }
                entries.shrink_to_fit();
                (
                    Node {
                        value: Value::Map(entries),
                        pos,
                    },
                    anchor,
                )
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(n) => {
                    let n = n.clone();
                    self.nodes += count(&n);
                    if self.nodes > MAX_NODES {
                        return Err(self.syntax(pos, "an alias expands too far"));
                    }
                    return Ok(n);
                }
                None => return Err(self.syntax(pos, "alias to an unknown anchor")),
            },
            _ => return Err(self.syntax(pos, "unexpected YAML structure")),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn count(n: &Node) -> usize {
    match &n.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|e| 1 + count(&e.value)).sum::<usize>(),
    }
}

/// YAML 1.2 core schema for a plain scalar: null, bool, int, float, else string.
pub fn typed_scalar(text: &str) -> serde_json::Value {
    use serde_json::Value as J;
    if is_null_text(text) {
        return J::Null;
    }
    match text {
        "true" | "True" | "TRUE" => return J::Bool(true),
        "false" | "False" | "FALSE" => return J::Bool(false),
        _ => {}
    }
    let int = if let Some(h) = text.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = text.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if text
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || (i == 0 && (b == b'-' || b == b'+')))
        && text.bytes().any(|b| b.is_ascii_digit())
    {
        text.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return J::from(i);
    }
    let looks_float = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if looks_float {
        if let Ok(f) = text.parse::<f64>() {
            if let Some(n) = serde_json::Number::from_f64(f) {
                return J::Number(n);
            }
        }
    }
    // .inf / .nan have no JSON form; they stay text and fail typing where a number is wanted.
    J::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn files() -> Vec<PathBuf> {
        vec![PathBuf::from("f.yaml")]
    }

    #[test]
    fn positions_of_keys_and_values() {
        let (n, _) = parse("a:\n  b: [1, x]\n", 0, &files()).unwrap();
        let a = n.entry("a").unwrap();
        assert_eq!((a.key_pos.line, a.key_pos.column), (1, 1));
        let b = a.value.entry("b").unwrap();
        assert_eq!((b.key_pos.line, b.key_pos.column), (2, 3));
        let Value::Seq(items) = &b.value.value else {
            panic!("not a seq")
        };
        assert_eq!((items[1].pos.line, items[1].pos.column), (2, 10));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_reported() {
        let (_, e) = parse("a: 1\nb: 2\na: 3\n", 0, &files()).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].kind, e[0].line, e[0].column),
            (DiagnosticKind::DuplicateKey, 3, 1)
        );
        let e = parse("a: [1, 2\nb: 3\n", 0, &files()).unwrap_err();
        assert_eq!(e[0].kind, DiagnosticKind::YamlSyntax);
    }

    #[test]
    fn core_schema_types() {
        assert_eq!(typed_scalar("true"), serde_json::json!(true));
        assert_eq!(typed_scalar("3"), serde_json::json!(3));
        assert_eq!(typed_scalar("-2.5"), serde_json::json!(-2.5));
        assert_eq!(typed_scalar("~"), serde_json::Value::Null);
        assert_eq!(typed_scalar("3m.com"), serde_json::json!("3m.com"));
        assert_eq!(typed_scalar("1e3x"), serde_json::json!("1e3x"));
    }
}
