//! What a scan says about one post.

use crate::pack::Severity;

/// A range of the original text, in bytes (`start..end`, always on char boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// One rule that fired, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleHit {
    /// Index of the pack in [`crate::Engine::packs`].
    pub pack: usize,
    /// Index of the rule in that pack's [`crate::PackInfo::rules`].
    pub rule: usize,
    pub id: String,
    pub category: String,
    pub severity: Severity,
    pub weight: f64,
    /// Counted but not shown: the pack runs in shadow mode.
    pub shadow: bool,
    /// The spans of the original text that made the rule fire, sorted, not overlapping.
    pub spans: Vec<Span>,
    /// Spans of the post's context (channel, group or thread title) that made it fire.
    pub context_spans: Vec<Span>,
}

/// The engine's answer for one post.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    pub flagged: bool,
    /// Sum of the weights of the (non-shadow) rules that fired.
    pub score: f64,
    /// Categories of the non-shadow rules that fired, sorted, without repeats.
    pub categories: Vec<String>,
    /// Every rule that fired, shadow ones included, in pack and rule order.
    pub rules: Vec<RuleHit>,
    /// The post was longer than [`crate::MAX_TEXT_BYTES`] and only its start was scanned.
    pub truncated: bool,
}

impl Verdict {
    /// Every span's start and end, rule by rule and span by span, in the unit `unit` counts
    /// (see [`char_unit`], [`utf16_unit`]); written into `out`, which is cleared first.
    pub fn span_offsets(&self, text: &str, unit: fn(char) -> usize, out: &mut Vec<usize>) {
        out.clear();
        for rule in &self.rules {
            for span in &rule.spans {
                out.push(span.start);
                out.push(span.end);
            }
        }
        convert_offsets(text, out, unit);
    }
}

/// Converts sorted-or-not byte offsets of `text` into another unit in one pass.
///
/// `unit` gives the width of a char in the target unit: 1 for Unicode scalar values,
/// `char::len_utf16` for JavaScript string offsets.
pub fn convert_offsets(text: &str, offsets: &mut [usize], unit: fn(char) -> usize) {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_unstable_by_key(|&i| offsets[i]);
    let mut chars = text.char_indices().peekable();
    let mut converted = 0usize;
    let mut at_byte = 0usize;
    for i in order {
        let target = offsets[i];
        while at_byte < target {
            match chars.next() {
                Some((b, c)) => {
                    debug_assert_eq!(b, at_byte);
                    converted += unit(c);
                    at_byte = b + c.len_utf8();
                }
                None => break,
            }
        }
        offsets[i] = converted;
    }
}

/// Char (Unicode scalar value) offsets.
pub fn char_unit(_: char) -> usize {
    1
}

/// UTF-16 code unit offsets, as JavaScript strings count.
pub fn utf16_unit(c: char) -> usize {
    c.len_utf16()
}
