//! The compiled engine: every phrase of every rule in one Aho-Corasick automaton, every regex
//! in one multi-pattern regex set, conditions as small trees over their matches.
//!
//! An [`Engine`] is immutable once built; changing packs or settings means building a new one.
//! Scanning borrows it together with a [`Scratch`] that holds every per-post buffer, so a
//! scan allocates nothing for the common post that matches nothing.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::bytes::{RegexSet, RegexSetBuilder};
use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{
    Capture, Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look, Repetition,
};
use std::sync::OnceLock;

use crate::error::{PackError, PackErrors};
use crate::limits::*;
use crate::model::{FeatureAt, NgramScorer, EXPLAINING_FEATURES};
use crate::normalize::{
    normalize_into, normalize_phrase, word_char_at, word_char_before, Normalized,
};
use crate::numbers::{find_ranges, RangeMatch};
use crate::pack::{Condition, NumberRange, RulePack, Severity};
use crate::verdict::{RuleHit, Span, Verdict};

/// Settings applied when building an engine, beside the packs themselves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineOptions {
    /// Rules left out, as (pack id, rule id).
    pub disabled_rules: Vec<(String, String)>,
    /// Packs whose rules are evaluated and reported but never flag a post.
    pub shadow_packs: Vec<String>,
    /// Replaces every pack's own threshold.
    pub threshold: Option<f64>,
}

/// What a loaded pack is, for display.
#[derive(Debug, Clone, PartialEq)]
pub struct PackInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub languages: Vec<String>,
    pub license: String,
    /// The threshold in force (the pack's own, or the override).
    pub threshold: f64,
    pub shadow: bool,
    pub rules: Vec<RuleInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleInfo {
    pub id: String,
    pub category: String,
    pub description: String,
    pub severity: Severity,
    pub weight: f64,
    /// False when the pack or the engine options switch it off.
    pub enabled: bool,
}

/// Above this many distinct phrases the automaton is a contiguous NFA rather than a DFA.
pub const DFA_PATTERN_LIMIT: usize = 4_000;

/// A match in normalised text: byte range.
type Hit = (u32, u32);

#[derive(Debug)]
enum Node {
    Leaf(u32),
    Signal(u32),
    All(Vec<Node>),
    Any(Vec<Node>),
    None(Vec<Node>),
    AtLeast(usize, Vec<Node>),
    Near(usize, Vec<Node>),
    /// Its leaves match the post's context; its hits are context spans.
    Context(Box<Node>),
}

/// What fills a leaf with hits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LeafKind {
    /// Phrases and regexes: found by the automaton pass.
    Words,
    /// Number ranges: looked for only when a rule asks.
    Range,
    /// A learned scorer, run only when a rule asks: (model, probability threshold).
    Model(u32, f64),
}

#[derive(Debug, Clone, Copy)]
enum PatternUse {
    /// A phrase of a condition leaf, with the word boundaries it needs.
    Phrase {
        leaf: u32,
        start_boundary: bool,
        end_boundary: bool,
        /// A stem (`турист*`): the hit runs on to the end of the word.
        prefix: bool,
        /// Only at the start of a sentence (`^join`).
        sentence_start: bool,
    },
    /// A literal every match of regex `n` starts with: the regex is worth running.
    Trigger(u32),
    /// The first word of a phrase of several stems (`военн* служб*`); the words after it are
    /// `stem_phrases[n]`, checked in place.
    Stems {
        leaf: u32,
        first_is_stem: bool,
        n: u32,
    },
}

/// One word of a phrase of several stems, after the first.
#[derive(Debug, Clone)]
struct StemWord {
    text: Box<[u8]>,
    /// A stem: the word may run on past `text`.
    stem: bool,
}

#[derive(Debug)]
struct CompiledRule {
    pack: usize,
    rule: usize,
    node: Node,
    /// Leaves of which at least one must match for the rule to fire; empty when unknown.
    needs: Vec<u32>,
}

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

/// Rule packs compiled for scanning.
#[derive(Debug)]
pub struct Engine {
    packs: Vec<PackInfo>,
    phrases: Option<AhoCorasick>,
    /// For pattern `p`, `phrase_uses[pattern_uses[p].0 .. pattern_uses[p].1]`.
    pattern_uses: Vec<(u32, u32)>,
    phrase_uses: Vec<PatternUse>,
    /// Widened forms of the regexes that have no literal prefix, in one set; `set_regexes[i]`
    /// is the regex that set pattern `i` stands for.
    regex_set: Option<RegexSet>,
    set_regexes: Vec<u32>,
    /// Exact regexes, compiled on first need, with their leaves.
    regexes: Vec<(String, OnceLock<Option<Regex>>, u32)>,
    /// The words after the first of each phrase of several stems.
    stem_phrases: Vec<Vec<StemWord>>,
    ranges: Vec<(u32, NumberRange)>,
    leaf_kind: Vec<LeafKind>,
    /// Per leaf: it matches the post's context, not its text.
    leaf_in_context: Vec<bool>,
    has_context_leaves: bool,
    eager_ranges: bool,
    leaf_count: usize,
    signals: Vec<Node>,
    signal_names: Vec<String>,
    models: Vec<NgramScorer>,
    /// Per model, the leaves that read it.
    model_leaves: Vec<Vec<u32>>,
    rules: Vec<CompiledRule>,
}

/// Per-post working memory. Reuse one per thread; it grows to fit and stays.
#[derive(Default, Debug)]
pub struct Scratch {
    norm: Normalized,
    leaf_hits: Vec<Vec<Hit>>,
    touched: Vec<u32>,
    range_matches: Vec<RangeMatch>,
    word_starts: Vec<u32>,
    words_ready: bool,
    /// Number ranges have been looked for in this post.
    ranges_done: bool,
    /// Per signal: 0 not yet known, 1 false, 2 true.
    signal_truth: Vec<u8>,
    /// Per signal, the hits that make it true once gathered: a range of `signal_pool`.
    signal_hits: Vec<Option<(u32, u32)>>,
    signal_pool: Vec<Hit>,
    /// The post's context, normalised, when it has one and a pack reads it.
    context_norm: Normalized,
    /// Context hits gathered for the rule being explained.
    context_hits: Vec<Hit>,
    /// Per model: scored for this post already.
    model_done: Vec<bool>,
    model_found: Vec<(FeatureAt, f32)>,
    model_chars: Vec<u32>,
    /// Regexes without a literal prefix that the regex set found in this post.
    candidates: Vec<u32>,
    /// Regexes whose literal prefix occurred, and where: (regex, normalised offset).
    triggered: Vec<(u32, u32)>,
    candidate_seen: Vec<bool>,
    pack_scores: Vec<f64>,
}

impl Scratch {
    fn reset(&mut self, leaves: usize, signals: usize, models: usize) {
        if self.leaf_hits.len() < leaves {
            self.leaf_hits.resize_with(leaves, Vec::new);
        }
        self.signal_hits.clear();
        self.signal_hits.resize(signals, None);
        self.signal_pool.clear();
        self.context_norm.text.clear();
        self.context_norm.breaks.clear();
        self.model_done.clear();
        self.model_done.resize(models, false);
        for &leaf in &self.touched {
            self.leaf_hits[leaf as usize].clear();
        }
        self.touched.clear();
        self.words_ready = false;
        self.ranges_done = false;
        self.signal_truth.clear();
        self.signal_truth.resize(signals, 0);
        for &c in &self.candidates {
            self.candidate_seen[c as usize] = false;
        }
        self.candidates.clear();
    }

    #[inline]
    fn push_hit(&mut self, leaf: u32, hit: Hit) {
        let hits = &mut self.leaf_hits[leaf as usize];
        if hits.is_empty() {
            self.touched.push(leaf);
        }
        if hits.len() < MAX_HITS_PER_LEAF {
            hits.push(hit);
        }
    }

    /// Index of the word containing normalised byte `pos`.
    fn word_index(&mut self, pos: u32) -> u32 {
        if !self.words_ready {
            self.word_starts.clear();
            let text = &self.norm.text;
            let mut in_word = false;
            let mut k = 0;
            while k < text.len() {
                let is_word = word_char_at(text, k);
                if is_word && !in_word {
                    self.word_starts.push(k as u32);
                }
                in_word = is_word;
                k += utf8_len(text[k]);
            }
            self.words_ready = true;
        }
        self.word_starts
            .partition_point(|&s| s <= pos)
            .saturating_sub(1) as u32
    }
}

fn utf8_len(b: u8) -> usize {
    match b {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 1,
    }
}

/// Parses a regex and checks its compiled size, as cheaply as that can be done.
pub(crate) fn check_regex(source: &str) -> Result<Hir, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(source)
        .map_err(|e| {
            format!(
                "regex does not compile: {}",
                e.to_string().replace('\n', " ")
            )
        })?;
    let config = thompson::Config::new()
        .nfa_size_limit(Some(MAX_REGEX_BYTES))
        .shrink(false);
    thompson::Compiler::new()
        .configure(config)
        .build_from_hir(&hir)
        .map_err(|_| {
            format!("regex compiles to more than {MAX_REGEX_BYTES} bytes; simplify it or split it")
        })?;
    Ok(hir)
}

/// Compiles one regex as the engine runs it to find spans.
fn build_regex(source: &str) -> Option<Regex> {
    let syntax = regex_automata::util::syntax::Config::new().nest_limit(64);
    let config = Regex::config()
        .nfa_size_limit(Some(MAX_REGEX_BYTES))
        .hybrid_cache_capacity(MAX_REGEX_BYTES);
    Regex::builder()
        .syntax(syntax)
        .configure(config)
        .build(source)
        .ok()
}

/// Literals that every match of `hir` starts with, when there are few and long enough to be
/// a useful trigger.
pub(crate) fn literal_prefixes(hir: &Hir) -> Option<Vec<String>> {
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_class(8)
        .limit_repeat(4)
        .limit_literal_len(24)
        .limit_total(256);
    let seq = extractor.extract(hir);
    let literals = seq.literals()?;
    let mut out = Vec::with_capacity(literals.len());
    for l in literals {
        // An inexact prefix may end inside a character; keep its whole characters.
        let bytes = l.as_bytes();
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
        };
        if text.len() < 3 {
            return None;
        }
        out.push(text.to_string());
    }
    (!out.is_empty()).then_some(out)
}

/// A looser version of a regex for the multi-pattern pass: it matches everything the regex
/// matches, but without Unicode word boundaries (which stop the lazy DFA on non-ASCII text)
/// and with large Unicode classes widened to "this ASCII part, or any non-ASCII character"
/// (which keeps the automaton small). Posts it matches are confirmed with the exact regex.
pub(crate) fn relax(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Look(
            Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode,
        ) => Hir::empty(),
        HirKind::Class(Class::Unicode(c)) if c.ranges().len() > 4 => {
            let mut ranges: Vec<ClassUnicodeRange> = c
                .ranges()
                .iter()
                .filter(|r| r.start() <= '\x7f')
                .map(|r| ClassUnicodeRange::new(r.start(), r.end().min('\x7f')))
                .collect();
            ranges.push(ClassUnicodeRange::new('\u{80}', '\u{10FFFF}'));
            Hir::class(Class::Unicode(ClassUnicode::new(ranges)))
        }
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            sub: Box::new(relax(&r.sub)),
            ..r.clone()
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            sub: Box::new(relax(&c.sub)),
            ..c.clone()
        }),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(relax).collect()),
        HirKind::Alternation(parts) => Hir::alternation(parts.iter().map(relax).collect()),
        _ => h.clone(),
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
    uses_by_pattern: Vec<Vec<PatternUse>>,
    regex_sources: Vec<String>,
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
                                let last = i + 1
                                    == phrase.text.split(' ').filter(|w| !w.is_empty()).count();
                                StemWord {
                                    text: normalize_phrase(word).into_bytes().into_boxed_slice(),
                                    stem: stem || (last && phrase.prefix),
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
                    let text = normalize_phrase(&phrase.text);
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
                    .map(
                        |p| match p.text.chars().filter(|c| c.is_alphanumeric()).count() {
                            _ if p.text.contains('*') => 2,
                            0..=2 => 64,
                            3 => 16,
                            4 => 4,
                            5 | 6 => 2,
                            _ => 1,
                        },
                    )
                    .sum();
                self.leaf_cost[leaf as usize] = cost;
                Node::Leaf(leaf)
            }
            Condition::Regex(source) => {
                let leaf = self.leaf(LeafKind::Words, in_context);
                self.leaf_cost[leaf as usize] = 4;
                self.regex_sources.push(source.clone());
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
    /// Compiles packs (already parsed and validated by [`crate::parse_pack`]) into an engine.
    pub fn compile(packs: &[RulePack], options: &EngineOptions) -> Result<Engine, PackErrors> {
        let mut errors = Vec::new();
        for (i, pack) in packs.iter().enumerate() {
            if packs[..i].iter().any(|p| p.id == pack.id) {
                errors.push(PackError::new(
                    &pack.origin,
                    format!("pack id `{}` is already loaded from another file", pack.id),
                ));
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
        if !errors.is_empty() {
            return Err(PackErrors(errors));
        }

        let mut b = Builder {
            options,
            leaf_count: 0,
            leaf_kind: Vec::new(),
            leaf_in_context: Vec::new(),
            leaf_cost: Vec::new(),
            signal_near: Vec::new(),
            patterns: Vec::new(),
            pattern_index: HashMap::new(),
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
        };
        let mut infos = Vec::with_capacity(packs.len());
        let mut models = Vec::new();
        let mut rules = Vec::new();
        // The pack that takes the totals past a limit is the one an error names.
        let mut over_phrases: Option<&str> = None;
        let mut over_regexes: Option<&str> = None;
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
        let signals = std::mem::take(&mut b.signals);
        let signal_names = std::mem::take(&mut b.signal_names);
        let origin = packs.first().map_or("packs", |p| p.origin.as_str());
        if b.phrase_count > MAX_PHRASES {
            return Err(PackError::new(
                over_phrases.unwrap_or(origin),
                format!(
                    "{} phrases in the loaded packs; the limit is {MAX_PHRASES}",
                    b.phrase_count
                ),
            )
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
            .into());
        }

        let mut memo = vec![None; signals.len()];
        for rule in &mut rules {
            rule.needs =
                necessary_leaves(&rule.node, &signals, &b.leaf_cost, &mut memo).unwrap_or_default();
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
        // Regexes with a literal prefix are triggered from the phrase automaton; the rest
        // share one regex set.
        let mut set_sources = Vec::new();
        let mut set_regexes = Vec::new();
        for (n, source) in b.regex_sources.clone().iter().enumerate() {
            // Sizes were checked when the pack was parsed; here the syntax tree is enough.
            let hir = regex_syntax::ParserBuilder::new()
                .nest_limit(64)
                .build()
                .parse(source)
                .map_err(|e| PackError::new(origin, format!("regex does not compile: {e}")))?;
            let relaxed = relax(&hir);
            match literal_prefixes(&relaxed) {
                Some(prefixes) => {
                    for prefix in prefixes {
                        b.add_pattern(prefix, PatternUse::Trigger(n as u32));
                    }
                }
                None => {
                    set_sources.push(relaxed.to_string());
                    set_regexes.push(n as u32);
                }
            }
        }
        let regex_set = if set_sources.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(&set_sources)
                    .size_limit(MAX_REGEX_BYTES * 8)
                    .dfa_size_limit(MAX_REGEX_BYTES * 8)
                    .build()
                    .map_err(|e| {
                        PackError::new(
                            origin,
                            format!(
                                "regexes together are too large: {}",
                                e.to_string().replace('\n', " ")
                            ),
                        )
                    })?,
            )
        };
        let regexes = b
            .regex_sources
            .into_iter()
            .zip(b.regex_leaves)
            .map(|(source, leaf)| (source, OnceLock::new(), leaf))
            .collect();

        let phrases = if b.patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    // A full DFA scans fastest; past a few thousand patterns its build time
                    // outweighs that, and the contiguous NFA is chosen instead.
                    .kind(Some(if b.patterns.len() <= DFA_PATTERN_LIMIT {
                        AhoCorasickKind::DFA
                    } else {
                        AhoCorasickKind::ContiguousNFA
                    }))
                    .build(&b.patterns)
                    .map_err(|e| PackError::new(origin, format!("phrases do not compile: {e}")))?,
            )
        };
        let mut pattern_uses = Vec::with_capacity(b.uses_by_pattern.len());
        let mut phrase_uses = Vec::new();
        for uses in b.uses_by_pattern {
            let start = phrase_uses.len() as u32;
            phrase_uses.extend(uses);
            pattern_uses.push((start, phrase_uses.len() as u32));
        }
        Ok(Engine {
            packs: infos,
            phrases,
            pattern_uses,
            phrase_uses,
            regex_set,
            set_regexes,
            regexes,
            stem_phrases: std::mem::take(&mut b.stem_phrases),
            ranges: b.ranges,
            has_context_leaves: b.leaf_in_context.iter().any(|&c| c),
            leaf_kind: b.leaf_kind,
            leaf_in_context: b.leaf_in_context,
            eager_ranges,
            leaf_count: b.leaf_count as usize,
            signals,
            signal_names,
            models,
            model_leaves: b.model_leaves,
            rules,
        })
    }

    /// The loaded packs and their rules, in load order.
    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    /// How many distinct patterns the phrase automaton holds, and whether it is a full DFA
    /// (fastest to scan) or, past [`DFA_PATTERN_LIMIT`] patterns, a contiguous NFA.
    pub fn automaton(&self) -> (usize, bool) {
        (
            self.pattern_uses.len(),
            self.phrases
                .as_ref()
                .is_some_and(|ac| ac.kind() == AhoCorasickKind::DFA),
        )
    }

    /// Scans one post. Allocates only when something matches.
    pub fn scan(&self, text: &str, scratch: &mut Scratch) -> Verdict {
        self.scan_in_context(text, None, scratch)
    }

    /// Scans one post with the context it appears in (channel, group or thread title), which
    /// `context` conditions read. Context spans in the verdict are offsets into `context`.
    pub fn scan_in_context(
        &self,
        text: &str,
        context: Option<&str>,
        scratch: &mut Scratch,
    ) -> Verdict {
        let (text, truncated) = cut(text);
        scratch.reset(self.leaf_count, self.signals.len(), self.models.len());
        if self.has_context_leaves {
            if let Some(context) = context.filter(|c| !c.is_empty()) {
                let (context, _) = cut(context);
                let mut norm = std::mem::take(&mut scratch.context_norm);
                normalize_into(context, &mut norm);
                self.find_matches(scratch, &norm.text, true);
                scratch.context_norm = norm;
            }
        }
        normalize_into(text, &mut scratch.norm);
        let norm = std::mem::take(&mut scratch.norm.text);
        self.find_matches(scratch, &norm, false);
        scratch.norm.text = norm;
        if scratch.touched.is_empty() {
            return Verdict {
                truncated,
                ..Verdict::default()
            };
        }
        self.judge(text, context.unwrap_or(""), truncated, scratch)
    }

    /// Scans one post with a fresh scratch; for one-off calls.
    pub fn scan_one(&self, text: &str) -> Verdict {
        self.scan(text, &mut Scratch::default())
    }

    /// Why each rule did or did not fire on a post, for people tuning a pack: every rule's
    /// condition as a tree of parts, each marked true (`+`) or false (`-`), signals by name
    /// with the words they matched.
    pub fn trace(&self, text: &str, context: Option<&str>) -> String {
        let mut s = Scratch::default();
        let verdict = self.scan_in_context(text, context, &mut s);
        let (text, _) = cut(text);
        let mut out = String::new();
        for rule in &self.rules {
            let info = &self.packs[rule.pack].rules[rule.rule];
            let fired = verdict
                .rules
                .iter()
                .any(|r| r.pack == rule.pack && r.rule == rule.rule);
            out.push_str(&format!(
                "{} {} (weight {})\n",
                if fired { "+" } else { "-" },
                info.id,
                info.weight
            ));
            self.trace_node(&rule.node, text, &mut s, 1, &mut out);
        }
        out
    }

    fn trace_node(&self, node: &Node, text: &str, s: &mut Scratch, depth: usize, out: &mut String) {
        let truth = self.truth(node, s);
        let mark = if truth { "+" } else { "-" };
        let pad = "  ".repeat(depth);
        let words = |this: &Self, n: &Node, s: &mut Scratch| -> String {
            let mut hits = Vec::new();
            this.collect(n, s, &mut hits);
            let spans = merged_spans(&hits, |a, b| s.norm.original_span(text, a, b));
            let shown: Vec<String> = spans
                .iter()
                .take(6)
                .map(|sp| format!("\"{}\"", &text[sp.start..sp.end]))
                .collect();
            if shown.is_empty() {
                String::new()
            } else {
                format!(": {}", shown.join(", "))
            }
        };
        match node {
            Node::Leaf(_) => {
                let w = if truth {
                    words(self, node, s)
                } else {
                    String::new()
                };
                out.push_str(&format!("{pad}{mark} words{w}\n"));
            }
            Node::Signal(i) => {
                let w = if truth {
                    words(self, node, s)
                } else {
                    String::new()
                };
                out.push_str(&format!(
                    "{pad}{mark} {}{w}\n",
                    self.signal_names[*i as usize]
                ));
            }
            Node::All(parts)
            | Node::Any(parts)
            | Node::None(parts)
            | Node::AtLeast(_, parts)
            | Node::Near(_, parts) => {
                let kind = match node {
                    Node::All(_) => "all".to_string(),
                    Node::Any(_) => "any".to_string(),
                    Node::None(_) => "none".to_string(),
                    Node::AtLeast(n, _) => format!("at least {n} of"),
                    Node::Near(w, _) => format!("near, within {w} words"),
                    _ => String::new(),
                };
                out.push_str(&format!("{pad}{mark} {kind}\n"));
                if depth < 4 {
                    for p in parts {
                        self.trace_node(p, text, s, depth + 1, out);
                    }
                }
            }
            Node::Context(inner) => {
                out.push_str(&format!("{pad}{mark} context\n"));
                self.trace_node(inner, text, s, depth + 1, out);
            }
        }
    }

    /// Fills the leaves of one side (the post's context, or its text) from the normalised
    /// `hay`.
    fn find_matches(&self, s: &mut Scratch, hay: &[u8], context: bool) {
        if s.candidate_seen.len() < self.regexes.len() {
            s.candidate_seen.resize(self.regexes.len(), false);
        }
        for &c in &s.candidates {
            s.candidate_seen[c as usize] = false;
        }
        s.candidates.clear();
        let side = |leaf: u32| self.leaf_in_context[leaf as usize] == context;
        if let Some(ac) = &self.phrases {
            for m in ac.find_overlapping_iter(hay) {
                let (start, end) = (m.start(), m.end());
                let (from, to) = self.pattern_uses[m.pattern().as_usize()];
                let mut before = None;
                let mut after = None;
                for u in &self.phrase_uses[from as usize..to as usize] {
                    match *u {
                        PatternUse::Phrase {
                            leaf,
                            start_boundary,
                            end_boundary,
                            prefix,
                            sentence_start,
                        } => {
                            if !side(leaf) || (sentence_start && !at_sentence_start(hay, start)) {
                                continue;
                            }
                            if start_boundary
                                && *before.get_or_insert_with(|| word_char_before(hay, start))
                            {
                                continue;
                            }
                            if end_boundary && *after.get_or_insert_with(|| word_char_at(hay, end))
                            {
                                continue;
                            }
                            let mut end = end;
                            if prefix {
                                while word_char_at(hay, end) {
                                    end += utf8_len(hay[end]);
                                }
                            }
                            s.push_hit(leaf, (start as u32, end as u32));
                        }
                        PatternUse::Trigger(n) => {
                            // Every match of the regex starts with one of its triggers: it is
                            // run anchored here, not over the whole post.
                            if side(self.regexes[n as usize].2)
                                && s.triggered.last() != Some(&(n, start as u32))
                            {
                                s.triggered.push((n, start as u32));
                            }
                        }
                        PatternUse::Stems {
                            leaf,
                            first_is_stem,
                            n,
                        } => {
                            if !side(leaf)
                                || *before.get_or_insert_with(|| word_char_before(hay, start))
                            {
                                continue;
                            }
                            if let Some(end) = self.stems_end(hay, end, first_is_stem, n) {
                                s.push_hit(leaf, (start as u32, end as u32));
                            }
                        }
                    }
                }
            }
        }
        if let Some(set) = &self.regex_set {
            for i in set.matches(hay).iter() {
                let n = self.set_regexes[i];
                if !s.candidate_seen[n as usize] && side(self.regexes[n as usize].2) {
                    s.candidate_seen[n as usize] = true;
                    s.candidates.push(n);
                }
            }
        }
        for k in 0..s.triggered.len() {
            let (n, at) = s.triggered[k];
            let (source, compiled, leaf) = &self.regexes[n as usize];
            let Some(re) = compiled.get_or_init(|| build_regex(source)) else {
                continue;
            };
            let input = Input::new(hay).range(at as usize..).anchored(Anchored::Yes);
            if let Some(m) = re.find(input) {
                if m.start() < m.end() {
                    s.push_hit(*leaf, (m.start() as u32, m.end() as u32));
                }
            }
        }
        s.triggered.clear();
        for k in 0..s.candidates.len() {
            let (source, compiled, leaf) = &self.regexes[s.candidates[k] as usize];
            let Some(re) = compiled.get_or_init(|| build_regex(source)) else {
                continue;
            };
            for m in re.find_iter(hay) {
                if m.start() < m.end() {
                    s.push_hit(*leaf, (m.start() as u32, m.end() as u32));
                }
            }
        }
        // A context is short and read once: its ranges are found now. The text's only when
        // a rule could fire on them.
        if context || self.eager_ranges {
            self.find_ranges(s, hay, context);
        }
    }

    fn find_ranges(&self, s: &mut Scratch, hay: &[u8], context: bool) {
        if !context {
            s.ranges_done = true;
        }
        s.range_matches.clear();
        find_ranges(hay, &mut s.range_matches);
        for k in 0..s.range_matches.len() {
            let m = s.range_matches[k];
            for &(leaf, range) in &self.ranges {
                if self.leaf_in_context[leaf as usize] == context && range.accepts(m.low, m.high) {
                    s.push_hit(leaf, (m.start as u32, m.end as u32));
                }
            }
        }
    }

    /// Where a phrase of several stems ends, if its words after the first (`stem_phrases[n]`)
    /// follow the first word, which ends at `end` (or runs on, when it is a stem).
    fn stems_end(&self, hay: &[u8], mut end: usize, first_is_stem: bool, n: u32) -> Option<usize> {
        let run_on = |mut at: usize| {
            while word_char_at(hay, at) {
                at += utf8_len(hay[at]);
            }
            at
        };
        if first_is_stem {
            end = run_on(end);
        } else if word_char_at(hay, end) {
            return None;
        }
        for word in &self.stem_phrases[n as usize] {
            if hay.get(end) != Some(&b' ') {
                return None;
            }
            let from = end + 1;
            let to = from + word.text.len();
            if hay.get(from..to) != Some(&word.text[..]) {
                return None;
            }
            end = if word.stem {
                run_on(to)
            } else if word
                .text
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b >= 0x80)
                && word_char_at(hay, to)
            {
                return None;
            } else {
                to
            };
        }
        Some(end)
    }

    /// Scores the post with model `m` and fills the leaves that read it.
    fn run_model(&self, m: usize, s: &mut Scratch) {
        s.model_done[m] = true;
        let mut found = std::mem::take(&mut s.model_found);
        let mut chars = std::mem::take(&mut s.model_chars);
        let p = self.models[m].score(&s.norm.text, &mut found, &mut chars);
        for &leaf in &self.model_leaves[m] {
            let LeafKind::Model(_, above) = self.leaf_kind[leaf as usize] else {
                continue;
            };
            if p + 1e-12 >= above {
                let mut shown = 0;
                for (at, w) in &found {
                    if *w <= 0.0 || shown == EXPLAINING_FEATURES {
                        break;
                    }
                    s.push_hit(leaf, (at.start, at.end));
                    shown += 1;
                }
                if shown == 0 {
                    // Above the threshold on the bias alone: the whole post is the reason.
                    s.push_hit(leaf, (0, s.norm.text.len() as u32));
                }
            }
        }
        s.model_found = found;
        s.model_chars = chars;
    }

    fn judge(&self, text: &str, context: &str, truncated: bool, s: &mut Scratch) -> Verdict {
        let mut verdict = Verdict {
            truncated,
            ..Verdict::default()
        };
        s.pack_scores.clear();
        s.pack_scores.resize(self.packs.len(), 0.0);
        let mut hits = Vec::new();
        for rule in &self.rules {
            let possible = rule.needs.is_empty()
                || rule
                    .needs
                    .iter()
                    .any(|&l| !s.leaf_hits[l as usize].is_empty());
            if !possible || !self.truth(&rule.node, s) {
                continue;
            }
            hits.clear();
            s.context_hits.clear();
            self.collect(&rule.node, s, &mut hits);
            if hits.is_empty() && s.context_hits.is_empty() {
                continue;
            }
            let pack = &self.packs[rule.pack];
            let info = &pack.rules[rule.rule];
            let spans = merged_spans(&hits, |a, b| s.norm.original_span(text, a, b));
            let context_spans = merged_spans(&s.context_hits, |a, b| {
                s.context_norm.original_span(context, a, b)
            });
            if !pack.shadow {
                s.pack_scores[rule.pack] += info.weight;
            }
            verdict.rules.push(RuleHit {
                pack: rule.pack,
                rule: rule.rule,
                id: info.id.clone(),
                category: info.category.clone(),
                severity: info.severity,
                weight: info.weight,
                shadow: pack.shadow,
                spans,
                context_spans,
            });
        }
        verdict.score = s.pack_scores.iter().sum();
        verdict.flagged = s
            .pack_scores
            .iter()
            .zip(&self.packs)
            .any(|(score, pack)| *score > 0.0 && *score + 1e-9 >= pack.threshold);
        let mut categories: Vec<String> = verdict
            .rules
            .iter()
            .filter(|r| !r.shadow)
            .map(|r| r.category.clone())
            .collect();
        categories.sort();
        categories.dedup();
        verdict.categories = categories;
        verdict
    }

    /// Is the node true for this post? Allocates only for `near`.
    fn truth(&self, node: &Node, s: &mut Scratch) -> bool {
        match node {
            Node::Leaf(leaf) => {
                match self.leaf_kind[*leaf as usize] {
                    LeafKind::Words => {}
                    LeafKind::Range => {
                        if !s.ranges_done && !self.leaf_in_context[*leaf as usize] {
                            let hay = std::mem::take(&mut s.norm.text);
                            self.find_ranges(s, &hay, false);
                            s.norm.text = hay;
                        }
                    }
                    LeafKind::Model(m, _) => {
                        if !s.model_done[m as usize] {
                            self.run_model(m as usize, s);
                        }
                    }
                }
                !s.leaf_hits[*leaf as usize].is_empty()
            }
            Node::Signal(i) => {
                let i = *i as usize;
                if s.signal_truth[i] == 0 {
                    let t = self.truth(&self.signals[i], s);
                    s.signal_truth[i] = 1 + u8::from(t);
                }
                s.signal_truth[i] == 2
            }
            Node::All(parts) => parts.iter().all(|p| self.truth(p, s)),
            Node::Any(parts) => parts.iter().any(|p| self.truth(p, s)),
            Node::None(parts) => !parts.iter().any(|p| self.truth(p, s)),
            Node::AtLeast(n, parts) => {
                let mut count = 0;
                for p in parts {
                    count += usize::from(self.truth(p, s));
                    if count >= *n {
                        return true;
                    }
                }
                false
            }
            Node::Near(window, parts) => {
                parts.iter().all(|p| self.truth(p, s)) && self.near(*window, parts, s).is_some()
            }
            Node::Context(inner) => self.truth(inner, s),
        }
    }

    /// Appends the hits that make a true node true; context hits go to `s.context_hits`.
    /// A signal's hits are gathered once per post and reused, so a signal used many times
    /// costs what it costs once.
    fn collect(&self, node: &Node, s: &mut Scratch, out: &mut Vec<Hit>) {
        match node {
            Node::Leaf(leaf) => out.extend_from_slice(&s.leaf_hits[*leaf as usize]),
            Node::Signal(i) => {
                let i = *i as usize;
                let (from, to) = match s.signal_hits[i] {
                    Some(range) => range,
                    None => {
                        let mut mine = Vec::new();
                        self.collect(&self.signals[i], s, &mut mine);
                        mine.sort_unstable();
                        mine.dedup();
                        let from = s.signal_pool.len() as u32;
                        s.signal_pool.extend_from_slice(&mine);
                        let range = (from, s.signal_pool.len() as u32);
                        s.signal_hits[i] = Some(range);
                        range
                    }
                };
                out.extend_from_slice(&s.signal_pool[from as usize..to as usize]);
            }
            Node::All(parts) | Node::Any(parts) | Node::AtLeast(_, parts) => {
                for p in parts {
                    if self.truth(p, s) {
                        self.collect(p, s, out);
                    }
                }
            }
            Node::None(_) => {}
            Node::Near(window, parts) => {
                if let Some(hits) = self.near(*window, parts, s) {
                    out.extend(hits);
                }
            }
            Node::Context(inner) => {
                let mut mine = Vec::new();
                self.collect(inner, s, &mut mine);
                s.context_hits.extend(mine);
            }
        }
    }

    /// The closest set of one hit per part within `window` words, if the parts are all true.
    fn near(&self, window: usize, parts: &[Node], s: &mut Scratch) -> Option<Vec<Hit>> {
        let mut lists = Vec::with_capacity(parts.len());
        for p in parts {
            let mut hits = Vec::new();
            self.collect(p, s, &mut hits);
            hits.sort_unstable();
            hits.dedup();
            if !hits.is_empty() {
                lists.push(hits);
            }
        }
        if lists.is_empty() {
            return None;
        }
        near(&lists, window as u32, s)
    }
}

/// Does a sentence start at `pos`: only spaces between it and the text's start or a
/// punctuation mark other than a comma?
fn at_sentence_start(hay: &[u8], pos: usize) -> bool {
    let mut k = pos;
    while k > 0 && hay[k - 1] == b' ' {
        k -= 1;
    }
    if k == 0 {
        return true;
    }
    let b = hay[k - 1];
    if b < 0x80 {
        return !b.is_ascii_alphanumeric() && b != b',';
    }
    // A non-ASCII character: a letter or digit continues the sentence; anything else
    // (quotes, dashes, bullets, emoji) may open one.
    !word_char_before(hay, k)
}

/// Sorted, merged original spans of normalised hits.
fn merged_spans(hits: &[Hit], original: impl Fn(usize, usize) -> (usize, usize)) -> Vec<Span> {
    let mut spans: Vec<Span> = hits
        .iter()
        .map(|&(a, b)| {
            let (start, end) = original(a as usize, b as usize);
            Span { start, end }
        })
        .collect();
    spans.sort_unstable();
    spans.dedup();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for sp in spans {
        match merged.last_mut() {
            Some(last) if sp.start <= last.end => last.end = last.end.max(sp.end),
            _ => merged.push(sp),
        }
    }
    merged
}

/// One hit from each list such that the gap from the earliest end to the latest start is at
/// most `window` words; the closest such set found.
fn near(lists: &[Vec<Hit>], window: u32, s: &mut Scratch) -> Option<Vec<Hit>> {
    let words: Vec<Vec<(u32, u32)>> = lists
        .iter()
        .map(|hits| {
            hits.iter()
                .map(|&(a, b)| (s.word_index(a), s.word_index(b.saturating_sub(1).max(a))))
                .collect()
        })
        .collect();
    let gap = |x: (u32, u32), y: (u32, u32)| x.0.max(y.0).saturating_sub(x.1.min(y.1));
    let mut best: Option<(u32, Vec<Hit>)> = None;
    for (li, list) in words.iter().enumerate() {
        for (hi, &anchor) in list.iter().enumerate() {
            // Around this hit, take from each other list the hit closest to it.
            let mut chosen = vec![lists[li][hi]];
            let (mut latest_start, mut earliest_end) = anchor;
            for (lj, other) in words.iter().enumerate() {
                if lj == li {
                    continue;
                }
                let (k, &w) = other
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, &w)| gap(anchor, w))?;
                latest_start = latest_start.max(w.0);
                earliest_end = earliest_end.min(w.1);
                chosen.push(lists[lj][k]);
            }
            let distance = latest_start.saturating_sub(earliest_end);
            if distance <= window && best.as_ref().is_none_or(|(d, _)| distance < *d) {
                best = Some((distance, chosen));
            }
        }
    }
    best.map(|(_, hits)| hits)
}

/// Cuts a post to [`MAX_TEXT_BYTES`] on a char boundary.
fn cut(text: &str) -> (&str, bool) {
    if text.len() <= MAX_TEXT_BYTES {
        return (text, false);
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// Refuses rules that are true when nothing matches: they would flag every post. Each signal
/// is worked out once, so this is linear in the pack's size.
pub(crate) fn check_rules_need_a_match(pack: &RulePack) -> Result<(), PackErrors> {
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
