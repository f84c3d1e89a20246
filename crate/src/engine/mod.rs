//! The compiled engine: every phrase of every rule and every regex's literal prefixes in one
//! phrase automaton, regexes as programs, conditions as small trees over their matches.
//!
//! An [`Engine`] is immutable once built; changing packs or settings means building a new one.
//! Scanning borrows it together with a [`Scratch`] that holds every per-post buffer, so a
//! scan allocates nothing for the common post that matches nothing.

use crate::automaton::PhraseAutomaton;

use crate::limits::MAX_HITS_PER_LEAF;
use crate::model::{FeatureAt, NgramScorer};
use crate::normalize::{word_char_at, Normalized};
use crate::numbers::RangeMatch;
use crate::pack::{NumberRange, Severity};
use crate::regexes::{Program, Vm};
use crate::utf8::seq_len;

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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub category: String,
    pub description: String,
    pub severity: Severity,
    pub weight: f64,
    /// False when the pack or the engine options switch it off.
    pub enabled: bool,
}

/// A match in normalised text: byte range.
type Hit = (u32, u32);

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
enum LeafKind {
    /// Phrases and regexes: found by the automaton pass.
    Words,
    /// Number ranges: looked for only when a rule asks.
    Range,
    /// A learned scorer, run only when a rule asks: (model, probability threshold).
    Model(u32, f64),
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
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

/// The regex of a condition leaf, as the program it was compiled to.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct EngineRegex {
    program: Program,
    leaf: u32,
}

/// One word of a phrase of several stems, after the first.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StemWord {
    text: Box<[u8]>,
    /// A stem: the word may run on past `text`.
    stem: bool,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CompiledRule {
    pack: usize,
    rule: usize,
    node: Node,
    /// Leaves of which at least one must match for the rule to fire; empty when unknown.
    needs: Vec<u32>,
}

/// Rule packs compiled for scanning. It serialises whole as an engine image ([`image`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Engine {
    packs: Vec<PackInfo>,
    phrases: Option<PhraseAutomaton>,
    /// For pattern `p`, `phrase_uses[pattern_uses[p].0 .. pattern_uses[p].1]`.
    pattern_uses: Vec<(u32, u32)>,
    phrase_uses: Vec<PatternUse>,
    /// The regexes without a literal prefix: they run over every post.
    unanchored: Vec<u32>,
    regexes: Vec<EngineRegex>,
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
    /// The rules that list leaf `l` among their needs, in rule order:
    /// `leaf_rules[leaf_rule_starts[l]..leaf_rule_starts[l + 1]]`.
    leaf_rule_starts: Vec<u32>,
    leaf_rules: Vec<u32>,
    /// Some rule has no known necessary leaves and is judged on every post that matched
    /// anything.
    rules_without_needs: bool,
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
    /// Regexes whose literal prefix occurred, and where: (regex, normalised offset).
    triggered: Vec<(u32, u32)>,
    /// Working memory of the regex programs, and the spans of a regex run over the post.
    vm: Vm,
    found: Vec<(u32, u32)>,
    pack_scores: Vec<f64>,
    /// Per rule: one of the leaves it needs has matched.
    rule_possible: Vec<bool>,
    /// Rules have been judged since the last reset, so the signal state needs clearing.
    judged: bool,
}

impl Scratch {
    fn reset(&mut self, leaves: usize, signals: usize, models: usize) {
        self.vm.new_post();
        if self.leaf_hits.len() < leaves {
            self.leaf_hits.resize_with(leaves, Vec::new);
        }
        if self.judged || self.signal_truth.len() != signals {
            // Signals are only read when rules are judged: most posts leave them untouched.
            self.judged = false;
            self.signal_hits.clear();
            self.signal_hits.resize(signals, None);
            self.signal_truth.clear();
            self.signal_truth.resize(signals, 0);
        }
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
                k += seq_len(text[k]);
            }
            self.words_ready = true;
        }
        self.word_starts
            .partition_point(|&s| s <= pos)
            .saturating_sub(1) as u32
    }
}

impl Engine {
    /// The rules that need leaf `leaf`.
    #[inline]
    fn rules_needing(&self, leaf: u32) -> &[u32] {
        let l = leaf as usize;
        &self.leaf_rules[self.leaf_rule_starts[l] as usize..self.leaf_rule_starts[l + 1] as usize]
    }

    /// The loaded packs and their rules, in load order.
    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    /// How many distinct patterns the phrase automaton holds, its states, and the bytes its
    /// tables take.
    pub fn automaton(&self) -> (usize, usize, usize) {
        let (states, memory) = self
            .phrases
            .as_ref()
            .map_or((0, 0), |a| (a.states().0, a.memory()));
        (self.pattern_uses.len(), states, memory)
    }
}

mod build;
pub mod image;
mod scan;
mod trace;
