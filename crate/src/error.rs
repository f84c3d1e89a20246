//! Errors in rule packs, each naming where it is.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::utf8::floor_char_boundary;

/// What kind of problem a [`PackError`] is, for programs that act on it (the extension's
/// import dialog, tests) without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The file is not valid TOML or JSON, or has a field of the wrong type or name.
    Syntax,
    /// A value is out of its allowed set or shape (ids, versions, weights, thresholds…).
    #[default]
    Invalid,
    /// A signal or model that does not exist.
    UnknownName,
    /// Two rules or packs with one id.
    Duplicate,
    /// A regex that does not compile, is too large, or matches empty text.
    Regex,
    /// A size limit is exceeded.
    Limit,
    /// Signals that refer to each other in a cycle.
    Cycle,
    /// A rule that would fire on every post.
    FiresAlways,
    /// A compiled pack file that is damaged, or of another format version.
    Compiled,
    /// A warning: the pack works, but something in it is probably unintended.
    Warning,
}

/// One problem in a rule pack: which file, where in it, which rule, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackError {
    pub kind: ErrorKind,
    /// The file name (or other origin label) the pack was read from.
    pub origin: String,
    /// 1-based line, when the problem can be placed.
    pub line: Option<usize>,
    /// 1-based column, in characters.
    pub column: Option<usize>,
    /// The rule (or `signal:NAME`) the problem belongs to.
    pub rule: Option<String>,
    pub message: String,
}

impl PackError {
    pub fn new(origin: &str, message: impl Into<String>) -> Self {
        PackError {
            kind: ErrorKind::Invalid,
            origin: origin.to_string(),
            line: None,
            column: None,
            rule: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, position: Option<(usize, usize)>) -> Self {
        if let Some((line, column)) = position {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    pub fn kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn in_rule(mut self, rule: impl Into<String>) -> Self {
        self.rule = Some(rule.into());
        self
    }
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(rule) = &self.rule {
            match rule.strip_prefix("signal:") {
                Some(signal) => write!(f, "signal `{signal}`: ")?,
                None => write!(f, "rule `{rule}`: ")?,
            }
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for PackError {}

/// All the problems found in one or more packs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackErrors(pub Vec<PackError>);

impl fmt::Display for PackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PackErrors {}

impl From<PackError> for PackErrors {
    fn from(e: PackError) -> Self {
        PackErrors(vec![e])
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, byte: usize) -> (usize, usize) {
    let byte = byte.min(source.len());
    let before = &source[..floor_char_boundary(source, byte)];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
