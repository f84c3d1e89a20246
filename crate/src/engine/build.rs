//! Building an engine from validated packs, in steps: the packs are checked together, every
//! condition becomes a tree of nodes over leaves, each rule gets the cheapest set of leaves it
//! needs, and the phrases and regex triggers go into one automaton.

use std::collections::HashMap;

use crate::automaton::PhraseAutomaton;

use super::*;
use crate::error::{ErrorKind, PackError, PackErrors};
use crate::limits::*;
use crate::model::NgramScorer;
use crate::normalize::{normalize_phrase_with, word_starts_at, Normalized};
use crate::pack::{Condition, RulePack};

/// Leaves of which at least one must have matched for `node` to be true, if such a set is
/// known. Lets a scan skip, with a few lookups, every rule whose words are absent.
/// Leaves found only on demand (number ranges, models) are avoided when another part would
/// do, so that they need only be computed in posts where the rest of a rule already matched.
/// Signals are worked out once each (`memo`), so the cost is linear in the pack's size.
/// Of the alternatives, the one with the lowest `cost`: the leaves least likely to match in an
/// ordinary post (see `Builder::leaf_cost`).
fn necessary_leaves(
    node: &Node,
    signals: &[Node],
    cost: &[u32],
    memo: &mut [Option<Option<Vec<u32>>>],
) -> Option<Vec<u32>> {
    match node {
        Node::Leaf(leaf) => Some(vec![*leaf]),
        Node::Signal(i) => {
            let i = *i as usize;
            if memo[i].is_none() {
                // Cycles are refused when packs are parsed; mark first all the same.
                memo[i] = Some(None);
                let found = necessary_leaves(&signals[i], signals, cost, memo);
                memo[i] = Some(found);
            }
            memo[i].clone().flatten()
        }
        Node::Any(parts) | Node::AtLeast(_, parts) => {
            let mut all = Vec::new();
            for p in parts {
                all.extend(necessary_leaves(p, signals, cost, memo)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
        Node::All(parts) | Node::Near(_, parts) => parts
            .iter()
            .filter_map(|p| necessary_leaves(p, signals, cost, memo))
            .min_by_key(|leaves| {
                leaves
                    .iter()
                    .map(|&l| u64::from(cost[l as usize]))
                    .sum::<u64>()
            }),
        Node::Context(inner) => necessary_leaves(inner, signals, cost, memo),
        Node::None(_) => None,
    }
}

struct Builder<'a> {
    options: &'a EngineOptions,
    leaf_count: u32,
    leaf_kind: Vec<LeafKind>,
    leaf_in_context: Vec<bool>,
    /// How likely each leaf is to match an ordinary post: short words match often. Used to
    /// pick the cheapest necessary leaves of each rule.
    leaf_cost: Vec<u32>,
    /// Per signal: its condition contains `near` (costly to evaluate), once known.
    signal_near: Vec<Option<bool>>,
    patterns: Vec<String>,
    pattern_index: HashMap<String, usize>,
    /// Buffers for normalising phrases.
    norm: Normalized,
    uses_by_pattern: Vec<Vec<PatternUse>>,
    regex_sources: Vec<crate::regexes::PackRegex>,
    regex_leaves: Vec<u32>,
    stem_phrases: Vec<Vec<StemWord>>,
    ranges: Vec<(u32, NumberRange)>,
    phrase_count: usize,
    /// Compiled signals; a signal used inside `context` gets a second, context copy.
    signals: Vec<Node>,
    signal_names: Vec<String>,
    /// Model index by name, for the pack being compiled.
    model_index: HashMap<String, u32>,
    model_leaves: Vec<Vec<u32>>,
}

/// The names a pack's conditions refer to, while it is being compiled.
struct PackScope<'p> {
    conditions: HashMap<&'p str, &'p Condition>,
    /// Signal name → index in `signals`, for the text and the context copies.
    text: HashMap<&'p str, u32>,
    context: HashMap<&'p str, u32>,
}

impl Builder<'_> {
    fn add_pattern(&mut self, text: String, usage: PatternUse) {
        let id = match self.pattern_index.get(&text) {
            Some(&id) => id,
            None => {
                self.patterns.push(text.clone());
                self.uses_by_pattern.push(Vec::new());
                self.pattern_index.insert(text, self.patterns.len() - 1);
                self.patterns.len() - 1
            }
        };
        self.uses_by_pattern[id].push(usage);
    }

    fn leaf(&mut self, kind: LeafKind, in_context: bool) -> u32 {
        self.leaf_count += 1;
        self.leaf_kind.push(kind);
        self.leaf_in_context.push(in_context);
        // Leaves found only on demand are the last choice for a rule's necessary leaves.
        self.leaf_cost.push(match kind {
            LeafKind::Words => 0,
            LeafKind::Range | LeafKind::Model(..) => 1 << 20,
        });
        self.leaf_count - 1
    }

    /// Does evaluating this node take a `near` (word positions of every hit)?
    fn has_near(&mut self, node: &Node) -> bool {
        match node {
            Node::Near(..) => true,
            Node::Leaf(_) => false,
            Node::Signal(i) => {
                let i = *i as usize;
                if self.signal_near.len() <= i {
                    self.signal_near.resize(i + 1, None);
                }
                if let Some(known) = self.signal_near[i] {
                    return known;
                }
                self.signal_near[i] = Some(false);
                // Signals are compiled before they are referred to.
                let node = std::mem::replace(&mut self.signals[i], Node::Leaf(0));
                let found = self.has_near(&node);
                self.signals[i] = node;
                self.signal_near[i] = Some(found);
                found
            }
            Node::All(p) | Node::Any(p) | Node::None(p) | Node::AtLeast(_, p) => {
                p.iter().any(|n| self.has_near(n))
            }
            Node::Context(inner) => self.has_near(inner),
        }
    }

    /// The index of a signal's compiled node (compiling it on first use).
    fn signal<'p>(&mut self, name: &'p str, scope: &mut PackScope<'p>, in_context: bool) -> u32 {
        let known = if in_context {
            scope.context.get(name)
        } else {
            scope.text.get(name)
        };
        if let Some(&i) = known {
            return i;
        }
        let condition = scope.conditions[name];
        let node = self.node(condition, scope, in_context);
        self.signals.push(node);
        self.signal_names.push(if in_context {
            format!("{name} (context)")
        } else {
            name.to_string()
        });
        let i = (self.signals.len() - 1) as u32;
        if in_context {
            scope.context.insert(name, i);
        } else {
            scope.text.insert(name, i);
        }
        i
    }

    fn node<'p>(&mut self, c: &'p Condition, scope: &mut PackScope<'p>, in_context: bool) -> Node {
        let mut list = |b: &mut Self, parts: &'p [Condition]| -> Vec<Node> {
            parts.iter().map(|p| b.node(p, scope, in_context)).collect()
        };
        match c {
            Condition::Phrases(phrases) => {
                let leaf = self.leaf(LeafKind::Words, in_context);
                for phrase in phrases {
                    if phrase.text.contains('*') {
                        // Several stems (`военн* служб*`): the automaton finds the first word,
                        // the rest are checked where it ends.
                        let count = phrase.text.split(' ').filter(|w| !w.is_empty()).count();
                        let norm = &mut self.norm;
                        let mut words = phrase
                            .text
                            .split(' ')
                            .filter(|w| !w.is_empty())
                            .enumerate()
                            .map(|(i, w)| {
                                let (word, stem) = match w.strip_suffix('*') {
                                    Some(stem) => (stem, true),
                                    None => (w, false),
                                };
                                StemWord {
                                    text: normalize_phrase_with(word, norm)
                                        .into_bytes()
                                        .into_boxed_slice(),
                                    stem: stem || (i + 1 == count && phrase.prefix),
                                }
                            });
                        let first = words.next().expect("a phrase has a word");
                        self.stem_phrases.push(words.collect());
                        self.phrase_count += 1;
                        self.add_pattern(
                            String::from_utf8_lossy(&first.text).into_owned(),
                            PatternUse::Stems {
                                leaf,
                                first_is_stem: first.stem,
                                n: (self.stem_phrases.len() - 1) as u32,
                            },
                        );
                        continue;
                    }
                    let text = normalize_phrase_with(&phrase.text, &mut self.norm);
                    self.phrase_count += 1;
                    let first = text.chars().next().is_some_and(char::is_alphanumeric);
                    let last = text.chars().last().is_some_and(char::is_alphanumeric);
                    self.add_pattern(
                        text,
                        PatternUse::Phrase {
                            leaf,
                            start_boundary: first,
                            end_boundary: last && !phrase.prefix,
                            prefix: phrase.prefix,
                            sentence_start: phrase.sentence_start,
                        },
                    );
                }
                let cost: u32 = phrases
                    .iter()
                    .map(|p| match alphanumeric_up_to_7(&p.text) {
                        _ if p.text.contains('*') => 2,
                        0..=2 => 64,
                        3 => 16,
                        4 => 4,
                        5 | 6 => 2,
                        _ => 1,
                    })
                    .sum();
                self.leaf_cost[leaf as usize] = cost;
                Node::Leaf(leaf)
            }
            Condition::Regex(regex) => {
                let leaf = self.leaf(LeafKind::Words, in_context);
                self.leaf_cost[leaf as usize] = 4;
                self.regex_sources.push(regex.clone());
                self.regex_leaves.push(leaf);
                Node::Leaf(leaf)
            }
            Condition::Range(range) => {
                let leaf = self.leaf(LeafKind::Range, in_context);
                self.ranges.push((leaf, *range));
                Node::Leaf(leaf)
            }
            Condition::Model { name, above } => {
                let m = self.model_index[name.as_str()];
                let leaf = self.leaf(LeafKind::Model(m, *above), false);
                self.model_leaves[m as usize].push(leaf);
                Node::Leaf(leaf)
            }
            Condition::Signal(name) => Node::Signal(self.signal(name, scope, in_context)),
            Condition::All(parts) => {
                // Cheap parts first: a `near` is worked out only when the rest holds.
                let mut nodes = list(self, parts);
                let mut keyed: Vec<(bool, Node)> =
                    nodes.drain(..).map(|n| (self.has_near(&n), n)).collect();
                keyed.sort_by_key(|(near, _)| *near);
                Node::All(keyed.into_iter().map(|(_, n)| n).collect())
            }
            Condition::Any(parts) => Node::Any(list(self, parts)),
            Condition::None(parts) => Node::None(list(self, parts)),
            Condition::AtLeast(n, parts) => Node::AtLeast(*n, list(self, parts)),
            Condition::Near(window, parts) => Node::Near(*window, list(self, parts)),
            Condition::Context(inner) => Node::Context(Box::new(self.node(inner, scope, true))),
        }
    }
}

impl Engine {
    /// Compiles packs (already parsed and validated by [`crate::parse_pack`], or loaded from
    /// their compiled form) into an engine.
    pub fn compile(packs: &[RulePack], options: &EngineOptions) -> Result<Engine, PackErrors> {
        check_together(packs, options)?;
        let mut b = Builder::new(options);
        let built = b.add_packs(packs);
        b.check_limits(packs, &built)?;
        let Built {
            infos,
            models,
            mut rules,
            ..
        } = built;
        let signals = std::mem::take(&mut b.signals);
        let signal_names = std::mem::take(&mut b.signal_names);
        let eager_ranges = b.set_needs(&mut rules, &signals);
        let origin = packs.first().map_or("packs", |p| p.origin.as_str());
        let unanchored = b.regex_triggers();
        let regexes: Vec<EngineRegex> = b
            .regex_sources
            .drain(..)
            .zip(b.regex_leaves.drain(..))
            .map(|(regex, leaf)| EngineRegex {
                program: regex.program,
                leaf,
            })
            .collect();
        // Programs come with compiled packs, which may have been stored: check them once.
        if let Some(e) = regexes.iter().find_map(|r| r.program.check().err()) {
            return Err(PackErrors(vec![PackError::new(origin, e)]));
        }
        let (phrases, pattern_uses, phrase_uses) = b.automaton(origin)?;
        let mut by_leaf = vec![Vec::new(); b.leaf_count as usize];
        for (r, rule) in rules.iter().enumerate() {
            for &leaf in &rule.needs {
                if by_leaf[leaf as usize].last() != Some(&(r as u32)) {
                    by_leaf[leaf as usize].push(r as u32);
                }
            }
        }
        let mut leaf_rule_starts = Vec::with_capacity(by_leaf.len() + 1);
        leaf_rule_starts.push(0u32);
        let mut leaf_rules = Vec::new();
        for list in by_leaf {
            leaf_rules.extend(list);
            leaf_rule_starts.push(leaf_rules.len() as u32);
        }
        let rules_without_needs = rules.iter().any(|r| r.needs.is_empty());
        Ok(Engine {
            packs: infos,
            phrases,
            pattern_uses,
            phrase_uses,
            unanchored,
            regexes,
            stem_phrases: std::mem::take(&mut b.stem_phrases),
            ranges: std::mem::take(&mut b.ranges),
            has_context_leaves: b.leaf_in_context.iter().any(|&c| c),
            leaf_kind: std::mem::take(&mut b.leaf_kind),
            leaf_in_context: std::mem::take(&mut b.leaf_in_context),
            eager_ranges,
            leaf_count: b.leaf_count as usize,
            signals,
            signal_names,
            models,
            model_leaves: std::mem::take(&mut b.model_leaves),
            rules,
            leaf_rule_starts,
            leaf_rules,
            rules_without_needs,
        })
    }
}

/// What the packs need of each other and of the settings: distinct ids, a sound threshold.
fn check_together(packs: &[RulePack], options: &EngineOptions) -> Result<(), PackErrors> {
    let mut errors = Vec::new();
    for (i, pack) in packs.iter().enumerate() {
        if packs[..i].iter().any(|p| p.id == pack.id) {
            errors.push(
                PackError::new(
                    &pack.origin,
                    format!("pack id `{}` is already loaded from another file", pack.id),
                )
                .kind(ErrorKind::Duplicate),
            );
        }
    }
    if let Some(t) = options.threshold {
        if !(t.is_finite() && t > 0.0) {
            errors.push(PackError::new(
                "settings",
                format!("threshold must be a number above 0, not {t}"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PackErrors(errors))
    }
}

/// How many letters and digits `text` has, counted up to 7 (all a leaf's cost needs).
fn alphanumeric_up_to_7(text: &str) -> usize {
    text.chars()
        .filter(|&c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '\u{400}'..='\u{45F}' => true,
            _ if c.is_ascii() => false,
            _ => c.is_alphanumeric(),
        })
        .take(7)
        .count()
}

/// The packs' rules as node trees, with what to show of each pack.
struct Built<'p> {
    infos: Vec<PackInfo>,
    models: Vec<NgramScorer>,
    rules: Vec<CompiledRule>,
    /// The pack whose phrases (regexes) take the totals past the limit, if one does.
    over_phrases: Option<&'p str>,
    over_regexes: Option<&'p str>,
}

impl<'o> Builder<'o> {
    fn new(options: &'o EngineOptions) -> Builder<'o> {
        Builder {
            options,
            leaf_count: 0,
            leaf_kind: Vec::new(),
            leaf_in_context: Vec::new(),
            leaf_cost: Vec::new(),
            signal_near: Vec::new(),
            patterns: Vec::new(),
            pattern_index: HashMap::new(),
            norm: Normalized::default(),
            uses_by_pattern: Vec::new(),
            regex_sources: Vec::new(),
            regex_leaves: Vec::new(),
            stem_phrases: Vec::new(),
            ranges: Vec::new(),
            phrase_count: 0,
            signals: Vec::new(),
            signal_names: Vec::new(),
            model_index: HashMap::new(),
            model_leaves: Vec::new(),
        }
    }

    /// Step 1: every signal, model and enabled rule of every pack becomes nodes over leaves.
    fn add_packs<'p>(&mut self, packs: &'p [RulePack]) -> Built<'p> {
        let options = self.options;
        let b = self;
        let mut infos = Vec::with_capacity(packs.len());
        let mut models = Vec::new();
        let mut rules = Vec::new();
        // The pack that takes the totals past a limit is the one an error names.
        let mut over_phrases: Option<&'p str> = None;
        let mut over_regexes: Option<&'p str> = None;
        for (p, pack) in packs.iter().enumerate() {
            let mut scope = PackScope {
                conditions: pack.signals.iter().map(|(n, c)| (n.as_str(), c)).collect(),
                text: HashMap::new(),
                context: HashMap::new(),
            };
            b.model_index.clear();
            for (name, def) in &pack.models {
                b.model_index.insert(name.clone(), models.len() as u32);
                models.push(NgramScorer::new(
                    def.bias,
                    def.weights.iter().map(|(k, w)| (k.as_str(), *w)),
                ));
                b.model_leaves.push(Vec::new());
            }
            // Every signal is compiled, used or not, so that its regexes are checked here too.
            for (name, _) in &pack.signals {
                b.signal(name, &mut scope, false);
            }
            let shadow = options.shadow_packs.contains(&pack.id);
            let mut rule_infos = Vec::with_capacity(pack.rules.len());
            for (r, rule) in pack.rules.iter().enumerate() {
                let enabled = rule.enabled
                    && !b
                        .options
                        .disabled_rules
                        .iter()
                        .any(|(dp, dr)| *dp == pack.id && *dr == rule.id);
                if enabled {
                    let node = b.node(&rule.condition, &mut scope, false);
                    rules.push(CompiledRule {
                        pack: p,
                        rule: r,
                        node,
                        needs: Vec::new(),
                    });
                }
                rule_infos.push(RuleInfo {
                    id: rule.id.clone(),
                    category: rule.category.clone(),
                    description: rule.description.clone(),
                    severity: rule.severity,
                    weight: rule.weight,
                    enabled,
                });
            }
            if b.phrase_count > MAX_PHRASES && over_phrases.is_none() {
                over_phrases = Some(&pack.origin);
            }
            if b.regex_sources.len() > MAX_REGEXES && over_regexes.is_none() {
                over_regexes = Some(&pack.origin);
            }
            infos.push(PackInfo {
                id: pack.id.clone(),
                name: pack.name.clone(),
                version: pack.version.clone(),
                description: pack.description.clone(),
                languages: pack.languages.clone(),
                license: pack.license.clone(),
                threshold: options.threshold.unwrap_or(pack.threshold),
                shadow,
                rules: rule_infos,
            });
        }
        Built {
            infos,
            models,
            rules,
            over_phrases,
            over_regexes,
        }
    }

    /// Step 2: the totals over all packs within the limits.
    fn check_limits(&self, packs: &[RulePack], built: &Built<'_>) -> Result<(), PackErrors> {
        let b = self;
        let over_phrases = built.over_phrases;
        let over_regexes = built.over_regexes;
        let origin = packs.first().map_or("packs", |p| p.origin.as_str());
        if b.phrase_count > MAX_PHRASES {
            return Err(PackError::new(
                over_phrases.unwrap_or(origin),
                format!(
                    "{} phrases in the loaded packs; the limit is {MAX_PHRASES}",
                    b.phrase_count
                ),
            )
            .kind(ErrorKind::Limit)
            .into());
        }
        if b.regex_sources.len() > MAX_REGEXES {
            return Err(PackError::new(
                over_regexes.unwrap_or(origin),
                format!(
                    "{} regexes in the loaded packs; the limit is {MAX_REGEXES}",
                    b.regex_sources.len()
                ),
            )
            .kind(ErrorKind::Limit)
            .into());
        }
        Ok(())
    }

    /// Step 3: each rule's cheapest necessary leaves; whether number ranges must be looked
    /// for in every post.
    fn set_needs(&self, rules: &mut [CompiledRule], signals: &[Node]) -> bool {
        let b = self;
        let mut memo = vec![None; signals.len()];
        for rule in rules.iter_mut() {
            rule.needs =
                necessary_leaves(&rule.node, signals, &b.leaf_cost, &mut memo).unwrap_or_default();
            // A rule that may fire on a model alone is judged on every post.
            if rule
                .needs
                .iter()
                .any(|&l| matches!(b.leaf_kind[l as usize], LeafKind::Model(..)))
            {
                rule.needs.clear();
            }
        }
        // Ranges are found up front only when some rule may fire on a range alone (or has no
        // known necessary leaves); otherwise only when a rule asks for them.
        let eager_ranges = !b.ranges.is_empty()
            && rules.iter().any(|r| {
                r.needs.is_empty()
                    || r.needs
                        .iter()
                        .any(|&l| b.leaf_kind[l as usize] == LeafKind::Range)
            });
        eager_ranges
    }

    /// Step 4: regexes with a literal prefix are triggered from the phrase automaton; the
    /// rest (returned) run over every post.
    fn regex_triggers(&mut self) -> Vec<u32> {
        let b = self;
        let mut unanchored = Vec::new();
        // Regexes were parsed and analysed when their pack was validated.
        let sources = std::mem::take(&mut b.regex_sources);
        for (n, regex) in sources.iter().enumerate() {
            match &regex.prefixes {
                Some(prefixes) => {
                    for prefix in prefixes {
                        b.add_pattern(prefix.clone(), PatternUse::Trigger(n as u32));
                    }
                }
                None => unanchored.push(n as u32),
            }
        }
        b.regex_sources = sources;
        unanchored
    }

    /// Step 5: every phrase and regex trigger in one automaton.
    #[allow(clippy::type_complexity)]
    fn automaton(
        &mut self,
        origin: &str,
    ) -> Result<(Option<PhraseAutomaton>, Vec<(u32, u32)>, Vec<PatternUse>), PackErrors> {
        let b = self;
        let phrases = if b.patterns.is_empty() {
            None
        } else {
            // A pattern all of whose uses need a word to start with it is never reported
            // where the automaton's path shows no word can start ("u" inside "you"); the scan
            // would turn such a match down after paying for it. Same test as the scan's.
            let must_start_word: Vec<bool> = b
                .uses_by_pattern
                .iter()
                .map(|uses| {
                    uses.iter().all(|u| {
                        matches!(
                            u,
                            PatternUse::Phrase {
                                start_boundary: true,
                                ..
                            } | PatternUse::Stems { .. }
                        )
                    })
                })
                .collect();
            Some(
                PhraseAutomaton::with_pruning(&b.patterns, |p, path, start| {
                    must_start_word[p as usize] && !word_starts_at(path, start)
                })
                .map_err(|e| PackError::new(origin, format!("phrases do not compile: {e}")))?,
            )
        };
        let mut pattern_uses = Vec::with_capacity(b.uses_by_pattern.len());
        let mut phrase_uses = Vec::new();
        for uses in std::mem::take(&mut b.uses_by_pattern) {
            let start = phrase_uses.len() as u32;
            phrase_uses.extend(uses);
            pattern_uses.push((start, phrase_uses.len() as u32));
        }
        Ok((phrases, pattern_uses, phrase_uses))
    }
}
