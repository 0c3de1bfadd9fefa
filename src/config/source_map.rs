//! From a JSON pointer into the merged configuration back to `file:line:column`, so checks
//! that run on typed values can still point at the text the user wrote.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::diagnostic::Location;
use super::yaml::Pos;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceMap {
    files: Vec<PathBuf>,
    /// pointer -> (position of its key when it has one, position of its value)
    spans: BTreeMap<String, (Option<Pos>, Pos)>,
}

impl SourceMap {
    pub fn new(files: Vec<PathBuf>) -> Self {
        SourceMap {
            files,
            spans: BTreeMap::new(),
        }
    }

    pub fn insert(&mut self, pointer: String, key: Option<Pos>, value: Pos) {
        self.spans.insert(pointer, (key, value));
    }

    fn location(&self, p: Pos) -> Location {
        Location {
            file: self.files.get(p.file).cloned().unwrap_or_default(),
            line: p.line,
            column: p.column,
        }
    }

    /// Where the value at `pointer` is written.
    pub fn locate(&self, pointer: &str) -> Option<Location> {
        self.spans.get(pointer).map(|(_, v)| self.location(*v))
    }

    /// Where the key of `pointer` is written (list items have none: their value's position).
    pub fn locate_key(&self, pointer: &str) -> Option<Location> {
        self.spans
            .get(pointer)
            .map(|(k, v)| self.location(k.unwrap_or(*v)))
    }

    /// The value's position, else its nearest written ancestor's (a missing field is reported
    /// on the entry that lacks it), else the top of the base file.
    pub fn nearest(&self, pointer: &str) -> Location {
        let mut p = pointer;
        loop {
            if let Some(l) = self.locate(p) {
                return l;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => {
                    return self.location(Pos {
                        file: 0,
                        line: 1,
                        column: 1,
                    });
                }
            }
        }
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// One JSON-pointer reference token (RFC 6901 escaping).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
