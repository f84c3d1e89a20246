//! Learned n-gram scorers: a linear model over the words, word pairs and character n-grams of
//! a normalised post, shipped inside a pack and run by the same engine.
//!
//! A scorer is a bias and a table of weights keyed by feature:
//!
//! | key | feature |
//! | --- | --- |
//! | `w:вступай` | the word `вступай` |
//! | `b:join us` | the word `join` followed by the word `us` |
//! | `c: вст` | the characters ` вст` inside a word padded with one space each side |
//!
//! Features are read off the normalised text (so case, look-alike letters and the rest are
//! already folded); every digit counts as `0`, so `18-45` and `20-50` are the same words.
//! A feature counts once per post however often it occurs. The score is
//! `sigmoid(bias + Σ weights of the features present)`, and its explanation is the words
//! that carry the largest positive weights.
//!
//! Scorers are learned by `flagpost tune --ngrams` (see [`crate::learn`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::normalize::word_char_at;
use crate::utf8::seq_len;

/// Which kinds of features a scorer reads, and the character n-gram lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FeatureKinds {
    pub words: bool,
    pub pairs: bool,
    /// Character n-gram lengths, inclusive; `(0, 0)` for none.
    pub chars: (usize, usize),
}

impl FeatureKinds {
    /// Every kind, with character n-grams of 3 to 5.
    pub const ALL: FeatureKinds = FeatureKinds {
        words: true,
        pairs: true,
        chars: (3, 5),
    };

    /// The kinds that a set of feature keys uses.
    pub fn of_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> FeatureKinds {
        let mut k = FeatureKinds::default();
        for key in keys {
            if key.starts_with("w:") {
                k.words = true;
            } else if key.starts_with("b:") {
                k.pairs = true;
            } else if let Some(g) = key.strip_prefix("c:") {
                let n = g.chars().count();
                k.chars = if k.chars.0 == 0 {
                    (n, n)
                } else {
                    (k.chars.0.min(n), k.chars.1.max(n))
                };
            }
        }
        k
    }
}

/// Why a feature key is not one a scorer can use.
pub fn check_feature_key(key: &str) -> Result<(), String> {
    let (kind, body) = key.split_at(key.len().min(2));
    match kind {
        "w:" | "b:" | "c:" => {}
        _ => {
            return Err(format!(
                "feature `{key}` must start with `w:`, `b:` or `c:`"
            ))
        }
    }
    let chars = body.chars().count();
    if body.trim().is_empty() {
        return Err(format!("feature `{key}` is empty"));
    }
    if kind == "c:" && !(2..=MAX_CHAR_GRAM).contains(&chars) {
        return Err(format!(
            "character n-gram `{key}` must be 2 to {MAX_CHAR_GRAM} characters long"
        ));
    }
    if kind == "b:" && body.split(' ').filter(|w| !w.is_empty()).count() != 2 {
        return Err(format!(
            "word pair `{key}` must be two words with one space"
        ));
    }
    if chars > 200 {
        return Err(format!("feature `{key}` is longer than 200 characters"));
    }
    Ok(())
}

/// The longest character n-gram a scorer may use.
pub const MAX_CHAR_GRAM: usize = 8;

/// FNV-1a over the pieces of a feature key, with every ASCII digit read as `0`.
fn hash_pieces(pieces: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for piece in pieces {
        for &b in *piece {
            let b = if b.is_ascii_digit() { b'0' } else { b };
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // A final mix so that the identity-hashed table spreads well.
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// The hash of a feature key as written in a pack.
pub fn feature_hash(key: &str) -> u64 {
    hash_pieces(&[key.as_bytes()])
}

/// One feature found in a post: its hash and the normalised bytes it covers (whole words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureAt {
    pub hash: u64,
    pub start: u32,
    pub end: u32,
}

/// Calls `f` for every feature of the normalised text `text`, in order, repeats included.
/// `chars` is scratch space.
pub fn for_each_feature(
    text: &[u8],
    kinds: FeatureKinds,
    chars: &mut Vec<u32>,
    mut f: impl FnMut(FeatureAt),
) {
    let mut prev: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < text.len() {
        if !word_char_at(text, i) {
            i += seq_len(text[i]);
            continue;
        }
        let start = i;
        while i < text.len() && word_char_at(text, i) {
            i += seq_len(text[i]);
        }
        let word = &text[start..i];
        let (s, e) = (start as u32, i as u32);
        if kinds.words {
            f(FeatureAt {
                hash: hash_pieces(&[b"w:", word]),
                start: s,
                end: e,
            });
        }
        if kinds.pairs {
            if let Some((ps, pe)) = prev {
                f(FeatureAt {
                    hash: hash_pieces(&[b"b:", &text[ps..pe], b" ", word]),
                    start: ps as u32,
                    end: e,
                });
            }
        }
        prev = Some((start, i));
        let (min, max) = kinds.chars;
        if min > 0 {
            // Character offsets of the padded word " word ": the pads are positions 0 and
            // last, and stand for a space.
            chars.clear();
            let mut k = 0;
            while k < word.len() {
                chars.push(k as u32);
                k += seq_len(word[k]);
            }
            chars.push(word.len() as u32);
            let count = chars.len() + 1; // characters of the padded word
            for from in 0..count {
                for n in min..=max {
                    let to = from + n;
                    if to > count {
                        break;
                    }
                    let lead: &[u8] = if from == 0 { b" " } else { b"" };
                    let trail: &[u8] = if to == count { b" " } else { b"" };
                    let a = if from == 0 {
                        0
                    } else {
                        chars[from - 1] as usize
                    };
                    let b = if to == count {
                        word.len()
                    } else {
                        chars[to - 1] as usize
                    };
                    if a > b {
                        continue;
                    }
                    f(FeatureAt {
                        hash: hash_pieces(&[b"c:", lead, &word[a..b], trail]),
                        start: s,
                        end: e,
                    });
                }
            }
        }
    }
}

/// Every feature key of a normalised text, in order, repeats included: what a scorer is
/// trained on. The keys hash to what [`for_each_feature`] reports.
pub fn feature_keys(text: &str, kinds: FeatureKinds) -> Vec<String> {
    let mut out = Vec::new();
    let mut prev: Option<&str> = None;
    let fold = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect()
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !word_char_at(bytes, i) {
            i += seq_len(bytes[i]);
            continue;
        }
        let start = i;
        while i < bytes.len() && word_char_at(bytes, i) {
            i += seq_len(bytes[i]);
        }
        let word = &text[start..i];
        if kinds.words {
            out.push(format!("w:{}", fold(word)));
        }
        if kinds.pairs {
            if let Some(p) = prev {
                out.push(format!("b:{} {}", fold(p), fold(word)));
            }
        }
        prev = Some(word);
        let (min, max) = kinds.chars;
        if min > 0 {
            let padded: Vec<char> = std::iter::once(' ')
                .chain(fold(word).chars())
                .chain(std::iter::once(' '))
                .collect();
            for from in 0..padded.len() {
                for n in min..=max {
                    if from + n > padded.len() {
                        break;
                    }
                    out.push(format!(
                        "c:{}",
                        padded[from..from + n].iter().collect::<String>()
                    ));
                }
            }
        }
    }
    out
}

/// Keys are already hashes: the table hashes them no further.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashTable = HashMap<u64, f32, BuildHasherDefault<IdentityHasher>>;

/// A compiled scorer.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NgramScorer {
    pub bias: f64,
    kinds: FeatureKinds,
    table: HashTable,
}

/// How many of a post's strongest features explain a score.
pub const EXPLAINING_FEATURES: usize = 4;

impl NgramScorer {
    pub fn new<'a>(bias: f64, weights: impl IntoIterator<Item = (&'a str, f64)>) -> NgramScorer {
        let weights: Vec<(&str, f64)> = weights.into_iter().collect();
        let kinds = FeatureKinds::of_keys(weights.iter().map(|(k, _)| *k));
        let mut table = HashTable::default();
        for (k, w) in weights {
            *table.entry(feature_hash(k)).or_insert(0.0) += w as f32;
        }
        NgramScorer { bias, kinds, table }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Scores normalised text; `found` receives the features present with their weights
    /// (each once, strongest first), `chars` is scratch space.
    pub fn score(
        &self,
        text: &[u8],
        found: &mut Vec<(FeatureAt, f32)>,
        chars: &mut Vec<u32>,
    ) -> f64 {
        found.clear();
        if self.table.is_empty() {
            return crate::learn::sigmoid(self.bias);
        }
        for_each_feature(text, self.kinds, chars, |at| {
            if let Some(&w) = self.table.get(&at.hash) {
                found.push((at, w));
            }
        });
        // Each feature once: keep its first place.
        found.sort_by_key(|(at, _)| (at.hash, at.start));
        found.dedup_by_key(|(at, _)| at.hash);
        let sum: f64 = found.iter().map(|(_, w)| f64::from(*w)).sum();
        found.sort_by(|a, b| b.1.total_cmp(&a.1));
        crate::learn::sigmoid(self.bias + sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{normalize_into, Normalized};

    fn norm(s: &str) -> Normalized {
        let mut n = Normalized::default();
        normalize_into(s, &mut n);
        n
    }

    #[test]
    fn streamed_hashes_match_the_keys() {
        let n = norm("Вступай в 18-45 ряды! Join us");
        let keys = feature_keys(n.as_str(), FeatureKinds::ALL);
        let mut hashes = Vec::new();
        for_each_feature(&n.text, FeatureKinds::ALL, &mut Vec::new(), |f| {
            hashes.push(f.hash)
        });
        let expected: Vec<u64> = keys.iter().map(|k| feature_hash(k)).collect();
        assert_eq!(hashes, expected);
        assert!(keys.contains(&"w:вступаи".to_string()), "{keys:?}");
        assert!(keys.contains(&"b:join us".to_string()));
        assert!(keys.contains(&"c: вс".to_string()) || keys.contains(&"c: вст".to_string()));
        assert!(keys.contains(&"w:00".to_string()));
    }

    #[test]
    fn scores_and_explains_with_whole_words() {
        let scorer = NgramScorer::new(-2.0, [("w:join", 1.5), ("b:join us", 1.5), ("c:ran", 0.2)]);
        let n = norm("Please JOIN us, join us today");
        let mut found = Vec::new();
        let p = scorer.score(&n.text, &mut found, &mut Vec::new());
        assert!((p - crate::learn::sigmoid(1.0)).abs() < 1e-6, "{p}");
        assert_eq!(found.len(), 2);
        let (at, _) = found[0];
        assert_eq!(&n.as_str()[at.start as usize..at.end as usize], "join us");
        assert_eq!(
            FeatureKinds::of_keys(["w:a", "c:abc", "c:abcde"]),
            FeatureKinds {
                words: true,
                pairs: false,
                chars: (3, 5)
            }
        );
    }

    #[test]
    fn feature_keys_are_checked() {
        assert!(check_feature_key("w:join").is_ok());
        assert!(check_feature_key("x:join").is_err());
        assert!(check_feature_key("c:a").is_err());
        assert!(check_feature_key("b:join").is_err());
        assert!(check_feature_key("w: ").is_err());
    }
}
