//! The phrase automaton: every phrase of every pack in one Aho-Corasick automaton over bytes,
//! reporting every match (overlapping ones too), longest first at each end position.
//!
//! Its layout is chosen for how posts walk it. Nearly all of a post's bytes keep the automaton
//! in the root or a few states below it, so the states nearest the root (the first
//! [`DENSE_STATES`] in breadth-first order) get full rows of a DFA over byte classes, small
//! enough to stay in cache. Deeper states are rare on the path of a post and keep only their
//! own transitions and a failure link. A full DFA over a few thousand phrases is tens of
//! megabytes, most of it rows for states a post almost never reaches.
//!
//! The automaton is plain data: [`PhraseAutomaton::to_parts`] gives the trie, failure links
//! and matches, which [`PhraseAutomaton::from_parts`] turns back into an automaton without
//! seeing the phrases again, so a compiled engine can be stored and loaded.

use serde::{Deserialize, Serialize};

/// States (in breadth-first order from the root) that get a full row of transitions.
pub const DENSE_STATES: usize = 4096;

/// A transition's target is a state with matches.
const MATCH: u32 = 1 << 31;
/// A transition's target is a sparse state; the rest is the offset of its record.
/// Otherwise the rest is the dense state's row offset (state × stride).
const SPARSE: u32 = 1 << 30;
const ID: u32 = !(MATCH | SPARSE);

/// The automaton's data without its dense rows, which are derived: what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomatonParts {
    /// Per state, in breadth-first order (0 is the root): its transitions are
    /// `bytes[starts[s]..starts[s + 1]]` to `targets[..]`, sorted by byte.
    pub starts: Vec<u32>,
    pub bytes: Vec<u8>,
    pub targets: Vec<u32>,
    /// Per state, the longest proper suffix of its path that is also a state.
    pub fail: Vec<u32>,
    /// Per state, the patterns that end there: `matches[match_starts[s]..match_starts[s + 1]]`,
    /// longest first.
    pub match_starts: Vec<u32>,
    pub matches: Vec<u32>,
    /// Length in bytes of each pattern.
    pub pattern_lens: Vec<u32>,
}

/// A built automaton, ready to scan. Immutable. It serialises as its [`AutomatonParts`] and
/// is checked by [`PhraseAutomaton::from_parts`] when read back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "AutomatonParts", into = "AutomatonParts")]
pub struct PhraseAutomaton {
    parts: AutomatonParts,
    /// Byte → class; bytes in no pattern share class 0.
    classes: [u8; 256],
    stride: u32,
    dense_count: u32,
    /// Rows of the dense states, `stride` entries each, as encoded targets.
    dense: Vec<u32>,
    /// Per state: its encoded form (with the match bit) as a transition target.
    encoded: Vec<u32>,
    /// The sparse states, one record each, found by the offset in their encoded form:
    /// `[state, encoded failure target, n, n bytes packed four to a word, n encoded targets]`.
    /// A step from a sparse state reads one record, mostly one cache line, where the parts
    /// would take five arrays.
    sparse: Vec<u32>,
}

impl TryFrom<AutomatonParts> for PhraseAutomaton {
    type Error = AutomatonError;
    fn try_from(parts: AutomatonParts) -> Result<PhraseAutomaton, AutomatonError> {
        PhraseAutomaton::from_parts(parts)
    }
}

impl From<PhraseAutomaton> for AutomatonParts {
    fn from(a: PhraseAutomaton) -> AutomatonParts {
        a.parts
    }
}

/// Why patterns could not be built into an automaton, or stored parts were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomatonError(pub String);

impl std::fmt::Display for AutomatonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PhraseAutomaton {
    /// Builds the automaton of `patterns` (non-empty byte strings; pattern `i` is reported
    /// as `i`). Duplicates are reported once per index.
    pub fn new<P: AsRef<[u8]>>(patterns: &[P]) -> Result<PhraseAutomaton, AutomatonError> {
        PhraseAutomaton::build(patterns, DENSE_STATES, |_, _, _| false)
    }

    /// [`PhraseAutomaton::new`], leaving out matches the caller would turn down anyway.
    /// `unwanted(pattern, path, start)` is asked for a pattern that ends in a state whose path
    /// (the last bytes read, as far as the automaton knows them) holds `path[..start]` before
    /// the match: when it says yes, the match is not reported there. It must answer from
    /// `path[..start]` alone, as the same bytes before the match give the same answer in any
    /// text. This is how a phrase that must start a word is never reported inside a longer
    /// word the automaton has been following ("u" in "you").
    pub fn with_pruning<P: AsRef<[u8]>>(
        patterns: &[P],
        unwanted: impl Fn(u32, &[u8], usize) -> bool,
    ) -> Result<PhraseAutomaton, AutomatonError> {
        PhraseAutomaton::build(patterns, DENSE_STATES, unwanted)
    }

    fn build<P: AsRef<[u8]>>(
        patterns: &[P],
        dense_states: usize,
        unwanted: impl Fn(u32, &[u8], usize) -> bool,
    ) -> Result<PhraseAutomaton, AutomatonError> {
        if patterns.len() >= ID as usize {
            return Err(AutomatonError("too many patterns".into()));
        }
        // The trie, states numbered as created; children as small sorted lists.
        let mut children: Vec<Vec<(u8, u32)>> = vec![Vec::new()];
        let mut own: Vec<Vec<u32>> = vec![Vec::new()];
        let mut pattern_lens = Vec::with_capacity(patterns.len());
        for (p, pattern) in patterns.iter().enumerate() {
            let pattern = pattern.as_ref();
            if pattern.is_empty() {
                return Err(AutomatonError(format!("pattern {p} is empty")));
            }
            pattern_lens.push(pattern.len() as u32);
            let mut s = 0usize;
            for &b in pattern {
                s = match children[s].binary_search_by_key(&b, |&(k, _)| k) {
                    Ok(i) => children[s][i].1 as usize,
                    Err(i) => {
                        let t = children.len();
                        children[s].insert(i, (b, t as u32));
                        children.push(Vec::new());
                        own.push(Vec::new());
                        t
                    }
                };
            }
            own[s].push(p as u32);
        }
        if children.len() >= ID as usize {
            return Err(AutomatonError("too many states".into()));
        }
        // Breadth-first order: parents before children, and every failure target (shorter)
        // before the state it serves.
        let mut order = Vec::with_capacity(children.len());
        let mut new_id = vec![0u32; children.len()];
        order.push(0u32);
        let mut k = 0;
        while k < order.len() {
            let s = order[k] as usize;
            for &(_, t) in &children[s] {
                new_id[t as usize] = order.len() as u32;
                order.push(t);
            }
            k += 1;
        }
        let n = order.len();
        let mut starts = Vec::with_capacity(n + 1);
        let mut bytes = Vec::with_capacity(n);
        let mut targets = Vec::with_capacity(n);
        starts.push(0u32);
        for &old in &order {
            for &(b, t) in &children[old as usize] {
                bytes.push(b);
                targets.push(new_id[t as usize]);
            }
            starts.push(bytes.len() as u32);
        }
        let child = |s: u32, b: u8| -> Option<u32> {
            let (from, to) = (starts[s as usize] as usize, starts[s as usize + 1] as usize);
            bytes[from..to]
                .binary_search(&b)
                .ok()
                .map(|i| targets[from + i])
        };
        // Each state's parent and the byte that leads to it, to spell out its path.
        let mut parent = vec![(0u32, 0u8); n];
        for s in 0..n {
            for i in starts[s] as usize..starts[s + 1] as usize {
                parent[targets[i] as usize] = (s as u32, bytes[i]);
            }
        }
        let mut path = Vec::new();
        let mut fail = vec![0u32; n];
        let mut match_starts = Vec::with_capacity(n + 1);
        let mut matches: Vec<u32> = Vec::new();
        match_starts.push(0u32);
        // States come in breadth-first order, so each state's failure target and its
        // matches are known before the state itself is reached.
        let mut match_ranges: Vec<(u32, u32)> = vec![(0, 0); n];
        for s in 0..n {
            let begin = matches.len() as u32;
            matches.extend(&own[order[s] as usize]);
            if s > 0 {
                let (from, to) = match_ranges[fail[s] as usize];
                // What the failure state left out stays out: its path ends this one's, so
                // the bytes before such a match are the same here.
                let inherited = begin as usize + own[order[s] as usize].len();
                matches.extend_from_within(from as usize..to as usize);
                if inherited < matches.len() {
                    path.clear();
                    let mut at = s;
                    while at != 0 {
                        let (up, b) = parent[at];
                        path.push(b);
                        at = up as usize;
                    }
                    path.reverse();
                    let mut kept = inherited;
                    for k in inherited..matches.len() {
                        let m = matches[k];
                        if !unwanted(m, &path, path.len() - pattern_lens[m as usize] as usize) {
                            matches[kept] = m;
                            kept += 1;
                        }
                    }
                    matches.truncate(kept);
                }
            }
            match_ranges[s] = (begin, matches.len() as u32);
            match_starts.push(matches.len() as u32);
            // Failure links of this state's children.
            for i in starts[s] as usize..starts[s + 1] as usize {
                let (b, t) = (bytes[i], targets[i]);
                fail[t as usize] = if s == 0 {
                    0
                } else {
                    let mut f = fail[s];
                    loop {
                        if let Some(next) = child(f, b) {
                            break next;
                        }
                        if f == 0 {
                            break 0;
                        }
                        f = fail[f as usize];
                    }
                };
            }
        }
        let parts = AutomatonParts {
            starts,
            bytes,
            targets,
            fail,
            match_starts,
            matches,
            pattern_lens,
        };
        PhraseAutomaton::assemble(parts, dense_states)
    }

    /// An automaton from stored parts, checked so that a corrupt store cannot make a scan
    /// index out of bounds or loop.
    pub fn from_parts(parts: AutomatonParts) -> Result<PhraseAutomaton, AutomatonError> {
        let bad = |what: &str| Err(AutomatonError(format!("phrase automaton: {what}")));
        let n = parts.fail.len();
        if n == 0 || n >= SPARSE as usize || parts.fail[0] != 0 {
            return bad("state count");
        }
        if parts.starts.len() != n + 1 || parts.match_starts.len() != n + 1 {
            return bad("table lengths");
        }
        if parts.bytes.len() != parts.targets.len()
            || parts.starts[0] != 0
            || parts.starts[n] as usize != parts.bytes.len()
            || parts.match_starts[0] != 0
            || parts.match_starts[n] as usize != parts.matches.len()
        {
            return bad("table lengths");
        }
        for s in 0..n {
            let (from, to) = (parts.starts[s], parts.starts[s + 1]);
            if from > to || parts.match_starts[s] > parts.match_starts[s + 1] {
                return bad("ranges out of order");
            }
            let (from, to) = (from as usize, to as usize);
            if !parts.bytes[from..to].windows(2).all(|w| w[0] < w[1]) {
                return bad("transitions out of order");
            }
            // Breadth-first order: a transition leads deeper (a later state), a failure link
            // to an earlier one; so failure chains end at the root.
            if parts.targets[from..to]
                .iter()
                .any(|&t| t as usize <= s || t as usize >= n)
            {
                return bad("transition target");
            }
            if s > 0 && parts.fail[s] as usize >= s {
                return bad("failure link");
            }
        }
        if parts
            .matches
            .iter()
            .any(|&p| p as usize >= parts.pattern_lens.len())
        {
            return bad("pattern index");
        }
        // A pattern ends no earlier than the shortest way into its state: a match never
        // starts before the text does.
        let mut shortest = vec![u32::MAX; n];
        shortest[0] = 0;
        for s in 0..n {
            let (from, to) = (parts.starts[s] as usize, parts.starts[s + 1] as usize);
            for &t in &parts.targets[from..to] {
                let t = t as usize;
                shortest[t] = shortest[t].min(shortest[s].saturating_add(1));
            }
            let (from, to) = (
                parts.match_starts[s] as usize,
                parts.match_starts[s + 1] as usize,
            );
            if parts.matches[from..to].iter().any(|&p| {
                let len = parts.pattern_lens[p as usize];
                len == 0 || len > shortest[s]
            }) {
                return bad("pattern longer than the path to its state");
            }
        }
        PhraseAutomaton::assemble(parts, DENSE_STATES)
    }

    /// The stored form.
    pub fn to_parts(&self) -> &AutomatonParts {
        &self.parts
    }

    /// Derives byte classes, the dense rows and the sparse records from the parts.
    fn assemble(
        parts: AutomatonParts,
        dense_states: usize,
    ) -> Result<PhraseAutomaton, AutomatonError> {
        let n = parts.fail.len();
        let mut classes = [0u8; 256];
        let mut seen = [false; 256];
        for &b in &parts.bytes {
            seen[b as usize] = true;
        }
        let mut stride = 1u32;
        for b in 0..256 {
            if seen[b] {
                classes[b] = stride as u8;
                stride += 1;
            }
        }
        // When all 256 bytes occur, none is left over for class 0: every byte is its own class.
        if stride > 256 {
            for (b, c) in classes.iter_mut().enumerate() {
                *c = b as u8;
            }
            stride = 256;
        }
        let dense_count = n.min(dense_states);
        // Sparse records are laid out in state order, so each one's offset is the running
        // length of those before it.
        let mut total = 0usize;
        let encoded: Vec<u32> = (0..n)
            .map(|s| {
                let id = if s < dense_count {
                    s as u32 * stride
                } else {
                    let degree = (parts.starts[s + 1] - parts.starts[s]) as usize;
                    let at = total;
                    total += 3 + degree.div_ceil(4) + degree;
                    SPARSE | at as u32
                };
                let has_match = parts.match_starts[s] != parts.match_starts[s + 1];
                id | if has_match { MATCH } else { 0 }
            })
            .collect();
        if total >= ID as usize {
            return Err(AutomatonError(
                "phrase automaton: too many transitions".into(),
            ));
        }
        let mut sparse = Vec::with_capacity(total);
        for s in dense_count..n {
            let (from, to) = (parts.starts[s] as usize, parts.starts[s + 1] as usize);
            sparse.push(s as u32);
            sparse.push(encoded[parts.fail[s] as usize] & !MATCH);
            sparse.push((to - from) as u32);
            for four in parts.bytes[from..to].chunks(4) {
                let mut word = [0u8; 4];
                word[..four.len()].copy_from_slice(four);
                sparse.push(u32::from_le_bytes(word));
            }
            sparse.extend(parts.targets[from..to].iter().map(|&t| encoded[t as usize]));
        }
        let stride_u = stride as usize;
        // Each row starts as a copy of its failure state's row, which comes earlier
        // (`from_parts` checks that), so rows are appended and never zeroed first.
        let mut dense = Vec::with_capacity(dense_count * stride_u);
        for s in 0..dense_count {
            if s == 0 {
                // The root's row: its children, else itself.
                dense.resize(stride_u, encoded[0]);
            } else {
                let f = parts.fail[s] as usize * stride_u;
                dense.extend_from_within(f..f + stride_u);
            }
            for i in parts.starts[s] as usize..parts.starts[s + 1] as usize {
                let c = classes[parts.bytes[i] as usize] as usize;
                dense[s * stride_u + c] = encoded[parts.targets[i] as usize];
            }
        }
        Ok(PhraseAutomaton {
            classes,
            stride,
            dense_count: dense_count as u32,
            dense,
            encoded,
            sparse,
            parts,
        })
    }

    /// How many states it has, and how many of them have full rows.
    pub fn states(&self) -> (usize, usize) {
        (self.parts.fail.len(), self.dense_count as usize)
    }

    /// Bytes of memory its tables take.
    pub fn memory(&self) -> usize {
        let p = &self.parts;
        4 * (p.starts.len()
            + p.targets.len()
            + p.fail.len()
            + p.match_starts.len()
            + p.matches.len()
            + p.pattern_lens.len()
            + self.dense.len()
            + self.encoded.len()
            + self.sparse.len())
            + p.bytes.len()
            + 256
    }

    /// Calls `f(pattern, start, end)` for every match in `hay`, by end position, longest
    /// first at each end.
    #[inline]
    pub fn for_each_match(&self, hay: &[u8], mut f: impl FnMut(u32, usize, usize)) {
        let dense = &self.dense[..];
        let classes = &self.classes;
        let mut state = 0u32;
        for (i, &b) in hay.iter().enumerate() {
            let next = if state & SPARSE == 0 {
                dense[(state + classes[b as usize] as u32) as usize]
            } else {
                self.sparse_step(state & ID, b)
            };
            state = next & !MATCH;
            if next & MATCH != 0 {
                self.report(state, i + 1, &mut f);
            }
        }
    }

    /// The transition on `b` from the sparse state whose record starts at `at`.
    #[cold]
    fn sparse_step(&self, mut at: u32, b: u8) -> u32 {
        loop {
            let record = &self.sparse[at as usize..];
            let n = record[2] as usize;
            let words = n.div_ceil(4);
            for i in 0..n {
                if (record[3 + i / 4] >> (8 * (i % 4))) as u8 == b {
                    return record[3 + words + i];
                }
            }
            let fail = record[1];
            if fail & SPARSE == 0 {
                return self.dense[(fail + self.classes[b as usize] as u32) as usize];
            }
            at = fail & ID;
        }
    }

    #[inline(never)]
    fn report(&self, state: u32, end: usize, f: &mut impl FnMut(u32, usize, usize)) {
        let s = if state & SPARSE != 0 {
            self.sparse[(state & ID) as usize] as usize
        } else {
            (state / self.stride) as usize
        };
        let p = &self.parts;
        for &m in &p.matches[p.match_starts[s] as usize..p.match_starts[s + 1] as usize] {
            f(m, end - p.pattern_lens[m as usize] as usize, end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(a: &PhraseAutomaton, hay: &str) -> Vec<(u32, usize, usize)> {
        let mut out = Vec::new();
        a.for_each_match(hay.as_bytes(), |p, s, e| out.push((p, s, e)));
        out
    }

    /// Every occurrence of every pattern, by end and then longest first.
    fn naive(patterns: &[&str], hay: &str) -> Vec<(u32, usize, usize)> {
        let h = hay.as_bytes();
        let mut out = Vec::new();
        for end in 1..=h.len() {
            let mut here: Vec<(u32, usize, usize)> = patterns
                .iter()
                .enumerate()
                .filter(|(_, p)| p.len() <= end && &h[end - p.len()..end] == p.as_bytes())
                .map(|(i, p)| (i as u32, end - p.len(), end))
                .collect();
            here.sort_by_key(|&(i, s, _)| (s, i));
            out.extend(here);
        }
        out
    }

    #[test]
    fn finds_overlapping_matches_longest_first() {
        let pats = ["he", "she", "his", "hers", "контракт", "контракт на", "а"];
        let a = PhraseAutomaton::new(&pats).unwrap();
        for hay in [
            "ushers",
            "she sells his hers",
            "контракт на год, а",
            "",
            "xyz",
        ] {
            assert_eq!(all(&a, hay), naive(&pats, hay), "{hay}");
        }
    }

    #[test]
    fn sparse_states_agree_with_dense_ones() {
        // Enough long patterns that most states are past the dense ones.
        let words: Vec<String> = (0..600)
            .map(|i| format!("w{}x{}y{}", i % 37, i % 11, i))
            .collect();
        let pats: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
        let a = PhraseAutomaton::build(&pats, 64, |_, _, _| false).unwrap();
        assert!(a.states().0 > 10 * a.states().1);
        let hay = words.join(" w3x3 ") + " w1x1y1w2x2y2";
        assert_eq!(all(&a, &hay), naive(&pats, &hay));
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_a_naive_search(
            pats in proptest::collection::vec("[ab\u{0430}]{1,5}", 1..16),
            hay in "[ab \u{0430}]{0,60}",
            dense in 1usize..24,
        ) {
            let refs: Vec<&str> = pats.iter().map(|s| s.as_str()).collect();
            let a = PhraseAutomaton::build(&refs, dense, |_, _, _| false).unwrap();
            let full = naive(&refs, &hay);
            proptest::prop_assert_eq!(all(&a, &hay), full.clone());
            let b = PhraseAutomaton::from_parts(a.to_parts().clone()).unwrap();
            proptest::prop_assert_eq!(all(&b, &hay), full.clone());

            // Pruned: left-out matches are only those the caller turns down. Even-numbered
            // patterns must start a word; a match after a letter the automaton cannot see
            // (not on the state's path) is still reported, for the caller to turn down.
            let after_letter = |text: &[u8], start: usize| start > 0 && text[start - 1] != b' ';
            let unwanted = |p: u32, path: &[u8], start: usize| p % 2 == 0 && after_letter(path, start);
            let pruned = all(&PhraseAutomaton::build(&refs, dense, unwanted).unwrap(), &hay);
            let wanted = |&(p, s, _): &(u32, usize, usize)| !(p % 2 == 0 && after_letter(hay.as_bytes(), s));
            let expected: Vec<_> = full.iter().copied().filter(wanted).collect();
            let kept: Vec<_> = pruned.iter().copied().filter(wanted).collect();
            // Nothing wanted is lost, and nothing is reported that a full search would not.
            proptest::prop_assert_eq!(&kept, &expected);
            proptest::prop_assert!(pruned.iter().all(|m| full.contains(m)));
        }

        /// As `agrees_with_a_naive_search`, with up to nine bytes out of a state, so sparse
        /// records hold more than one word of bytes.
        #[test]
        fn agrees_with_a_naive_search_on_wide_sparse_states(
            pats in proptest::collection::vec("[a-i]{1,6}", 1..80),
            hay in "[a-j ]{0,120}",
            dense in 1usize..12,
        ) {
            let refs: Vec<&str> = pats.iter().map(|s| s.as_str()).collect();
            let a = PhraseAutomaton::build(&refs, dense, |_, _, _| false).unwrap();
            proptest::prop_assert_eq!(all(&a, &hay), naive(&refs, &hay));
        }
    }

    #[test]
    fn pruned_matches_inside_words_are_not_reported() {
        let pats = ["you", "u", "our"];
        let a = PhraseAutomaton::with_pruning(&pats, |p, path, start| {
            p != 0 && start > 0 && path[start - 1].is_ascii_alphabetic()
        })
        .unwrap();
        // "u" inside "you" is left out. "our" inside "your" is still reported: after "your"
        // the automaton is in the state of "our", whose path does not hold the "y", so the
        // caller's own check turns it down.
        assert_eq!(all(&a, "your"), vec![(0, 0, 3), (2, 1, 4)]);
        assert_eq!(all(&a, "u our"), vec![(1, 0, 1), (2, 2, 5)]);
    }

    #[test]
    fn parts_round_trip_and_corruption_is_refused() {
        let pats = ["join", "join us", "us", "вступай"];
        let a = PhraseAutomaton::new(&pats).unwrap();
        let b = PhraseAutomaton::from_parts(a.to_parts().clone()).unwrap();
        let hay = "join us, вступай";
        assert_eq!(all(&a, hay), all(&b, hay));
        let mut bad = a.to_parts().clone();
        bad.fail[3] = 7;
        assert!(PhraseAutomaton::from_parts(bad).is_err());
        let mut bad = a.to_parts().clone();
        bad.targets[0] = 0;
        assert!(PhraseAutomaton::from_parts(bad).is_err());
        let mut bad = a.to_parts().clone();
        bad.matches[0] = 99;
        assert!(PhraseAutomaton::from_parts(bad).is_err());
        // A pattern longer than the path into its state would start before the text.
        let mut bad = a.to_parts().clone();
        bad.pattern_lens[2] = 5;
        assert!(PhraseAutomaton::from_parts(bad).is_err());
        let mut bad = a.to_parts().clone();
        bad.pattern_lens[2] = 0;
        assert!(PhraseAutomaton::from_parts(bad).is_err());
        assert!(PhraseAutomaton::new(&[""]).is_err());
    }

    /// Sparse states with 0, 1, 3, 4, 5, 8 and 9 transitions (bytes packed in one, two and
    /// three words), on a failure chain a⁹ → a⁸ → … → a → root of up to nine sparse records.
    #[test]
    fn sparse_records_of_every_width_on_long_failure_chains() {
        let letters = b"bcdefghij";
        // Besides 'a', a^k also continues with the first extra[k] letters.
        let extra = [0, 8, 7, 3, 4, 0, 3, 2, 8, 0];
        let mut words = vec!["a".repeat(9)];
        for k in 1..=9 {
            for &c in &letters[..extra[k]] {
                words.push(format!("{}{}", "a".repeat(k), c as char));
            }
        }
        words.push("ij".into());
        words.push("aj".into());
        let pats: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
        let mut hay = String::new();
        for k in 0..=11 {
            for c in "abcdefghijz ".chars() {
                hay.push_str(&"a".repeat(k));
                hay.push(c);
            }
        }
        for dense in 1..=3 {
            let a = PhraseAutomaton::build(&pats, dense, |_, _, _| false).unwrap();
            let degrees: Vec<u32> = (dense..a.states().0)
                .map(|s| a.parts.starts[s + 1] - a.parts.starts[s])
                .collect();
            for d in [0, 4, 5, 8, 9] {
                assert!(
                    degrees.contains(&d),
                    "dense {dense}: no sparse state of degree {d}"
                );
            }
            assert_eq!(all(&a, &hay), naive(&pats, &hay), "dense {dense}");
        }
    }

    /// A small deterministic generator: `next(n)` is in `0..n` (`0..1` for `n` = 0).
    fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        }
    }

    /// An automaton read back from parts with more than `DENSE_STATES` states: its deeper
    /// states are sparse, with many transitions and failure links between sparse states.
    #[test]
    fn stored_parts_with_sparse_states_agree_with_a_naive_search() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        // 64 × 64 two-byte patterns fill the dense states; then short words over nine letters.
        let wide: Vec<char> = ('0'..='9')
            .chain('A'..='Z')
            .chain('k'..='z')
            .chain("!#$%&*+-=?@^".chars())
            .take(64)
            .collect();
        let mut words: Vec<String> = Vec::new();
        for &x in &wide {
            for &y in &wide {
                words.push(format!("{x}{y}"));
            }
        }
        for _ in 0..4000 {
            let len = 1 + next(7) as usize;
            words.push((0..len).map(|_| (b'a' + next(9) as u8) as char).collect());
        }
        let pats: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
        let a = PhraseAutomaton::new(&pats).unwrap();
        let b = PhraseAutomaton::from_parts(a.to_parts().clone()).unwrap();
        let (states, dense) = b.states();
        assert!(states > dense + 1000, "{states} states, {dense} dense");
        for _ in 0..20 {
            let hay: String = (0..400)
                .map(|_| match next(12) {
                    0 => 'j',
                    1 => ' ',
                    2 => wide[next(64) as usize],
                    _ => (b'a' + next(9) as u8) as char,
                })
                .collect();
            let expected = naive(&pats, &hay);
            assert_eq!(all(&a, &hay), expected);
            assert_eq!(all(&b, &hay), expected);
        }
    }

    /// Any parts `from_parts` accepts (at most 40 states, so its own build is all dense) scan
    /// the same with any number of sparse states, failure links that no real build makes
    /// included.
    #[test]
    fn any_accepted_parts_scan_the_same_with_sparse_states() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        for round in 0..3000 {
            let n = 1 + next(40) as usize;
            let alpha = 1 + next(12) as u8;
            let mut starts = vec![0u32];
            let (mut bytes, mut targets, mut fail) = (vec![], vec![], vec![0u32]);
            for s in 1..n {
                fail.push(next(s as u64) as u32);
            }
            for s in 0..n {
                if s + 1 < n {
                    let mut bs: Vec<u8> = (0..alpha).filter(|_| next(3) == 0).collect();
                    bs.truncate(n - s - 1);
                    for b in bs {
                        bytes.push(b);
                        targets.push((s + 1 + next((n - s - 1) as u64) as usize) as u32);
                    }
                }
                starts.push(bytes.len() as u32);
            }
            // Patterns of one byte, so any state but the root may hold them.
            let mut match_starts = vec![0u32, 0];
            let mut matches = vec![];
            for _ in 1..n {
                for _ in 0..next(3) {
                    matches.push(next(5) as u32);
                }
                match_starts.push(matches.len() as u32);
            }
            let parts = AutomatonParts {
                starts,
                bytes,
                targets,
                fail,
                match_starts,
                matches,
                pattern_lens: vec![1; 5],
            };
            let reference = PhraseAutomaton::from_parts(parts.clone()).unwrap();
            let hay: Vec<u8> = (0..200).map(|_| next(alpha as u64 + 2) as u8).collect();
            let mut want = vec![];
            reference.for_each_match(&hay, |p, s, e| want.push((p, s, e)));
            for d in 1..=n {
                let a = PhraseAutomaton::assemble(parts.clone(), d).unwrap();
                let mut got = vec![];
                a.for_each_match(&hay, |p, s, e| got.push((p, s, e)));
                assert_eq!(got, want, "round {round} dense {d}");
            }
        }
    }
}
