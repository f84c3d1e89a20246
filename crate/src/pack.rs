//! Rule packs: the file format, parsing, and validation with errors that say where.
//!
//! Parsing checks everything that can be checked on one pack alone: structure and unknown
//! fields, ids, references between rules and signals, regex syntax and size, number ranges,
//! limits. [`crate::Engine::compile`] then checks what needs all packs together.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use crate::error::{line_column, PackError, PackErrors};
use crate::limits::*;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
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
#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Phrases, each normalised at compile time; `prefix` when written with a trailing `*`.
    Phrases(Vec<Phrase>),
    Regex(String),
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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelDef {
    pub description: String,
    pub bias: f64,
    /// Feature key → weight, in key order.
    pub weights: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phrase {
    pub text: String,
    pub prefix: bool,
    /// Written with a leading `^`: only at the start of a sentence (the text's start, or after
    /// punctuation other than a comma), where an English verb is an imperative.
    pub sentence_start: bool,
}

/// Which number ranges count: the low end within `low`, the high end within `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Examples {
    pub flag: Vec<Example>,
    pub pass: Vec<Example>,
}

/// One example text, with the context it appears in when a rule reads context.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Example {
    pub text: String,
    pub context: Option<String>,
}

impl Examples {
    pub fn is_empty(&self) -> bool {
        self.flag.is_empty() && self.pass.is_empty()
    }
}

// ---- the file format, as serde reads it ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    id: String,
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    languages: Vec<String>,
    license: String,
    threshold: f64,
    #[serde(default)]
    signals: BTreeMap<String, RawCondition>,
    #[serde(default)]
    models: BTreeMap<String, RawModel>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    examples: RawExamples,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    #[serde(default)]
    description: String,
    bias: f64,
    weights: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    category: String,
    severity: Severity,
    weight: f64,
    description: String,
    #[serde(default = "yes")]
    enabled: bool,
    condition: RawCondition,
    #[serde(default)]
    examples: RawExamples,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    phrases: Option<Vec<String>>,
    regex: Option<String>,
    range: Option<NumberRange>,
    signal: Option<String>,
    all: Option<Vec<RawCondition>>,
    any: Option<Vec<RawCondition>>,
    none: Option<Vec<RawCondition>>,
    at_least: Option<i64>,
    of: Option<Vec<RawCondition>>,
    near: Option<Vec<RawCondition>>,
    within: Option<i64>,
    context: Option<Box<RawCondition>>,
    model: Option<String>,
    above: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawExamples {
    #[serde(default)]
    flag: Vec<RawExample>,
    #[serde(default)]
    pass: Vec<RawExample>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawExample {
    Text(String),
    Detailed(DetailedExample),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetailedExample {
    text: String,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
    #[serde(default)]
    context: Option<String>,
}

impl RawExamples {
    fn into_examples(self) -> Examples {
        let text = |e: RawExample| match e {
            RawExample::Text(text) => Example {
                text,
                context: None,
            },
            RawExample::Detailed(d) => Example {
                text: d.text,
                context: d.context,
            },
        };
        Examples {
            flag: self.flag.into_iter().map(text).collect(),
            pass: self.pass.into_iter().map(text).collect(),
        }
    }
}

/// Parses and validates one pack. `origin` names it in errors (usually the file name).
pub fn parse_pack(source: &str, format: PackFormat, origin: &str) -> Result<RulePack, PackErrors> {
    if source.len() > MAX_PACK_BYTES {
        return Err(PackError::new(
            origin,
            format!(
                "pack is {} bytes; the limit is {MAX_PACK_BYTES}",
                source.len()
            ),
        )
        .into());
    }
    let raw: RawPack = match format {
        PackFormat::Toml => toml::from_str(source).map_err(|e| {
            let at = e.span().map(|s| line_column(source, s.start));
            PackError::new(origin, e.message().trim().to_string()).at(at)
        })?,
        PackFormat::Json => serde_json::from_str(source).map_err(|e| {
            let at = (e.line() > 0).then(|| (e.line(), e.column()));
            PackError::new(origin, strip_json_position(&e.to_string())).at(at)
        })?,
    };
    Validator {
        source,
        format,
        origin,
        errors: Vec::new(),
        id_offsets: id_offsets(source, format),
        key_offsets: key_offsets(source, format),
        lines: LineIndex::new(source),
        model_names: raw.models.keys().cloned().collect(),
        context_signal_uses: Vec::new(),
        warnings: Vec::new(),
    }
    .validate(raw)
}

fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Byte offsets of every `id = "…"` in the source, by id, in order.
fn id_offsets(source: &str, format: PackFormat) -> HashMap<String, Vec<usize>> {
    let pattern = match format {
        PackFormat::Toml => r#"(?m)^[ \t]*id[ \t]*=[ \t]*["']([^"'\n]*)["']"#,
        PackFormat::Json => r#""id"\s*:\s*"([^"\n]*)""#,
    };
    let mut offsets: HashMap<String, Vec<usize>> = HashMap::new();
    if let Ok(re) = regex::Regex::new(pattern) {
        for c in re.captures_iter(source) {
            let whole = c.get(0).map_or(0, |m| m.start());
            let indent = c[0].len() - c[0].trim_start().len();
            offsets
                .entry(c[1].to_string())
                .or_default()
                .push(whole + indent);
        }
    }
    offsets
}

/// Byte offset of the first place each table key (`name = …` or `[signals.name]`,
/// `"name":` in JSON) is written, by name. Signals and models are found here in one pass,
/// however many a pack has.
fn key_offsets(source: &str, format: PackFormat) -> HashMap<String, usize> {
    let pattern = match format {
        PackFormat::Toml => {
            r#"(?m)^[ \t]*(?:\[(?:signals|models)\.["']?([A-Za-z0-9_-]+)["']?\]|["']?([A-Za-z0-9_-]+)["']?[ \t]*=)"#
        }
        PackFormat::Json => r#""([A-Za-z0-9_-]+)"\s*:"#,
    };
    let mut offsets = HashMap::new();
    // Signals and models sit under their tables; keys before them are not theirs.
    let from = source
        .find("signals")
        .into_iter()
        .chain(source.find("models"))
        .min()
        .map_or(0, |i| i.saturating_sub(1));
    if let Ok(re) = regex::Regex::new(pattern) {
        for c in re.captures_iter(&source[from..]) {
            let Some(name) = c.get(1).or_else(|| c.get(2)) else {
                continue;
            };
            let whole = c.get(0).map_or(0, |m| m.start());
            let indent = c[0].len() - c[0].trim_start().len();
            offsets
                .entry(name.as_str().to_string())
                .or_insert(from + whole + indent);
        }
    }
    offsets
}

/// Line starts of a source, for turning byte offsets into lines and columns in log time.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn line_column(&self, source: &str, byte: usize) -> (usize, usize) {
        let byte = byte.min(source.len());
        let line = self.starts.partition_point(|&s| s <= byte);
        let start = self.starts[line - 1];
        let mut end = byte;
        while end > start && !source.is_char_boundary(end) {
            end -= 1;
        }
        (line, source[start..end].chars().count() + 1)
    }
}

/// Where a condition stands: inside `context`, inside `near`.
#[derive(Clone, Copy, Default)]
struct Scope {
    context: bool,
    near: bool,
}

struct Validator<'a> {
    id_offsets: HashMap<String, Vec<usize>>,
    /// Where each signal (or model) is defined, by name: found in one pass over the source.
    key_offsets: HashMap<String, usize>,
    lines: LineIndex,
    /// Known model names.
    model_names: Vec<String>,
    /// Signals used inside `context`, with who used them: they must not read the post's words.
    context_signal_uses: Vec<(String, Owner)>,
    warnings: Vec<PackError>,
    source: &'a str,
    format: PackFormat,
    origin: &'a str,
    errors: Vec<PackError>,
}

/// Who owns a condition being checked, for messages.
#[derive(Clone)]
struct Owner {
    label: String,
    position: Option<(usize, usize)>,
}

impl Validator<'_> {
    fn validate(mut self, raw: RawPack) -> Result<RulePack, PackErrors> {
        let top = Owner {
            label: String::new(),
            position: None,
        };
        self.check_identifier(&top, "pack id", &raw.id, "id");
        if raw.name.trim().is_empty() {
            self.error(&top, self.find_key("name"), "`name` is empty");
        }
        if !is_semver(&raw.version) {
            self.error(
                &top,
                self.find_key("version"),
                format!("version `{}` is not semver (like 1.2.0)", raw.version),
            );
        }
        if !(raw.threshold.is_finite() && raw.threshold > 0.0) {
            self.error(
                &top,
                self.find_key("threshold"),
                format!("threshold must be a number above 0, not {}", raw.threshold),
            );
        }
        if raw.rules.is_empty() {
            self.error(&top, None, "the pack has no rules");
        }
        if raw.rules.len() > MAX_RULES_PER_PACK {
            self.error(
                &top,
                None,
                format!(
                    "{} rules; the limit is {MAX_RULES_PER_PACK} per pack",
                    raw.rules.len()
                ),
            );
        }

        let mut models = Vec::new();
        for (name, raw_model) in raw.models {
            let owner = Owner {
                label: format!("model:{name}"),
                position: self.find_signal(&name),
            };
            self.check_identifier(&owner, "model name", &name, "");
            if let Some(m) = self.model(&owner, raw_model) {
                models.push((name, m));
            }
        }

        let names: Vec<String> = raw.signals.keys().cloned().collect();
        let signal_names: HashSet<&str> = names.iter().map(String::as_str).collect();
        let mut used_signals: HashSet<String> = HashSet::new();
        let mut signal_refs: HashMap<String, Vec<String>> = HashMap::new();

        let mut signals = Vec::new();
        for (name, raw_condition) in raw.signals {
            let owner = Owner {
                label: format!("signal:{name}"),
                position: self.find_signal(&name),
            };
            self.check_identifier(&owner, "signal name", &name, "");
            let mut refs = Vec::new();
            let condition = self.condition(
                &owner,
                raw_condition,
                &signal_names,
                &mut refs,
                1,
                Scope::default(),
            );
            used_signals.extend(refs.iter().cloned());
            signal_refs.insert(name.clone(), refs);
            if let Some(c) = condition {
                signals.push((name, c));
            }
        }
        self.check_signal_cycles(&signal_refs);

        let mut rules = Vec::new();
        let mut seen_ids: HashMap<String, usize> = HashMap::new();
        let mut warnings = Vec::new();
        for raw_rule in raw.rules {
            let occurrence = seen_ids.entry(raw_rule.id.clone()).or_insert(0);
            *occurrence += 1;
            let position = self.find_rule(&raw_rule.id, *occurrence);
            let owner = Owner {
                label: raw_rule.id.clone(),
                position,
            };
            if *occurrence == 2 {
                self.error(
                    &owner,
                    position,
                    format!("duplicate rule id `{}`", raw_rule.id),
                );
            }
            self.check_identifier(&owner, "rule id", &raw_rule.id, "");
            if !is_category(&raw_rule.category) {
                self.error(
                    &owner,
                    position,
                    format!(
                        "category `{}` must be lower-case letters, digits and `_`",
                        raw_rule.category
                    ),
                );
            }
            if !(raw_rule.weight.is_finite() && raw_rule.weight > 0.0 && raw_rule.weight <= 1000.0)
            {
                self.error(
                    &owner,
                    position,
                    format!(
                        "weight must be a number above 0 and at most 1000, not {}",
                        raw_rule.weight
                    ),
                );
            }
            if raw_rule.description.trim().is_empty() {
                self.error(&owner, position, "`description` is empty");
            }
            let mut refs = Vec::new();
            let condition = self.condition(
                &owner,
                raw_rule.condition,
                &signal_names,
                &mut refs,
                1,
                Scope::default(),
            );
            used_signals.extend(refs);
            let examples = raw_rule.examples.into_examples();
            if examples.flag.is_empty() || examples.pass.is_empty() {
                warnings.push(
                    PackError::new(
                        self.origin,
                        "rule should have examples that must flag and examples that must not",
                    )
                    .at(position)
                    .in_rule(&raw_rule.id),
                );
            }
            if let Some(condition) = condition {
                rules.push(Rule {
                    id: raw_rule.id,
                    category: raw_rule.category,
                    severity: raw_rule.severity,
                    weight: raw_rule.weight,
                    description: raw_rule.description,
                    enabled: raw_rule.enabled,
                    condition,
                    examples,
                    position,
                });
            }
        }
        for (name, _) in &signals {
            if !used_signals.contains(name) {
                warnings.push(
                    PackError::new(self.origin, "signal is never used")
                        .at(self.find_signal(name))
                        .in_rule(format!("signal:{name}")),
                );
            }
        }

        self.check_context_signals(&signals);
        for (name, _) in &models {
            let used = rules
                .iter()
                .map(|r| &r.condition)
                .chain(signals.iter().map(|(_, c)| c))
                .any(|c| uses_model(c, name));
            if !used {
                warnings.push(
                    PackError::new(self.origin, "model is never used")
                        .at(self.find_signal(name))
                        .in_rule(format!("model:{name}")),
                );
            }
        }

        if !self.errors.is_empty() {
            return Err(PackErrors(self.errors));
        }
        warnings.append(&mut self.warnings);
        let pack = RulePack {
            origin: self.origin.to_string(),
            id: raw.id,
            name: raw.name,
            version: raw.version,
            description: raw.description,
            languages: raw.languages,
            license: raw.license,
            threshold: raw.threshold,
            signals,
            models,
            rules,
            examples: raw.examples.into_examples(),
            warnings,
        };
        // A rule that fires with no positive match would flag every post.
        crate::engine::check_rules_need_a_match(&pack)?;
        Ok(pack)
    }

    fn condition(
        &mut self,
        owner: &Owner,
        raw: RawCondition,
        signals: &HashSet<&str>,
        refs: &mut Vec<String>,
        depth: usize,
        scope: Scope,
    ) -> Option<Condition> {
        if depth > MAX_CONDITION_DEPTH {
            self.error(
                owner,
                owner.position,
                format!("conditions nested deeper than {MAX_CONDITION_DEPTH} levels"),
            );
            return None;
        }
        let mut kinds = Vec::new();
        let present = [
            ("phrases", raw.phrases.is_some()),
            ("regex", raw.regex.is_some()),
            ("range", raw.range.is_some()),
            ("signal", raw.signal.is_some()),
            ("all", raw.all.is_some()),
            ("any", raw.any.is_some()),
            ("none", raw.none.is_some()),
            ("at_least", raw.at_least.is_some() || raw.of.is_some()),
            ("near", raw.near.is_some() || raw.within.is_some()),
            ("context", raw.context.is_some()),
            ("model", raw.model.is_some() || raw.above.is_some()),
        ];
        for (name, is) in present {
            if is {
                kinds.push(name);
            }
        }
        match kinds.len() {
            0 => {
                self.error(owner, owner.position, "a condition needs one of: phrases, regex, range, signal, all, any, none, at_least with of, near with within, context, model with above");
                return None;
            }
            1 => {}
            _ => {
                self.error(
                    owner,
                    owner.position,
                    format!(
                        "a condition has one kind, but this one has {}; wrap them in `all` or `any`",
                        kinds.join(" and ")
                    ),
                );
                return None;
            }
        }
        if let Some(phrases) = raw.phrases {
            return self.phrases(owner, phrases).map(Condition::Phrases);
        }
        if let Some(regex) = raw.regex {
            return self.regex(owner, regex).map(Condition::Regex);
        }
        if let Some(range) = raw.range {
            if range.low[0] > range.low[1] || range.high[0] > range.high[1] {
                self.error(
                    owner,
                    owner.position,
                    format!(
                        "inverted range: low [{}, {}], high [{}, {}]; write each as [smallest, largest]",
                        range.low[0], range.low[1], range.high[0], range.high[1]
                    ),
                );
                return None;
            }
            if range.low[0] > range.high[1] {
                self.error(
                    owner,
                    owner.position,
                    "range can never match: every low end is above every high end",
                );
                return None;
            }
            return Some(Condition::Range(range));
        }
        if let Some(name) = raw.signal {
            if !signals.contains(name.as_str()) {
                let position = self.find_text(&name, owner.position).or(owner.position);
                let mut known: Vec<&str> = signals.iter().copied().collect();
                known.sort_unstable();
                self.error(
                    owner,
                    position,
                    format!(
                        "unknown signal `{name}`{}",
                        closest(&name, &known)
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default()
                    ),
                );
                return None;
            }
            refs.push(name.clone());
            if scope.context {
                self.context_signal_uses.push((name.clone(), owner.clone()));
            }
            return Some(Condition::Signal(name));
        }
        if let Some(inner) = raw.context {
            if scope.context {
                self.error(owner, owner.position, "`context` inside `context`");
                return None;
            }
            if scope.near {
                self.error(
                    owner,
                    owner.position,
                    "`context` cannot be a part of `near`: it matches no words of the post",
                );
                return None;
            }
            let inner = self.condition(
                owner,
                *inner,
                signals,
                refs,
                depth + 1,
                Scope {
                    context: true,
                    near: false,
                },
            )?;
            return Some(Condition::Context(Box::new(inner)));
        }
        if raw.model.is_some() || raw.above.is_some() {
            let (Some(name), Some(above)) = (raw.model, raw.above) else {
                self.error(
                    owner,
                    owner.position,
                    "`model` and `above` go together: { model = \"name\", above = 0.8 }",
                );
                return None;
            };
            if scope.context {
                self.error(
                    owner,
                    owner.position,
                    "a model scores the post's text; it cannot be used inside `context`",
                );
                return None;
            }
            if !self.model_names.contains(&name) {
                let position = self.find_text(&name, owner.position).or(owner.position);
                let known: Vec<&str> = self.model_names.iter().map(String::as_str).collect();
                self.error(
                    owner,
                    position,
                    format!(
                        "unknown model `{name}`{}",
                        closest(&name, &known)
                            .map(|c| format!(" (did you mean `{c}`?)"))
                            .unwrap_or_default()
                    ),
                );
                return None;
            }
            if !(above.is_finite() && above > 0.0 && above < 1.0) {
                self.error(
                    owner,
                    owner.position,
                    format!("above = {above}: a model's probability threshold must be above 0 and below 1"),
                );
                return None;
            }
            return Some(Condition::Model { name, above });
        }
        let mut list = |this: &mut Self, what: &str, parts: Vec<RawCondition>| {
            if parts.is_empty() {
                this.error(owner, owner.position, format!("`{what}` list is empty"));
                return None;
            }
            let mut out = Vec::with_capacity(parts.len());
            let mut ok = true;
            let inner = Scope {
                near: scope.near || what == "near",
                ..scope
            };
            for part in parts {
                match this.condition(owner, part, signals, refs, depth + 1, inner) {
                    Some(c) => out.push(c),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        };
        if let Some(parts) = raw.all {
            return list(self, "all", parts).map(Condition::All);
        }
        if let Some(parts) = raw.any {
            return list(self, "any", parts).map(Condition::Any);
        }
        if let Some(parts) = raw.none {
            return list(self, "none", parts).map(Condition::None);
        }
        if raw.at_least.is_some() || raw.of.is_some() {
            let (Some(n), Some(parts)) = (raw.at_least, raw.of) else {
                self.error(
                    owner,
                    owner.position,
                    "`at_least` and `of` go together: { at_least = 2, of = [...] }",
                );
                return None;
            };
            let count = parts.len();
            let parts = list(self, "of", parts)?;
            if n < 1 || n as usize > count {
                self.error(
                    owner,
                    owner.position,
                    format!("at_least = {n}, but `of` has {count} parts"),
                );
                return None;
            }
            return Some(Condition::AtLeast(n as usize, parts));
        }
        let (Some(parts), Some(within)) = (raw.near, raw.within) else {
            self.error(
                owner,
                owner.position,
                "`near` and `within` go together: { near = [...], within = 10 }",
            );
            return None;
        };
        if within < 1 || within > MAX_NEAR_WINDOW as i64 {
            self.error(
                owner,
                owner.position,
                format!("within = {within}: the window must be 1 to {MAX_NEAR_WINDOW} words"),
            );
            return None;
        }
        if parts.len() < 2 {
            self.error(owner, owner.position, "`near` needs at least two parts");
            return None;
        }
        let parts = list(self, "near", parts)?;
        if parts.iter().any(|p| matches!(p, Condition::None(_))) {
            self.error(
                owner,
                owner.position,
                "`none` cannot be a part of `near`: it matches no words",
            );
            return None;
        }
        Some(Condition::Near(within as usize, parts))
    }

    fn model(&mut self, owner: &Owner, raw: RawModel) -> Option<ModelDef> {
        let mut ok = true;
        if !raw.bias.is_finite() || raw.bias.abs() > 1000.0 {
            self.error(
                owner,
                owner.position,
                format!("bias must be a number from -1000 to 1000, not {}", raw.bias),
            );
            ok = false;
        }
        if raw.weights.len() > MAX_MODEL_FEATURES {
            self.error(
                owner,
                owner.position,
                format!(
                    "{} weights; the limit is {MAX_MODEL_FEATURES} per model",
                    raw.weights.len()
                ),
            );
            return None;
        }
        let mut bad = 0;
        for (key, w) in &raw.weights {
            let problem = crate::model::check_feature_key(key).err().or_else(|| {
                (!w.is_finite() || w.abs() > 1000.0)
                    .then(|| format!("weight of `{key}` must be a number from -1000 to 1000"))
            });
            if let Some(message) = problem {
                bad += 1;
                // One message per problem, up to a point: a broken learned table can be long.
                if bad <= 20 {
                    let position = self.find_text(key, owner.position).or(owner.position);
                    self.error(owner, position, message);
                }
                ok = false;
            }
        }
        if bad > 20 {
            self.error(
                owner,
                owner.position,
                format!("… and {} more bad weights", bad - 20),
            );
        }
        ok.then(|| ModelDef {
            description: raw.description,
            bias: raw.bias,
            weights: raw.weights.into_iter().collect(),
        })
    }

    /// Signals used inside `context` must not read the post's words (`near`, models).
    fn check_context_signals(&mut self, signals: &[(String, Condition)]) {
        if self.context_signal_uses.is_empty() {
            return;
        }
        let by_name: HashMap<&str, &Condition> =
            signals.iter().map(|(n, c)| (n.as_str(), c)).collect();
        let mut memo: HashMap<String, bool> = HashMap::new();
        fn reads_words<'a>(
            c: &'a Condition,
            by_name: &HashMap<&str, &'a Condition>,
            memo: &mut HashMap<String, bool>,
        ) -> bool {
            match c {
                Condition::Near(..) | Condition::Model { .. } | Condition::Context(_) => true,
                Condition::Signal(name) => {
                    if let Some(&known) = memo.get(name) {
                        return known;
                    }
                    // Cycles were refused already; mark first so a cycle cannot recurse.
                    memo.insert(name.clone(), false);
                    let r = by_name
                        .get(name.as_str())
                        .is_some_and(|c| reads_words(c, by_name, memo));
                    memo.insert(name.clone(), r);
                    r
                }
                Condition::All(p)
                | Condition::Any(p)
                | Condition::None(p)
                | Condition::AtLeast(_, p) => p.iter().any(|c| reads_words(c, by_name, memo)),
                Condition::Phrases(_) | Condition::Regex(_) | Condition::Range(_) => false,
            }
        }
        let uses = std::mem::take(&mut self.context_signal_uses);
        let mut reported = HashSet::new();
        for (name, owner) in uses {
            let signal = Condition::Signal(name.clone());
            if reads_words(&signal, &by_name, &mut memo)
                && reported.insert((name.clone(), owner.label.clone()))
            {
                self.error(
                    &owner,
                    owner.position,
                    format!(
                        "signal `{name}` is used inside `context`, but it uses `near` or a model, which read the post's words"
                    ),
                );
            }
        }
    }

    fn phrases(&mut self, owner: &Owner, phrases: Vec<String>) -> Option<Vec<Phrase>> {
        if phrases.is_empty() {
            self.error(owner, owner.position, "`phrases` list is empty");
            return None;
        }
        let mut out = Vec::with_capacity(phrases.len());
        let mut ok = true;
        for written in phrases {
            let position = || self.find_text(&written, owner.position).or(owner.position);
            let (text, sentence_start) = match written.trim().strip_prefix('^') {
                Some(rest) => (rest.trim_start(), true),
                None => (written.trim(), false),
            };
            let (text, prefix) = match text.strip_suffix('*') {
                Some(stem) => (stem.trim_end().to_string(), true),
                None => (text.to_string(), false),
            };
            if text.contains('^') {
                let position = position();
                self.error(
                    owner,
                    position,
                    format!("phrase `{written}`: `^` is only allowed at the start"),
                );
                ok = false;
                continue;
            }
            // Inner words may be stems too (`военн* служб*`): a `*` ends a word.
            let inner_stars_ok = text
                .split('*')
                .skip(1)
                .all(|after| after.is_empty() || after.starts_with(' '));
            if !inner_stars_ok {
                let position = position();
                self.error(
                    owner,
                    position,
                    format!("phrase `{written}`: `*` is only allowed at the end of a word"),
                );
                ok = false;
                continue;
            }
            let short_stem = text.split(' ').any(|w| {
                w.strip_suffix('*')
                    .is_some_and(|stem| stem.chars().filter(|c| c.is_alphanumeric()).count() < 3)
            });
            if short_stem {
                let position = position();
                self.error(
                    owner,
                    position,
                    format!("phrase `{written}`: a stem needs at least 3 letters"),
                );
                ok = false;
                continue;
            }
            if text.contains('*') && sentence_start {
                let position = position();
                self.error(
                    owner,
                    position,
                    format!("phrase `{written}`: `^` cannot start a phrase of several stems"),
                );
                ok = false;
                continue;
            }
            if text.chars().count() > MAX_PHRASE_CHARS {
                let position = position();
                self.error(
                    owner,
                    position,
                    format!("phrase is longer than {MAX_PHRASE_CHARS} characters"),
                );
                ok = false;
                continue;
            }
            if crate::normalize::normalize_phrase(&text).is_empty() {
                let position = position();
                self.error(
                    owner,
                    position,
                    format!("phrase `{written}` is empty once normalised"),
                );
                ok = false;
                continue;
            }
            if prefix && text.chars().count() < 3 {
                let position = position();
                self.error(
                    owner,
                    position,
                    format!(
                        "prefix phrase `{written}` is too short: a stem needs at least 3 letters"
                    ),
                );
                ok = false;
                continue;
            }
            out.push(Phrase {
                text,
                prefix,
                sentence_start,
            });
        }
        ok.then_some(out)
    }

    fn regex(&mut self, owner: &Owner, source: String) -> Option<String> {
        let position = || self.find_text(&source, owner.position).or(owner.position);
        if source.chars().count() > MAX_REGEX_CHARS {
            let position = position();
            self.error(
                owner,
                position,
                format!("regex is longer than {MAX_REGEX_CHARS} characters"),
            );
            return None;
        }
        if source.is_empty() {
            let position = position();
            self.error(owner, position, "regex is empty");
            return None;
        }
        match crate::engine::check_regex(&source) {
            Ok(hir) => {
                let runs_everywhere =
                    crate::engine::literal_prefixes(&crate::engine::relax(&hir)).is_none();
                if hir.properties().minimum_len() == Some(0) {
                    let position = position();
                    self.error(
                        owner,
                        position,
                        format!(
                            "regex `{source}` can match empty text, so it would match every post"
                        ),
                    );
                    return None;
                }
                if runs_everywhere {
                    let position = position();
                    let mut w = PackError::new(
                        self.origin,
                        format!(
                            "regex `{source}` has no literal start, so it runs on every post; \
                             starting it with words makes it cheaper"
                        ),
                    )
                    .at(position);
                    if !owner.label.is_empty() {
                        w = w.in_rule(&owner.label);
                    }
                    self.warnings.push(w);
                }
                Some(source)
            }
            Err(message) => {
                let position = position();
                self.error(owner, position, message);
                None
            }
        }
    }

    fn check_identifier(&mut self, owner: &Owner, what: &str, value: &str, key: &str) {
        let ok = !value.is_empty()
            && value.len() <= 100
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && value.as_bytes()[0].is_ascii_alphanumeric();
        if !ok {
            let position = if key.is_empty() {
                owner.position
            } else {
                self.find_key(key)
            };
            self.error(
                owner,
                position,
                format!("{what} `{value}` must be lower-case letters, digits, `-` and `_`"),
            );
        }
    }

    fn check_signal_cycles(&mut self, refs: &HashMap<String, Vec<String>>) {
        // Depth-first search; a grey node met again closes a cycle.
        fn visit<'a>(
            name: &'a str,
            refs: &'a HashMap<String, Vec<String>>,
            state: &mut HashMap<&'a str, u8>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            match state.get(name) {
                Some(1) => {
                    let start = path.iter().position(|n| *n == name).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(name.to_string());
                    return Some(cycle);
                }
                Some(_) => return None,
                None => {}
            }
            state.insert(name, 1);
            path.push(name);
            for next in refs.get(name).into_iter().flatten() {
                if let Some(cycle) = visit(next, refs, state, path) {
                    return Some(cycle);
                }
            }
            path.pop();
            state.insert(name, 2);
            None
        }
        let mut names: Vec<&String> = refs.keys().collect();
        names.sort();
        let mut state = HashMap::new();
        for name in names {
            let mut path = Vec::new();
            if let Some(cycle) = visit(name, refs, &mut state, &mut path) {
                let owner = Owner {
                    label: format!("signal:{}", cycle[0]),
                    position: self.find_signal(&cycle[0]),
                };
                self.error(
                    &owner,
                    owner.position,
                    format!(
                        "signals refer to each other in a cycle: {}",
                        cycle.join(" → ")
                    ),
                );
                return;
            }
        }
    }

    fn error(
        &mut self,
        owner: &Owner,
        position: Option<(usize, usize)>,
        message: impl Into<String>,
    ) {
        let mut e = PackError::new(self.origin, message).at(position);
        if !owner.label.is_empty() {
            e = e.in_rule(&owner.label);
        }
        self.errors.push(e);
    }

    // ---- finding where things stand in the source, for messages ----

    fn find_key(&self, key: &str) -> Option<(usize, usize)> {
        let pattern = match self.format {
            PackFormat::Toml => format!(r#"(?m)^\s*{}\s*="#, regex::escape(key)),
            PackFormat::Json => format!(r#""{}"\s*:"#, regex::escape(key)),
        };
        self.find_pattern(&pattern, 0, 1)
    }

    fn find_rule(&self, id: &str, occurrence: usize) -> Option<(usize, usize)> {
        let offset = *self.id_offsets.get(id)?.get(occurrence - 1)?;
        Some(self.lines.line_column(self.source, offset))
    }

    /// Where a signal or a model is defined.
    fn find_signal(&self, name: &str) -> Option<(usize, usize)> {
        let offset = *self.key_offsets.get(name)?;
        Some(self.lines.line_column(self.source, offset))
    }

    /// The first place after `after` where `text` is written (as is or JSON-escaped).
    fn find_text(&self, text: &str, after: Option<(usize, usize)>) -> Option<(usize, usize)> {
        let from = after.map_or(0, |(line, _)| {
            self.lines.starts.get(line - 1).copied().unwrap_or(0)
        });
        let hay = self.source.get(from..)?;
        let escaped = serde_json::to_string(text).ok()?;
        let escaped = &escaped[1..escaped.len() - 1];
        let at = hay.find(text).or_else(|| hay.find(escaped))?;
        Some(self.lines.line_column(self.source, from + at))
    }

    fn find_pattern(
        &self,
        pattern: &str,
        from: usize,
        occurrence: usize,
    ) -> Option<(usize, usize)> {
        let re = regex::Regex::new(pattern).ok()?;
        let m = re.find_iter(self.source.get(from..)?).nth(occurrence - 1)?;
        let text = m.as_str();
        let skip = text.len() - text.trim_start().len();
        Some(self.lines.line_column(self.source, from + m.start() + skip))
    }
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

fn is_category(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 60
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The known name nearest to a misspelt one, if it is near enough to be a typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=b.len() {
            let cur = row[j];
            row[j] = (row[j] + 1)
                .min(row[j - 1] + 1)
                .min(prev + usize::from(a[i - 1] != b[j - 1]));
            prev = cur;
        }
    }
    row[b.len()]
}

/// Does the condition use the named model (directly, not through signals)?
fn uses_model(c: &Condition, name: &str) -> bool {
    match c {
        Condition::Model { name: n, .. } => n == name,
        Condition::All(p) | Condition::Any(p) | Condition::None(p) | Condition::AtLeast(_, p) => {
            p.iter().any(|c| uses_model(c, name))
        }
        Condition::Near(_, p) => p.iter().any(|c| uses_model(c, name)),
        Condition::Context(c) => uses_model(c, name),
        Condition::Phrases(_)
        | Condition::Regex(_)
        | Condition::Range(_)
        | Condition::Signal(_) => false,
    }
}
