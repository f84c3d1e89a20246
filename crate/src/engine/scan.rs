//! Scanning one post: normalise it, find every phrase, regex and number range, then judge
//! the rules whose necessary leaves matched.

use super::*;
use crate::limits::MAX_TEXT_BYTES;
use crate::model::EXPLAINING_FEATURES;
use crate::normalize::{normalize_into, word_char_at, word_char_before, word_starts_at};
use crate::numbers::find_ranges;
use crate::verdict::{RuleHit, Span, Verdict};

impl Engine {
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
        // Nothing matched, or nothing any rule needs: no rule can fire, and judging would
        // find none.
        if scratch.touched.is_empty()
            || (!self.rules_without_needs
                && scratch
                    .touched
                    .iter()
                    .all(|&leaf| self.rules_needing(leaf).is_empty()))
        {
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

    /// Fills the leaves of one side (the post's context, or its text) from the normalised
    /// `hay`.
    fn find_matches(&self, s: &mut Scratch, hay: &[u8], context: bool) {
        let side = |leaf: u32| self.leaf_in_context[leaf as usize] == context;
        if let Some(ac) = &self.phrases {
            ac.for_each_match(hay, |pattern, start, end| {
                let (from, to) = self.pattern_uses[pattern as usize];
                let mut starts_word = None;
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
                                && !*starts_word.get_or_insert_with(|| word_starts_at(hay, start))
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
                                    end += seq_len(hay[end]);
                                }
                            }
                            s.push_hit(leaf, (start as u32, end as u32));
                        }
                        PatternUse::Trigger(n) => {
                            // Every match of the regex starts with one of its triggers: it is
                            // run anchored here, not over the whole post.
                            if side(self.regexes[n as usize].leaf)
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
                                || !*starts_word.get_or_insert_with(|| word_starts_at(hay, start))
                            {
                                continue;
                            }
                            if let Some(end) = self.stems_end(hay, end, first_is_stem, n) {
                                s.push_hit(leaf, (start as u32, end as u32));
                            }
                        }
                    }
                }
            });
        }
        for k in 0..s.triggered.len() {
            let (n, at) = s.triggered[k];
            let EngineRegex { program, leaf } = &self.regexes[n as usize];
            if let Some((start, end)) = program.find_anchored(&mut s.vm, hay, at as usize) {
                if start < end {
                    s.push_hit(*leaf, (start as u32, end as u32));
                }
            }
        }
        s.triggered.clear();
        for &n in &self.unanchored {
            let EngineRegex { program, leaf } = &self.regexes[n as usize];
            if !side(*leaf) {
                continue;
            }
            let (vm, hits) = (&mut s.vm, &mut s.found);
            hits.clear();
            program.for_each_match(vm, hay, |start, end| {
                if start < end {
                    hits.push((start as u32, end as u32));
                }
            });
            for k in 0..s.found.len() {
                let hit = s.found[k];
                s.push_hit(*leaf, hit);
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
                at += seq_len(hay[at]);
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
        s.judged = true;
        s.pack_scores.clear();
        s.pack_scores.resize(self.packs.len(), 0.0);
        s.rule_possible.clear();
        s.rule_possible.resize(self.rules.len(), false);
        let mut hits = Vec::new();
        // Leaves matched so far, as far as they have been counted into `rule_possible`.
        // Judging a rule can find more (number ranges and models are looked for only when
        // asked), so each rule sees every leaf matched before it, as it would checking its
        // needs one by one.
        let mut counted = 0;
        for (r, rule) in self.rules.iter().enumerate() {
            while counted < s.touched.len() {
                for &q in self.rules_needing(s.touched[counted]) {
                    s.rule_possible[q as usize] = true;
                }
                counted += 1;
            }
            let possible = rule.needs.is_empty() || s.rule_possible[r];
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
    pub(super) fn truth(&self, node: &Node, s: &mut Scratch) -> bool {
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
    pub(super) fn collect(&self, node: &Node, s: &mut Scratch, out: &mut Vec<Hit>) {
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
pub(super) fn merged_spans(
    hits: &[Hit],
    original: impl Fn(usize, usize) -> (usize, usize),
) -> Vec<Span> {
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
pub(super) fn cut(text: &str) -> (&str, bool) {
    crate::utf8::cut(text, MAX_TEXT_BYTES)
}
