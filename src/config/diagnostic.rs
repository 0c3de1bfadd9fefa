//! What the loader reports: every problem with its `file:line:column`, the resource it belongs
//! to, a stable kind name scripts can match on, and a hint when we can guess the fix.

use std::fmt;
use std::path::PathBuf;

/// A position in a configuration file; line and column are 1-based, as editors show them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// The closed set of problems; the snake_case name is part of the output contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiagnosticKind {
    Io,
    YamlSyntax,
    DuplicateKey,
    UnknownKey,
    MissingField,
    InvalidType,
    UnsupportedVersion,
    UnknownEnvironment,
    OverlayVersion,
    OverlayRemoveUnknown,
    RemoveOutsideOverlay,
    MissingVariable,
    InvalidVariable,
    LiteralSecret,
    InvalidPattern,
    InvalidTenantId,
    InvalidName,
    InvalidDomain,
    DuplicateId,
    DuplicateName,
    DuplicateDomain,
    DuplicatePermission,
    DuplicateRole,
    DuplicateFlow,
    UnknownParent,
    ParentCycle,
    TooDeep,
    SlashInRoleName,
    UnknownPermission,
    UnknownTenant,
    UnknownDefaultRole,
    MissingFile,
    InvalidJson,
    InvalidIgnoreChanges,
    InvalidRateLimit,
    /// A value of the right type outside what the field accepts (a duration, a URL).
    InvalidValue,
    InvalidStateSettings,
    UnknownTemplate,
    UnknownTemplateVariable,
    NestedTemplate,
    /// A warning: a template no tenant uses.
    UnusedTemplate,
    /// A role a resource names (an SSO application's group mapping) that the config does not
    /// declare.
    UnknownRole,
}

impl DiagnosticKind {
    pub fn as_str(self) -> &'static str {
        use DiagnosticKind::*;
        match self {
            Io => "io",
            YamlSyntax => "yaml_syntax",
            DuplicateKey => "duplicate_key",
            UnknownKey => "unknown_key",
            MissingField => "missing_field",
            InvalidType => "invalid_type",
            UnsupportedVersion => "unsupported_version",
            UnknownEnvironment => "unknown_environment",
            OverlayVersion => "overlay_version",
            OverlayRemoveUnknown => "overlay_remove_unknown",
            RemoveOutsideOverlay => "remove_outside_overlay",
            MissingVariable => "missing_variable",
            InvalidVariable => "invalid_variable",
            LiteralSecret => "literal_secret",
            InvalidPattern => "invalid_pattern",
            InvalidTenantId => "invalid_tenant_id",
            InvalidName => "invalid_name",
            InvalidDomain => "invalid_domain",
            DuplicateId => "duplicate_id",
            DuplicateName => "duplicate_name",
            DuplicateDomain => "duplicate_domain",
            DuplicatePermission => "duplicate_permission",
            DuplicateRole => "duplicate_role",
            DuplicateFlow => "duplicate_flow",
            UnknownParent => "unknown_parent",
            ParentCycle => "parent_cycle",
            TooDeep => "too_deep",
            SlashInRoleName => "slash_in_role_name",
            UnknownPermission => "unknown_permission",
            UnknownTenant => "unknown_tenant",
            UnknownDefaultRole => "unknown_default_role",
            MissingFile => "missing_file",
            InvalidJson => "invalid_json",
            InvalidIgnoreChanges => "invalid_ignore_changes",
            InvalidRateLimit => "invalid_rate_limit",
            InvalidValue => "invalid_value",
            InvalidStateSettings => "invalid_state_settings",
            UnknownTemplate => "unknown_template",
            UnknownTemplateVariable => "unknown_template_variable",
            NestedTemplate => "nested_template",
            UnusedTemplate => "unused_template",
            UnknownRole => "unknown_role",
        }
    }
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The resource the problem belongs to, e.g. `tenant.acme-corp`, `role.acme-corp/viewer`.
    pub address: Option<String>,
    pub kind: DiagnosticKind,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(at: &Location, kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Diagnostic {
            file: at.file.clone(),
            line: at.line,
            column: at.column,
            address: None,
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_address(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }
}

impl Diagnostic {
    /// The same line as `Display`, for a problem that does not stop the load.
    pub fn as_warning(&self) -> String {
        self.to_string().replacen(
            &format!(": error[{}]", self.kind),
            &format!(": warning[{}]", self.kind),
            1,
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error[{}] ", self.location(), self.kind)?;
        if let Some(a) = &self.address {
            write!(f, "{a}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Every problem found, printed in file/line/column order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
    /// Sorted and without repeats: the same base problem is found once per environment.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.kind, &a.address, &a.message)
                .cmp(&(&b.file, b.line, b.column, b.kind, &b.address, &b.message))
        });
        self.0.dedup();
        self
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sorted = self.clone().sorted();
        for d in &sorted.0 {
            writeln!(f, "{d}")?;
        }
        let n = sorted.0.len();
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// "did you mean `x`?" when one candidate is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
