//! A regex as the scanner runs it: a small program of character steps, compiled when the
//! pack is validated (see `compile`) and stored with the compiled pack and the engine image.
//!
//! The scanner needs no regex parser or compiler: it runs the program with a Pike VM, one
//! character at a time over the normalised post, with leftmost-first semantics (earlier
//! alternatives and greedy repetitions preferred), as the `regex` crate finds matches. Word
//! boundaries are Unicode's, read from a table of word characters made at build time.
//!
//! Performance: a regex runs either anchored where one of its literal prefixes was found by
//! the phrase automaton, usually failing within a few characters, or, when it has no such
//! prefix, over the whole post, skipping ahead to characters that can start a match. Time is
//! linear in the text for a given program (no backtracking).

use serde::{Deserialize, Serialize};

use crate::limits::MAX_REGEX_WORK;

/// One step of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Inst {
    /// One character in `lo..=hi`.
    Char {
        lo: u32,
        hi: u32,
        next: u32,
    },
    /// One character of `classes[class]`.
    Class {
        class: u32,
        next: u32,
    },
    /// Go on at `first`, and at lower priority at `second`.
    Split {
        first: u32,
        second: u32,
    },
    /// Go on at `next` where the assertion holds.
    Look {
        look: Look,
        next: u32,
    },
    Match,
}

/// Assertions about the place between two characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Look {
    Start,
    End,
    StartLine,
    EndLine,
    StartLineCrlf,
    EndLineCrlf,
    /// A word boundary (`\b`); `ascii` for `(?-u:\b)`.
    Word {
        ascii: bool,
    },
    NotWord {
        ascii: bool,
    },
    WordStart {
        ascii: bool,
    },
    WordEnd {
        ascii: bool,
    },
    WordStartHalf {
        ascii: bool,
    },
    WordEndHalf {
        ascii: bool,
    },
}

/// A compiled regex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub(super) insts: Vec<Inst>,
    /// Character classes, each sorted ranges `(lo, hi)`.
    pub(super) classes: Vec<Vec<(u32, u32)>>,
    pub(super) start: u32,
    /// Lead bytes a match can start with (bit `b` of word `b / 64`); `None` when any can.
    pub(super) first_bytes: Option<[u64; 4]>,
}

impl Program {
    /// Checks that every index stays inside the program (for programs read from storage).
    pub fn check(&self) -> Result<(), String> {
        let n = self.insts.len() as u32;
        let ok = |s: u32| s < n;
        if !ok(self.start) {
            return Err("regex program starts outside itself".into());
        }
        for inst in &self.insts {
            let fine = match *inst {
                Inst::Char { lo, hi, next } => lo <= hi && ok(next),
                Inst::Class { class, next } => (class as usize) < self.classes.len() && ok(next),
                Inst::Split { first, second } => ok(first) && ok(second),
                Inst::Look { next, .. } => ok(next),
                Inst::Match => true,
            };
            if !fine {
                return Err("regex program refers outside itself".into());
            }
        }
        if self
            .classes
            .iter()
            .any(|c| c.windows(2).any(|w| w[0].1 >= w[1].0) || c.iter().any(|r| r.0 > r.1))
        {
            return Err("regex program has an unsorted class".into());
        }
        Ok(())
    }

    /// The leftmost-first match starting exactly at `at`.
    pub fn find_anchored(&self, vm: &mut Vm, hay: &[u8], at: usize) -> Option<(usize, usize)> {
        vm.run(self, hay, at, true)
    }

    /// Every non-overlapping match in `hay`, left to right.
    pub fn for_each_match(&self, vm: &mut Vm, hay: &[u8], mut f: impl FnMut(usize, usize)) {
        let mut at = 0;
        while at <= hay.len() {
            let Some((s, e)) = vm.run(self, hay, at, false) else {
                return;
            };
            f(s, e);
            at = if e > s {
                e
            } else {
                e + char_at(hay, e).map_or(1, |(_, l)| l)
            };
        }
    }

    fn can_start(&self, b: u8) -> bool {
        self.first_bytes
            .is_none_or(|set| set[(b >> 6) as usize] & (1 << (b & 63)) != 0)
    }
}

/// Working memory of the VM, and the work done for the current post; reuse one.
#[derive(Debug, Default)]
pub struct Vm {
    now: Threads,
    next: Threads,
    stack: Vec<u32>,
    /// Threads advanced since [`Vm::new_post`]; past [`MAX_REGEX_WORK`] no regex runs.
    work: usize,
}

/// Threads in priority order, each state at most once, with where its match started.
#[derive(Debug, Default)]
struct Threads {
    dense: Vec<u32>,
    sparse: Vec<u32>,
    starts: Vec<u32>,
}

impl Threads {
    fn reset(&mut self, states: usize) {
        self.dense.clear();
        if self.sparse.len() < states {
            self.sparse.resize(states, 0);
            self.starts.resize(states, 0);
        }
    }

    #[inline]
    fn contains(&self, s: u32) -> bool {
        let i = self.sparse[s as usize] as usize;
        i < self.dense.len() && self.dense[i] == s
    }

    #[inline]
    fn insert(&mut self, s: u32, start: u32) {
        self.sparse[s as usize] = self.dense.len() as u32;
        self.dense.push(s);
        self.starts[s as usize] = start;
    }
}

impl Vm {
    /// Starts the work budget of a new post.
    pub fn new_post(&mut self) {
        self.work = 0;
    }

    /// The post's regex work ran out: later searches in it find nothing.
    pub fn exhausted(&self) -> bool {
        self.work > MAX_REGEX_WORK
    }

    fn run(
        &mut self,
        p: &Program,
        hay: &[u8],
        from: usize,
        anchored: bool,
    ) -> Option<(usize, usize)> {
        let states = p.insts.len();
        self.now.reset(states);
        self.next.reset(states);
        let mut matched = None;
        let mut pos = from;
        loop {
            if matched.is_none() && (!anchored || pos == from) {
                if self.now.dense.is_empty() && !anchored {
                    // Nothing running: skip to a character that can start a match (the set
                    // holds only lead bytes, so this stops on character boundaries).
                    while pos < hay.len() && !p.can_start(hay[pos]) {
                        pos += 1;
                    }
                    if pos >= hay.len() && p.first_bytes.is_some() {
                        return None;
                    }
                }
                add(
                    p,
                    &mut self.now,
                    &mut self.stack,
                    p.start,
                    pos as u32,
                    hay,
                    pos,
                );
            }
            if self.now.dense.is_empty() {
                return matched;
            }
            self.work += self.now.dense.len();
            if self.work > MAX_REGEX_WORK {
                return None;
            }
            let here = char_at(hay, pos);
            self.next.dense.clear();
            for i in 0..self.now.dense.len() {
                let s = self.now.dense[i];
                let start = self.now.starts[s as usize];
                let next = match p.insts[s as usize] {
                    Inst::Match => {
                        matched = Some((start as usize, pos));
                        // Threads after this one have lower priority: drop them.
                        break;
                    }
                    Inst::Char { lo, hi, next } => match here {
                        Some((c, _)) if lo <= c && c <= hi => next,
                        _ => continue,
                    },
                    Inst::Class { class, next } => match here {
                        Some((c, _)) if in_class(&p.classes[class as usize], c) => next,
                        _ => continue,
                    },
                    Inst::Split { .. } | Inst::Look { .. } => continue,
                };
                let len = here.map_or(0, |(_, l)| l);
                add(
                    p,
                    &mut self.next,
                    &mut self.stack,
                    next,
                    start,
                    hay,
                    pos + len,
                );
            }
            std::mem::swap(&mut self.now, &mut self.next);
            // At the end of the text the loop above has already met any thread that matches.
            let Some((_, len)) = here else {
                return matched;
            };
            pos += len;
            if anchored && self.now.dense.is_empty() {
                return matched;
            }
        }
    }
}

/// Adds state `s` and everything it reaches without reading, in priority order.
#[inline]
fn add(
    p: &Program,
    list: &mut Threads,
    stack: &mut Vec<u32>,
    s: u32,
    start: u32,
    hay: &[u8],
    at: usize,
) {
    stack.clear();
    stack.push(s);
    while let Some(s) = stack.pop() {
        if list.contains(s) {
            continue;
        }
        list.insert(s, start);
        match p.insts[s as usize] {
            Inst::Split { first, second } => {
                stack.push(second);
                stack.push(first);
            }
            Inst::Look { look, next } if holds(look, hay, at) => stack.push(next),
            _ => {}
        }
    }
}

fn in_class(ranges: &[(u32, u32)], c: u32) -> bool {
    let i = ranges.partition_point(|&(_, hi)| hi < c);
    i < ranges.len() && ranges[i].0 <= c
}

/// The character at `pos` and its length in bytes; bytes that are not UTF-8 read as U+FFFD.
#[inline]
fn char_at(hay: &[u8], pos: usize) -> Option<(u32, usize)> {
    let b = *hay.get(pos)?;
    if b < 0x80 {
        return Some((u32::from(b), 1));
    }
    let len = match b {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return Some((0xFFFD, 1)),
    };
    match hay
        .get(pos..pos + len)
        .and_then(|s| std::str::from_utf8(s).ok())
    {
        Some(s) => s.chars().next().map(|c| (c as u32, len)),
        None => Some((0xFFFD, 1)),
    }
}

fn char_before(hay: &[u8], pos: usize) -> Option<u32> {
    if pos == 0 {
        return None;
    }
    let mut s = pos - 1;
    while s > 0 && pos - s < 4 && (hay[s] & 0xC0) == 0x80 {
        s -= 1;
    }
    match char_at(hay, s) {
        Some((c, len)) if s + len == pos => Some(c),
        _ => Some(0xFFFD),
    }
}

fn is_word(c: Option<u32>, ascii: bool) -> bool {
    let Some(c) = c else {
        return false;
    };
    if c < 0x80 {
        let b = c as u8;
        return b.is_ascii_alphanumeric() || b == b'_';
    }
    !ascii && in_class(PERL_WORD, c)
}

fn holds(look: Look, hay: &[u8], at: usize) -> bool {
    let before = || if at == 0 { None } else { Some(hay[at - 1]) };
    let after = hay.get(at).copied();
    match look {
        Look::Start => at == 0,
        Look::End => at == hay.len(),
        Look::StartLine => at == 0 || before() == Some(b'\n'),
        Look::EndLine => at == hay.len() || after == Some(b'\n'),
        Look::StartLineCrlf => {
            at == 0 || before() == Some(b'\n') || (before() == Some(b'\r') && after != Some(b'\n'))
        }
        Look::EndLineCrlf => {
            at == hay.len()
                || after == Some(b'\r')
                || (after == Some(b'\n') && before() != Some(b'\r'))
        }
        Look::Word { ascii } => word_before(hay, at, ascii) != word_after(hay, at, ascii),
        Look::NotWord { ascii } => word_before(hay, at, ascii) == word_after(hay, at, ascii),
        Look::WordStart { ascii } => !word_before(hay, at, ascii) && word_after(hay, at, ascii),
        Look::WordEnd { ascii } => word_before(hay, at, ascii) && !word_after(hay, at, ascii),
        Look::WordStartHalf { ascii } => !word_before(hay, at, ascii),
        Look::WordEndHalf { ascii } => !word_after(hay, at, ascii),
    }
}

fn word_before(hay: &[u8], at: usize, ascii: bool) -> bool {
    is_word(char_before(hay, at), ascii)
}

fn word_after(hay: &[u8], at: usize, ascii: bool) -> bool {
    is_word(char_at(hay, at).map(|(c, _)| c), ascii)
}

/// Unicode's word characters (`\w`), as ranges; made at build time from the regex syntax's
/// own table, so `\b` here means what it means when the pack is validated.
static PERL_WORD: &[(u32, u32)] = &include!(concat!(env!("OUT_DIR"), "/perl_word.rs"));
