//! Every check a pack must pass, with errors that name file, line, column and rule.

use std::collections::{HashMap, HashSet};

use super::format::{RawCondition, RawModel, RawPack};
use super::locate::Locator;
use super::{Condition, ModelDef, PackFormat, Phrase, Rule, RulePack};
use crate::error::{ErrorKind, PackError, PackErrors};
use crate::limits::*;

/// Where a condition stands: inside `context`, inside `near`.
#[derive(Clone, Copy, Default)]
struct Scope {
    context: bool,
    near: bool,
}

pub(super) struct Validator<'a> {
    locate: Locator<'a>,
    /// Known model names.
    model_names: Vec<String>,
    /// Signals used inside `context`, with who used them: they must not read the post's words.
    context_signal_uses: Vec<(String, Owner)>,
    warnings: Vec<PackError>,
    origin: &'a str,
    errors: Vec<PackError>,
}

impl<'a> Validator<'a> {
    pub fn new(
        source: &'a str,
        format: PackFormat,
        origin: &'a str,
        model_names: Vec<String>,
    ) -> Self {
        Validator {
            locate: Locator::new(source, format),
            model_names,
            context_signal_uses: Vec::new(),
            warnings: Vec::new(),
            origin,
            errors: Vec::new(),
        }
    }

    fn find_key(&self, key: &str) -> Option<(usize, usize)> {
        self.locate.find_key(key)
    }

    fn find_rule(&self, id: &str, occurrence: usize) -> Option<(usize, usize)> {
        self.locate.find_rule(id, occurrence)
    }

    fn find_signal(&self, name: &str) -> Option<(usize, usize)> {
        self.locate.find_signal(name)
    }

    fn find_text(&self, text: &str, after: Option<(usize, usize)>) -> Option<(usize, usize)> {
        self.locate.find_text(text, after)
    }
}

/// Who owns a condition being checked, for messages.
#[derive(Clone)]
struct Owner {
    label: String,
    position: Option<(usize, usize)>,
}

impl Validator<'_> {
    pub fn validate(mut self, raw: RawPack) -> Result<RulePack, PackErrors> {
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
            self.error_of(
                ErrorKind::Limit,
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
                self.error_of(
                    ErrorKind::Duplicate,
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
                    .kind(ErrorKind::Warning)
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
                        .kind(ErrorKind::Warning)
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
                        .kind(ErrorKind::Warning)
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
        check_rules_need_a_match(&pack)?;
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
            self.error_of(
                ErrorKind::Limit,
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
                self.error_of(
                    ErrorKind::UnknownName,
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
                self.error_of(
                    ErrorKind::UnknownName,
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
            self.error_of(
                ErrorKind::Limit,
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
                self.error_of(
                    ErrorKind::Limit,
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

    fn regex(&mut self, owner: &Owner, source: String) -> Option<crate::regexes::PackRegex> {
        let position = || self.find_text(&source, owner.position).or(owner.position);
        if source.chars().count() > MAX_REGEX_CHARS {
            let position = position();
            self.error_of(
                ErrorKind::Limit,
                owner,
                position,
                format!("regex is longer than {MAX_REGEX_CHARS} characters"),
            );
            return None;
        }
        if source.is_empty() {
            let position = position();
            self.error_of(ErrorKind::Regex, owner, position, "regex is empty");
            return None;
        }
        match crate::regexes::analyse(&source) {
            Ok((analysed, hir)) => {
                let runs_everywhere = analysed.prefixes.is_none();
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
                let common = analysed
                    .prefixes
                    .iter()
                    .flatten()
                    .find(|l| is_common_start(l))
                    .map(|l| l.trim_end().to_string());
                let cost = match (runs_everywhere, common) {
                    (true, _) => Some(format!(
                        "regex `{source}` has no literal start, so it runs on every post; \
                         starting it with words makes it cheaper"
                    )),
                    (false, Some(word)) => Some(format!(
                        "regex `{source}` starts with only `{word}`, so it is tried wherever \
                         those letters occur; a longer fixed start, or its alternatives as \
                         separate regexes, makes it cheaper"
                    )),
                    (false, None) => None,
                };
                if let Some(message) = cost {
                    let position = position();
                    let mut w = PackError::new(self.origin, message)
                        .at(position)
                        .kind(ErrorKind::Warning);
                    if !owner.label.is_empty() {
                        w = w.in_rule(&owner.label);
                    }
                    self.warnings.push(w);
                }
                Some(analysed)
            }
            Err(message) => {
                let position = position();
                self.error_of(ErrorKind::Regex, owner, position, message);
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
                self.error_of(
                    ErrorKind::Cycle,
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
        self.error_of(ErrorKind::Invalid, owner, position, message);
    }

    fn error_of(
        &mut self,
        kind: ErrorKind,
        owner: &Owner,
        position: Option<(usize, usize)>,
        message: impl Into<String>,
    ) {
        let mut e = PackError::new(self.origin, message).at(position).kind(kind);
        if !owner.label.is_empty() {
            e = e.in_rule(&owner.label);
        }
        self.errors.push(e);
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

/// Refuses rules that are true when nothing matches: they would flag every post. Each signal
/// is worked out once, so this is linear in the pack's size.
fn check_rules_need_a_match(pack: &RulePack) -> Result<(), PackErrors> {
    struct Check<'a> {
        pack: &'a RulePack,
        signals: HashMap<&'a str, &'a Condition>,
        memo: HashMap<&'a str, bool>,
    }
    impl<'a> Check<'a> {
        fn true_on_nothing(&mut self, c: &'a Condition) -> bool {
            let count = |this: &mut Self, parts: &'a [Condition]| {
                parts.iter().filter(|p| this.true_on_nothing(p)).count()
            };
            match c {
                Condition::Phrases(_) | Condition::Regex(_) | Condition::Range(_) => false,
                Condition::Near(..) => false,
                Condition::Model { name, above } => self
                    .pack
                    .models
                    .iter()
                    .find(|(n, _)| n == name)
                    .is_some_and(|(_, m)| crate::learn::sigmoid(m.bias) >= *above),
                Condition::Signal(name) => {
                    if let Some(&known) = self.memo.get(name.as_str()) {
                        return known;
                    }
                    self.memo.insert(name, false);
                    let r = match self.signals.get(name.as_str()) {
                        Some(c) => self.true_on_nothing(c),
                        None => false,
                    };
                    self.memo.insert(name, r);
                    r
                }
                Condition::All(parts) => count(self, parts) == parts.len(),
                Condition::Any(parts) => count(self, parts) > 0,
                Condition::None(parts) => count(self, parts) == 0,
                Condition::AtLeast(n, parts) => count(self, parts) >= *n,
                Condition::Context(inner) => self.true_on_nothing(inner),
            }
        }
    }
    let mut check = Check {
        pack,
        signals: pack.signals.iter().map(|(n, c)| (n.as_str(), c)).collect(),
        memo: HashMap::new(),
    };
    let errors: Vec<PackError> = pack
        .rules
        .iter()
        .filter(|r| check.true_on_nothing(&r.condition))
        .map(|r| {
            PackError::new(
                &pack.origin,
                "the condition is true when nothing matches, so the rule would fire on every post; \
                 use `none` only beside a positive part inside `all`",
            )
            .kind(ErrorKind::FiresAlways)
            .at(r.position)
            .in_rule(&r.id)
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PackErrors(errors))
    }
}

/// Is a regex's literal start a short word ("you", "say "), which nearly every post holds?
/// Digits and symbols make a start rare ("in 1", "do ["), so only letters and spaces count,
/// and only up to four bytes: the length at which an English word is still a common one.
fn is_common_start(literal: &str) -> bool {
    literal.len() <= 4 && literal.chars().all(|c| c.is_alphabetic() || c == ' ')
}
