//! Rule packs: the file format, parsing, and validation with errors that say where.
//!
//! Parsing checks everything that can be checked on one pack alone: structure and unknown
//! fields, ids, references between rules and signals, regex syntax and size, number ranges,
//! limits. [`crate::Engine::compile`] then checks what needs all packs together.
//!
//! - `format`: the file format as serde reads it, and [`parse_pack`];
//! - `validate`: every check, with errors that name file, line, column and rule;
//! - `locate`: where things stand in a pack's source, found once per pack.
//!
//! The types here are what a validated pack is; they are serialisable, so a validated pack
//! can be stored compiled (see [`crate::compiled`]) and loaded without parsing it again.

use serde::{Deserialize, Serialize};

#[cfg(feature = "authoring")]
mod format;
#[cfg(feature = "authoring")]
mod locate;
#[cfg(feature = "authoring")]
mod validate;

#[cfg(feature = "authoring")]
pub use format::parse_pack;

use crate::error::PackError;

/// How a pack's text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackFormat {
    Toml,
    Json,
}

impl PackFormat {
    /// `.json` files are JSON; everything else is TOML.
    pub fn from_name(name: &str) -> PackFormat {
        if name.to_ascii_lowercase().ends_with(".json") {
            PackFormat::Json
        } else {
            PackFormat::Toml
        }
    }
}

/// How serious a rule's finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A parsed, validated rule pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulePack {
    pub origin: String,
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub languages: Vec<String>,
    pub license: String,
    pub threshold: f64,
    /// Named conditions, in name order.
    pub signals: Vec<(String, Condition)>,
    /// Learned n-gram scorers, in name order.
    pub models: Vec<(String, ModelDef)>,
    pub rules: Vec<Rule>,
    pub examples: Examples,
    /// Non-fatal findings (unused signals, rules without examples).
    pub warnings: Vec<PackError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub category: String,
    pub severity: Severity,
    pub weight: f64,
    pub description: String,
    pub enabled: bool,
    pub condition: Condition,
    pub examples: Examples,
    /// Where the rule's id stands in the source, for later errors.
    pub position: Option<(usize, usize)>,
}

/// A rule's or signal's condition, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// Phrases, each normalised at compile time; `prefix` when written with a trailing `*`.
    Phrases(Vec<Phrase>),
    /// A regex, with what the engine needs from it worked out when the pack was validated.
    Regex(crate::regexes::PackRegex),
    Range(NumberRange),
    Signal(String),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    None(Vec<Condition>),
    AtLeast(usize, Vec<Condition>),
    Near(usize, Vec<Condition>),
    /// True when the inner condition holds on the post's context (channel, group or thread
    /// title) rather than its text.
    Context(Box<Condition>),
    /// True when the named n-gram scorer gives the post a probability of at least `above`.
    Model {
        name: String,
        above: f64,
    },
}

/// A learned n-gram scorer as written in a pack (see [`crate::model`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelDef {
    pub description: String,
    pub bias: f64,
    /// Feature key → weight, in key order.
    pub weights: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phrase {
    pub text: String,
    pub prefix: bool,
    /// Written with a leading `^`: only at the start of a sentence (the text's start, or after
    /// punctuation other than a comma), where an English verb is an imperative.
    pub sentence_start: bool,
}

/// Which number ranges count: the low end within `low`, the high end within `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRange {
    pub low: [u32; 2],
    pub high: [u32; 2],
}

impl NumberRange {
    pub fn accepts(&self, low: u32, high: u32) -> bool {
        (self.low[0]..=self.low[1]).contains(&low) && (self.high[0]..=self.high[1]).contains(&high)
    }
}

/// Texts that must flag, and texts that must not.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Examples {
    pub flag: Vec<Example>,
    pub pass: Vec<Example>,
}

/// One example text, with the context it appears in when a rule reads context.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Example {
    pub text: String,
    pub context: Option<String>,
}

impl Examples {
    pub fn is_empty(&self) -> bool {
        self.flag.is_empty() && self.pass.is_empty()
    }
}
