//! Normalisation that defeats simple evasion while remembering where every byte came from.
//!
//! The output is a lower-case, compatibility-folded copy of the post in which look-alike
//! letters, digit swaps, invisible characters and spaced-out letters no longer hide a word.
//! Beside it runs a map: for every output byte, the byte offset in the original text of the
//! character that produced it. Matches found in the output are mapped back through it, so
//! they always point at whole characters of the original.
//!
//! Performance: ASCII goes through a 128-entry class table and non-ASCII characters up to
//! U+07FF (Latin, Greek, Cyrillic) and the punctuation and fullwidth blocks through a
//! precomputed fold table; only rarer characters pay for Unicode decomposition. The
//! word-level repairs (mixed scripts, digit swaps, spaced letters) run only on words that
//! need them.

use std::sync::OnceLock;

/// What a folded character is, for word building.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// Dropped: zero-width and format characters, lone combining marks.
    Invisible,
    Space,
    Latin,
    Cyrillic,
    OtherLetter,
    Digit,
    /// `@` and `$`: part of a word only between letters.
    Swappable,
    Other,
    /// A fold of several characters of different classes; classify each.
    Mixed,
}

impl Class {
    fn is_word(self) -> bool {
        matches!(
            self,
            Class::Latin | Class::Cyrillic | Class::OtherLetter | Class::Digit
        )
    }
}

#[derive(Clone, Copy)]
struct Fold {
    start: u32,
    len: u8,
    class: Class,
    /// The first (up to) four bytes of the fold, so short folds need no pool lookup.
    bytes: [u8; 4],
}

struct FoldTable {
    pool: String,
    low: Vec<Fold>,       // U+0000..U+0800
    punct: Vec<Fold>,     // U+2000..U+2100
    fullwidth: Vec<Fold>, // U+FF00..U+10000
}

const PUNCT_BASE: u32 = 0x2000;
const FULLWIDTH_BASE: u32 = 0xFF00;

fn table() -> &'static FoldTable {
    static TABLE: OnceLock<FoldTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut pool = String::new();
        let mut build = |range: std::ops::Range<u32>| -> Vec<Fold> {
            range
                .map(|cp| {
                    let start = pool.len() as u32;
                    let class = match char::from_u32(cp) {
                        Some(c) => fold_char_slow(c, &mut pool),
                        None => Class::Other,
                    };
                    let folded = &pool.as_bytes()[start as usize..];
                    let mut bytes = [0u8; 4];
                    for (k, &b) in folded.iter().take(4).enumerate() {
                        bytes[k] = b;
                    }
                    Fold {
                        start,
                        len: folded.len() as u8,
                        class,
                        bytes,
                    }
                })
                .collect()
        };
        let low = build(0..0x800);
        let punct = build(PUNCT_BASE..PUNCT_BASE + 0x100);
        let fullwidth = build(FULLWIDTH_BASE..0x10000);
        FoldTable {
            pool,
            low,
            punct,
            fullwidth,
        }
    })
}

// The fold rules are shared with build.rs, which precomputes the Unicode decompositions.
include!("fold_rules.rs");

/// Folds the build script precomputed: every character whose fold differs from
/// [`simple_fold`], as sorted code points and `offset << 8 | length` into a pool.
mod generated {
    include!(concat!(env!("OUT_DIR"), "/folds.rs"));
}

/// The fold of a character not in the precomputed table.
fn simple_fold(c: char, out: &mut String) {
    for l in c.to_lowercase() {
        match special_fold(l) {
            Some(s) => out.push_str(s),
            None => out.push(l),
        }
    }
}

fn class_of(c: char) -> Class {
    match c {
        'a'..='z' => Class::Latin,
        '0'..='9' => Class::Digit,
        '@' | '$' => Class::Swappable,
        c if c.is_whitespace() => Class::Space,
        '\u{0400}'..='\u{052F}' if c.is_alphabetic() => Class::Cyrillic,
        '\u{00C0}'..='\u{024F}' if c.is_alphabetic() => Class::Latin,
        c if c.is_alphanumeric() => Class::OtherLetter,
        _ => Class::Other,
    }
}

/// Folds one character into `out` and says what class the result is.
fn fold_char_slow(c: char, out: &mut String) -> Class {
    if is_invisible(c) {
        return Class::Invisible;
    }
    if c.is_whitespace() {
        out.push(' ');
        return Class::Space;
    }
    let start = out.len();
    if let Some(s) = special_fold(c) {
        out.push_str(s);
    } else if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        match generated::CHARS.binary_search(&(c as u32)) {
            Ok(k) => {
                let span = generated::SPANS[k] as usize;
                let (offset, len) = (span >> 8, span & 0xFF);
                out.push_str(&generated::POOL[offset..offset + len]);
            }
            Err(_) => simple_fold(c, out),
        }
    }
    let folded = &out[start..];
    let mut classes = folded.chars().map(|c| match class_of(c) {
        Class::Space => Class::Other, // a decomposed space inside a fold stays punctuation
        k => k,
    });
    match classes.next() {
        None => Class::Invisible,
        Some(first) if folded == " " => {
            let _ = first;
            Class::Space
        }
        Some(first) => {
            if classes.all(|k| k == first) {
                first
            } else {
                Class::Mixed
            }
        }
    }
}

/// ASCII classes: index by byte.
static ASCII_CLASS: [Class; 128] = {
    let mut t = [Class::Other; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b'a'..=b'z' | b'A'..=b'Z' => Class::Latin,
            b'0'..=b'9' => Class::Digit,
            b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C => Class::Space,
            b'@' | b'$' => Class::Swappable,
            0x00..=0x08 | 0x0E..=0x1F | 0x7F => Class::Invisible,
            _ => Class::Other,
        };
        b += 1;
    }
    t
};

/// A normalised post: the folded text and the way back to the original.
#[derive(Default, Debug, Clone)]
pub struct Normalized {
    /// UTF-8 bytes of the normalised text.
    pub text: Vec<u8>,
    /// Breakpoints `(normalised offset, original offset)`. From each breakpoint up to the next,
    /// both offsets advance together; before the first, they are equal. Most text needs few:
    /// only skipped characters, collapsed spaces and folds that change a character's length
    /// add one, so the hot loop writes no per-byte map.
    pub breaks: Vec<(u32, u32)>,
}

impl Normalized {
    pub fn as_str(&self) -> &str {
        // The writer only ever appends whole UTF-8 sequences.
        std::str::from_utf8(&self.text).unwrap_or("")
    }

    /// Original byte offset of normalised byte `pos` (inside the character that produced it).
    pub fn original_offset(&self, pos: usize) -> usize {
        offset_through(&self.breaks, pos)
    }

    /// Maps a normalised byte range back to the original text's range of whole characters.
    pub fn original_span(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        let from = floor_boundary(original, self.original_offset(start));
        let last = floor_boundary(original, self.original_offset(end.max(start + 1) - 1));
        let to = last + original[last..].chars().next().map_or(0, char::len_utf8);
        (from, to.max(from))
    }
}

fn offset_through(breaks: &[(u32, u32)], pos: usize) -> usize {
    let i = breaks.partition_point(|&(n, _)| n as usize <= pos);
    match i {
        0 => pos,
        _ => {
            let (n, o) = breaks[i - 1];
            o as usize + (pos - n as usize)
        }
    }
}

fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Normalises a phrase written in a pack (no offsets needed).
pub fn normalize_phrase(phrase: &str) -> String {
    let mut n = Normalized::default();
    normalize_into(phrase, &mut n);
    let s = n.as_str();
    s.trim_matches(' ').to_string()
}

/// Length of a web address starting at `i` (`http://…`, `https://…`), up to white space.
fn url_len(bytes: &[u8], i: usize) -> usize {
    let rest = &bytes[i..];
    let scheme = if rest.len() >= 8 && rest[..8].eq_ignore_ascii_case(b"https://") {
        8
    } else if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"http://") {
        7
    } else {
        return 0;
    };
    scheme
        + rest[scheme..]
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(rest.len() - scheme)
}

/// Normalises `original` into `n`, reusing its buffers.
pub fn normalize_into(original: &str, n: &mut Normalized) {
    n.text.clear();
    n.breaks.clear();
    n.text.reserve(original.len() + 8);
    let mut w = Writer {
        original,
        out: &mut n.text,
        breaks: &mut n.breaks,
        delta: 0,
        word: Word::default(),
        run: Run::default(),
        last_script: Script::Unknown,
    };
    let table = table();
    let bytes = original.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            match ASCII_CLASS[b as usize] {
                Class::Latin => {
                    if !w.word.active && (b == b'h' || b == b'H') {
                        // Web addresses are copied as they are: no words hide in them, and
                        // their digits are not letters in disguise.
                        let len = url_len(bytes, i);
                        if len > 0 {
                            w.end_word();
                            w.finish_run();
                            for (k, b) in bytes[i..i + len].iter().enumerate() {
                                w.push_byte(b.to_ascii_lowercase(), i + k);
                            }
                            i += len;
                            continue;
                        }
                    }
                    // A run of ASCII letters: one mark, then plain copies.
                    let mut j = i;
                    while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                        j += 1;
                    }
                    w.word_run(Class::Latin, (j - i) as u32);
                    w.mark(i);
                    w.out.extend(bytes[i..j].iter().map(|b| b | 0x20));
                    i = j;
                    continue;
                }
                Class::Digit => {
                    w.word_char(Class::Digit);
                    w.push_byte(b, i);
                }
                Class::Space => w.space(i),
                Class::Swappable => {
                    let next_is_letter = bytes
                        .get(i + 1)
                        .is_some_and(|&n| n.is_ascii_alphabetic() || n >= 0x80);
                    if w.word.active && next_is_letter {
                        w.word_char(Class::Swappable);
                        w.push_byte(b, i);
                    } else {
                        w.end_word();
                        w.push_byte(b, i);
                    }
                }
                Class::Invisible => {}
                _ => {
                    w.end_word();
                    w.push_byte(b, i);
                }
            }
            i += 1;
            continue;
        }
        if (0xC2..=0xDF).contains(&b) && i + 1 < bytes.len() {
            // Two-byte characters (Latin supplements, Greek, Cyrillic) straight from the table.
            let cp = ((b as usize & 0x1F) << 6) | (bytes[i + 1] as usize & 0x3F);
            let f = table.low[cp];
            if f.class.is_word() && f.len == 2 {
                // A run of two-byte letters of one class folding to two bytes each: the
                // offsets advance together, so one mark covers the whole run.
                let class = f.class;
                w.word_run(class, 0);
                w.mark(i);
                let mut n = 0;
                loop {
                    let g = table.low
                        [((bytes[i] as usize & 0x1F) << 6) | (bytes[i + 1] as usize & 0x3F)];
                    if g.class != class || g.len != 2 {
                        break;
                    }
                    w.out.push(g.bytes[0]);
                    w.out.push(g.bytes[1]);
                    n += 1;
                    i += 2;
                    if i + 1 >= bytes.len() || !(0xC2..=0xDF).contains(&bytes[i]) {
                        break;
                    }
                }
                w.word_run(class, n);
                continue;
            }
            if f.class.is_word() && f.len == 1 {
                w.word_run(f.class, 1);
                w.mark(i);
                w.out.push(f.bytes[0]);
                i += 2;
                continue;
            }
        }
        let c = original[i..].chars().next().unwrap_or('\u{FFFD}');
        let len = c.len_utf8();
        let cp = c as u32;
        let entry = if cp < 0x800 {
            Some(table.low[cp as usize])
        } else if (PUNCT_BASE..PUNCT_BASE + 0x100).contains(&cp) {
            Some(table.punct[(cp - PUNCT_BASE) as usize])
        } else if (FULLWIDTH_BASE..0x10000).contains(&cp) {
            Some(table.fullwidth[(cp - FULLWIDTH_BASE) as usize])
        } else {
            None
        };
        match entry {
            Some(f) if f.class.is_word() && (f.len as usize) <= len => {
                // The common case: a letter whose fold is no longer than itself.
                w.word_char(f.class);
                w.mark(i);
                w.out.extend_from_slice(&f.bytes[..f.len as usize]);
            }
            Some(f) => {
                let folded = &table.pool[f.start as usize..f.start as usize + f.len as usize];
                w.emit(folded, f.class, i, len);
            }
            None => {
                let mut tmp = String::new();
                let class = fold_char_slow(c, &mut tmp);
                w.emit(&tmp, class, i, len);
            }
        }
        i += len;
    }
    w.end_word();
    w.finish_run();
}

#[derive(Default)]
struct Word {
    active: bool,
    start: usize,
    latin: u32,
    cyrillic: u32,
    other_letters: u32,
    digits: u32,
    swappable: u32,
    chars: u32,
}

/// Single letters separated by one separator each: `т у р и с т`, `t.o.u.r.i.s.t`.
#[derive(Default)]
struct Run {
    active: bool,
    start: usize,
    /// Start of the run's last letter.
    last: usize,
    end: usize,
    letters: u32,
    /// The separator between the run's letters, once known.
    separator: Option<u8>,
}

const MIN_SPACED_LETTERS: u32 = 4;

fn is_spacing_separator(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'.' | b'-' | b'_' | b'*' | b'+' | b'/' | b'|' | b','
    )
}

struct Writer<'a> {
    original: &'a str,
    out: &'a mut Vec<u8>,
    breaks: &'a mut Vec<(u32, u32)>,
    /// Original offset minus normalised offset in the current stretch.
    delta: i64,
    word: Word,
    run: Run,
    /// Script of the last word with letters, for words made only of look-alike letters.
    last_script: Script,
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Script {
    #[default]
    Unknown,
    Latin,
    Cyrillic,
}

impl Writer<'_> {
    /// Notes where the next output byte comes from, adding a breakpoint when the stretch ends.
    #[inline(always)]
    fn mark(&mut self, orig: usize) {
        let d = orig as i64 - self.out.len() as i64;
        if d != self.delta {
            self.breaks.push((self.out.len() as u32, orig as u32));
            self.delta = d;
        }
    }

    #[inline(always)]
    fn push_byte(&mut self, b: u8, orig: usize) {
        self.mark(orig);
        self.out.push(b);
    }

    /// Appends the fold of one original character of `orig_len` bytes at `orig`.
    #[inline]
    fn push_fold(&mut self, bytes: &[u8], orig: usize, orig_len: usize) {
        self.mark(orig);
        if bytes.len() <= orig_len {
            self.out.extend_from_slice(bytes);
        } else {
            // Longer than its source: pin the extra bytes to the character's start.
            self.out.extend_from_slice(&bytes[..orig_len]);
            for &b in &bytes[orig_len..] {
                self.breaks.push((self.out.len() as u32, orig as u32));
                self.delta = orig as i64 - self.out.len() as i64;
                self.out.push(b);
            }
        }
    }

    #[inline(always)]
    fn word_char(&mut self, class: Class) {
        self.word_run(class, 1);
    }

    /// Counts `n` word characters of one class into the current word, opening one if needed.
    #[inline(always)]
    fn word_run(&mut self, class: Class, n: u32) {
        if !self.word.active {
            self.word = Word {
                active: true,
                start: self.out.len(),
                ..Word::default()
            };
        }
        match class {
            Class::Latin => self.word.latin += n,
            Class::Cyrillic => self.word.cyrillic += n,
            Class::Digit => self.word.digits += n,
            Class::Swappable => self.word.swappable += n,
            _ => self.word.other_letters += n,
        }
        self.word.chars += n;
    }

    #[inline]
    fn space(&mut self, orig: usize) {
        self.end_word();
        if self.out.last().is_some_and(|&b| b != b' ') {
            self.push_byte(b' ', orig);
        }
    }

    fn emit(&mut self, folded: &str, class: Class, orig: usize, orig_len: usize) {
        match class {
            Class::Invisible => {}
            Class::Space => self.space(orig),
            Class::Mixed => {
                for c in folded.chars() {
                    let mut buf = [0u8; 4];
                    let bytes = c.encode_utf8(&mut buf).as_bytes();
                    match class_of(c) {
                        k if k.is_word() => {
                            self.word_char(k);
                            self.push_fold(bytes, orig, orig_len);
                        }
                        Class::Space => self.space(orig),
                        _ => {
                            self.end_word();
                            self.push_fold(bytes, orig, orig_len);
                        }
                    }
                }
            }
            k if k.is_word() => {
                self.word_char(k);
                self.push_fold(folded.as_bytes(), orig, orig_len);
            }
            // Fullwidth `@`/`$` and all other symbols act as punctuation.
            _ => {
                self.end_word();
                self.push_fold(folded.as_bytes(), orig, orig_len);
            }
        }
    }

    #[inline]
    fn end_word(&mut self) {
        if !self.word.active {
            return;
        }
        self.word.active = false;
        let w = &self.word;
        // The common word: several letters of one script, no digits or symbols, in the same
        // script as the word before it. Nothing to repair, no run to extend.
        if w.chars > 1 && w.digits == 0 && w.swappable == 0 && (w.latin == 0 || w.cyrillic == 0) {
            let script = if w.latin > 0 {
                Script::Latin
            } else if w.cyrillic > 0 {
                Script::Cyrillic
            } else {
                Script::Unknown
            };
            if script == self.last_script
                || script == Script::Unknown
                || self.last_script == Script::Unknown
            {
                if script != Script::Unknown {
                    self.last_script = script;
                }
                if self.run.active {
                    self.finish_run();
                }
                return;
            }
        }
        self.end_word_slow();
    }

    fn end_word_slow(&mut self) {
        let w = &self.word;
        let letters = w.latin + w.cyrillic + w.other_letters;
        let start = w.start;
        let single_letter = w.chars == 1 && letters == 1;
        let script = match (w.latin, w.cyrillic) {
            (0, 0) => Script::Unknown,
            (l, c) if l >= c => Script::Latin,
            _ => Script::Cyrillic,
        };
        let pure = w.latin == 0 || w.cyrillic == 0;
        if (w.latin > 0 && w.cyrillic > 0) || (w.digits > 0 && letters >= 2) || w.swappable > 0 {
            self.repair(start, w.cyrillic > 0);
        }
        if pure
            && script != Script::Unknown
            && self.last_script != Script::Unknown
            && script != self.last_script
        {
            // "you аre just а tourist": a word made only of look-alikes takes its neighbour's script.
            if self.borrow_script(start, self.last_script == Script::Latin) {
                return self.after_word(start, single_letter);
            }
        }
        if script != Script::Unknown {
            self.last_script = script;
        }
        self.after_word(start, single_letter);
    }

    /// Rewrites the word at `start..` in the other script if every letter has a look-alike there.
    fn borrow_script(&mut self, start: usize, to_latin_script: bool) -> bool {
        let word = std::str::from_utf8(&self.out[start..]).unwrap_or("");
        let convert = |c: char| {
            if to_latin_script {
                to_latin(c)
            } else {
                to_cyrillic(c)
            }
        };
        if !word
            .chars()
            .all(|c| !c.is_alphabetic() || convert(c).is_some())
        {
            return false;
        }
        let mut chars = self.take_tail(start);
        for ch in &mut chars {
            if let Some(c) = convert(ch.0) {
                ch.0 = c;
            }
        }
        self.put_tail(&chars);
        true
    }

    fn after_word(&mut self, start: usize, single_letter: bool) {
        if single_letter {
            let r = &self.run;
            let gap = (r.active && r.end + 1 == start)
                .then(|| self.out[r.end])
                .filter(|&b| is_spacing_separator(b));
            match gap {
                Some(sep) if r.separator.is_none_or(|s| s == sep) => {
                    self.run.letters += 1;
                    self.run.separator = Some(sep);
                    self.run.last = start;
                    self.run.end = self.out.len();
                }
                Some(sep) => {
                    // The separator changed ("a t-o-u-r"): the previous letter opens a new run.
                    let last = self.run.last;
                    let letter_len = self.out.len() - start;
                    let joined = self.run.letters >= MIN_SPACED_LETTERS;
                    self.finish_run();
                    let end = self.out.len();
                    self.run = if joined {
                        let start = end - letter_len;
                        Run {
                            active: true,
                            start,
                            last: start,
                            end,
                            letters: 1,
                            separator: None,
                        }
                    } else {
                        Run {
                            active: true,
                            start: last,
                            last: start,
                            end,
                            letters: 2,
                            separator: Some(sep),
                        }
                    };
                }
                None => {
                    let letter_len = self.out.len() - start;
                    self.finish_run();
                    let end = self.out.len();
                    let start = end - letter_len;
                    self.run = Run {
                        active: true,
                        start,
                        last: start,
                        end,
                        letters: 1,
                        separator: None,
                    };
                }
            }
        } else {
            self.finish_run();
        }
    }

    /// The output from `start` on, as (char, original offset, original length).
    fn take_tail(&mut self, start: usize) -> Vec<(char, usize, usize)> {
        let tail = std::str::from_utf8(&self.out[start..]).unwrap_or("");
        let mut chars = Vec::with_capacity(tail.len());
        for (k, c) in tail.char_indices() {
            let orig = floor_boundary(self.original, offset_through(self.breaks, start + k));
            let len = self.original[orig..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
            chars.push((c, orig, len));
        }
        // Cut the output back to `start`, and the breakpoints with it.
        self.out.truncate(start);
        while self
            .breaks
            .last()
            .is_some_and(|&(n, _)| n as usize >= start)
        {
            self.breaks.pop();
        }
        self.delta = self.breaks.last().map_or(0, |&(n, o)| o as i64 - n as i64);
        chars
    }

    fn put_tail(&mut self, chars: &[(char, usize, usize)]) {
        for &(c, orig, len) in chars {
            let mut buf = [0u8; 4];
            self.push_fold(c.encode_utf8(&mut buf).as_bytes(), orig, len);
        }
    }

    /// Rewrites the word at `start..` that mixes scripts or hides letters behind digits.
    fn repair(&mut self, start: usize, has_cyrillic: bool) {
        if !has_cyrillic && self.out[start..].is_ascii() {
            // Same length in, same length out: rewrite in place, offsets unchanged.
            let word = &mut self.out[start..];
            let letters = word.iter().filter(|b| b.is_ascii_alphabetic()).count();
            for k in 0..word.len() {
                let b = word[k];
                let swap = match b {
                    b'@' | b'$' => true,
                    b'0'..=b'9' if letters >= 2 => lone_ascii_digit(word, k),
                    _ => false,
                };
                if swap {
                    if let Some(l) = digit_as_latin(b as char) {
                        word[k] = l as u8;
                    }
                }
            }
            return;
        }
        let mut chars = self.take_tail(start);
        repair_word(&mut chars);
        self.put_tail(&chars);
    }

    /// Joins a finished run of spaced-out letters into one word.
    fn finish_run(&mut self) {
        if !self.run.active {
            return;
        }
        self.run.active = false;
        if self.run.letters < MIN_SPACED_LETTERS {
            return;
        }
        let (start, end) = (self.run.start, self.run.end);
        let preceded_by_word =
            start >= 2 && self.out[start - 1] == b' ' && word_char_before(self.out, start - 1);
        let followed_by_word = self.out.get(end) == Some(&b' ') && word_char_at(self.out, end + 1);
        let mut chars = self.take_tail(start);
        // Split the tail into the run (letters and separators, alternating) and what follows.
        let mut run = Vec::new();
        let mut rest = Vec::new();
        let mut at = start;
        for ch in chars.drain(..) {
            if at < end {
                run.push(ch);
            } else {
                rest.push(ch);
            }
            at += ch.0.len_utf8();
        }
        // "just a t o u r i s t": an English one-letter word next to a spaced-out word stays a
        // word. Russian and Ukrainian words often start or end with a letter that is also a
        // word ("о б ы ч н ы й"), so those are left joined.
        let letters = run.len().div_ceil(2);
        let mut head = 0;
        let mut tail = run.len();
        if preceded_by_word
            && letters > MIN_SPACED_LETTERS as usize
            && matches!(run[0].0, 'a' | 'i')
        {
            head = 2;
        }
        if followed_by_word
            && (tail - head).div_ceil(2) > MIN_SPACED_LETTERS as usize
            && matches!(run[tail - 1].0, 'a' | 'i')
        {
            tail -= 2;
        }
        let mut joined: Vec<_> = run[head..tail].iter().step_by(2).copied().collect();
        repair_word(&mut joined);
        self.put_tail(&run[..head]);
        self.put_tail(&joined);
        self.put_tail(&run[tail..]);
        self.put_tail(&rest);
    }
}

/// Does the digit at `k` stand for a letter? It does when its run of digits is one long and
/// touches a letter, or lies between letters ("l00k"). ASCII words.
fn lone_ascii_digit(word: &[u8], k: usize) -> bool {
    digit_stands_for_letter(
        word.len(),
        k,
        |i| word[i].is_ascii_digit(),
        |i| word[i].is_ascii_alphabetic(),
    )
}

fn digit_stands_for_letter(
    len: usize,
    k: usize,
    is_digit: impl Fn(usize) -> bool,
    is_letter: impl Fn(usize) -> bool,
) -> bool {
    let mut start = k;
    while start > 0 && is_digit(start - 1) {
        start -= 1;
    }
    let mut end = k;
    while end < len && is_digit(end) {
        end += 1;
    }
    let left = start > 0 && is_letter(start - 1);
    let right = end < len && is_letter(end);
    (end - start == 1 && (left || right)) || (left && right)
}

/// Latin letters that look like Cyrillic ones, and back (lower case).
const LOOKALIKES: [(char, char); 13] = [
    ('a', 'а'),
    ('b', 'в'),
    ('c', 'с'),
    ('e', 'е'),
    ('h', 'н'),
    ('i', 'і'),
    ('k', 'к'),
    ('m', 'м'),
    ('o', 'о'),
    ('p', 'р'),
    ('t', 'т'),
    ('x', 'х'),
    ('y', 'у'),
];

fn to_cyrillic(c: char) -> Option<char> {
    if !c.is_ascii_lowercase() {
        return None;
    }
    LOOKALIKES.iter().find(|(l, _)| *l == c).map(|(_, k)| *k)
}

fn to_latin(c: char) -> Option<char> {
    if !('\u{0400}'..='\u{04FF}').contains(&c) {
        return None;
    }
    LOOKALIKES.iter().find(|(_, k)| *k == c).map(|(l, _)| *l)
}

fn digit_as_latin(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '@' => 'a',
        '$' => 's',
        _ => return None,
    })
}

fn digit_as_cyrillic(c: char) -> Option<char> {
    Some(match c {
        '0' => 'о',
        '3' => 'е',
        '4' => 'ч',
        '6' => 'б',
        '@' => 'а',
        _ => return None,
    })
}

/// Maps a word's look-alike letters to its main script and its disguised digits to letters.
fn repair_word(chars: &mut [(char, usize, usize)]) {
    let classes: Vec<Class> = chars.iter().map(|&(c, _, _)| class_of(c)).collect();
    let (mut latin, mut cyrillic, mut latin_only, mut cyrillic_only) = (0, 0, 0, 0);
    for (k, class) in classes.iter().enumerate() {
        let c = chars[k].0;
        match class {
            Class::Latin => {
                latin += 1;
                latin_only += usize::from(to_cyrillic(c).is_none());
            }
            Class::Cyrillic => {
                cyrillic += 1;
                cyrillic_only += usize::from(to_latin(c).is_none());
            }
            _ => {}
        }
    }
    let letters = latin + cyrillic;
    let cyrillic_word = if latin_only != cyrillic_only {
        cyrillic_only > latin_only
    } else {
        cyrillic > latin
    };
    let is_letter = |c: Class| matches!(c, Class::Latin | Class::Cyrillic);
    for k in 0..chars.len() {
        let c = chars[k].0;
        let swapped = match classes[k] {
            Class::Latin if cyrillic_word && cyrillic > 0 => to_cyrillic(c),
            Class::Cyrillic if !cyrillic_word && latin > 0 => to_latin(c),
            Class::Swappable => {
                if cyrillic_word {
                    digit_as_cyrillic(c)
                } else {
                    digit_as_latin(c)
                }
            }
            Class::Digit if letters >= 2 && lone_digit_at(&classes, k, is_letter) => {
                if cyrillic_word && cyrillic > 0 {
                    digit_as_cyrillic(c)
                } else if latin > 0 {
                    digit_as_latin(c)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(s) = swapped {
            chars[k].0 = s;
        }
    }
}

fn lone_digit_at(classes: &[Class], k: usize, is_letter: impl Fn(Class) -> bool) -> bool {
    digit_stands_for_letter(
        classes.len(),
        k,
        |i| classes[i] == Class::Digit,
        |i| is_letter(classes[i]),
    )
}

/// Is the character ending just before `pos` in `text` a word character?
#[inline]
pub fn word_char_before(text: &[u8], pos: usize) -> bool {
    if pos == 0 {
        return false;
    }
    let b = text[pos - 1];
    if b < 0x80 {
        return b.is_ascii_alphanumeric();
    }
    // Two-byte characters (Cyrillic, Greek, Latin supplements) are the common case.
    if pos >= 2 && (0xC2..=0xDF).contains(&text[pos - 2]) {
        return two_byte_is_word(text[pos - 2], b);
    }
    let mut s = pos - 1;
    while s > 0 && (text[s] & 0xC0) == 0x80 {
        s -= 1;
    }
    decode_is_word(&text[s..pos])
}

/// Is the character starting at `pos` in `text` a word character?
#[inline]
pub fn word_char_at(text: &[u8], pos: usize) -> bool {
    let Some(&b) = text.get(pos) else {
        return false;
    };
    if b < 0x80 {
        return b.is_ascii_alphanumeric();
    }
    if (0xC2..=0xDF).contains(&b) {
        return match text.get(pos + 1) {
            Some(&c) => two_byte_is_word(b, c),
            None => false,
        };
    }
    let len = match b {
        0xE0..=0xEF => 3,
        _ => 4,
    };
    decode_is_word(&text[pos..(pos + len).min(text.len())])
}

/// Letters and digits among the two-byte characters, one bit each, worked out once.
static TWO_BYTE_WORD: std::sync::OnceLock<[u64; 30]> = std::sync::OnceLock::new();

#[inline]
fn two_byte_is_word(lead: u8, cont: u8) -> bool {
    let bits = TWO_BYTE_WORD.get_or_init(|| {
        let mut t = [0u64; 30];
        for cp in 0x80u32..0x800 {
            if char::from_u32(cp).is_some_and(char::is_alphanumeric) {
                t[(cp / 64) as usize - 2] |= 1 << (cp % 64);
            }
        }
        t
    });
    let cp = (u32::from(lead & 0x1F) << 6) | u32::from(cont & 0x3F);
    cp >= 0x80 && bits[(cp / 64) as usize - 2] & (1 << (cp % 64)) != 0
}

fn decode_is_word(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|x| x.chars().next())
        .is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let mut n = Normalized::default();
        normalize_into(s, &mut n);
        n.as_str().to_string()
    }

    #[test]
    fn folds_case_and_compatibility_forms() {
        assert_eq!(norm("ТУРИСТ Ёлка"), "турист елка");
        assert_eq!(norm("Straße"), "strasse");
        assert_eq!(norm("ｔｏｕｒｉｓｔ"), "tourist");
        assert_eq!(norm("𝐭𝐨𝐮𝐫𝐢𝐬𝐭"), "tourist");
        assert_eq!(norm("café"), "cafe");
        assert_eq!(norm("приїжджайте"), "приіжджаите");
    }

    #[test]
    fn drops_invisibles_and_collapses_space() {
        assert_eq!(norm("тур\u{00AD}ист"), "турист");
        assert_eq!(norm("tou\u{200B}rist"), "tourist");
        assert_eq!(norm("a  \n\t b"), "a b");
        assert_eq!(norm("18–45"), "18-45");
    }

    #[test]
    fn maps_lookalikes_to_the_word_script() {
        // Cyrillic о and е in an English word; Latin o, p, c in a Russian one.
        assert_eq!(norm("t\u{043E}urist"), "tourist");
        assert_eq!(norm("typ\u{0438}ct"), "турист");
        assert_eq!(norm("тypиcт"), "турист");
        assert_eq!(norm("Tурист"), "турист");
    }

    #[test]
    fn swaps_digits_inside_words_only() {
        assert_eq!(norm("t0urist"), "tourist");
        assert_eq!(norm("l00k"), "look");
        assert_eq!(norm("covid19"), "covid19");
        assert_eq!(norm("тур1ст"), "тур1ст"); // 1 has no Cyrillic reading
        assert_eq!(norm("т0урист"), "тоурист");
        assert_eq!(norm("3ахват"), "еахват");
        assert_eq!(norm("men aged 18-45"), "men aged 18-45");
        assert_eq!(norm("от 18 до 45лет"), "от 18 до 45лет");
        assert_eq!(norm("t@urist"), "taurist");
        // Web addresses keep their digits.
        assert_eq!(
            norm("go to https://t.co/Ab1cD now"),
            "go to https://t.co/ab1cd now"
        );
    }

    #[test]
    fn joins_spaced_out_letters() {
        assert_eq!(norm("т у р и с т"), "турист");
        assert_eq!(norm("t.o.u.r.i.s.t here"), "tourist here");
        assert_eq!(norm("I am a b"), "i am a b");
        assert_eq!(norm("be a t-o-u-r-i-s-t now"), "be a tourist now");
        assert_eq!(norm("just a t o u r i s t"), "just a tourist");
        assert_eq!(norm("j u s t a tourist"), "just a tourist");
        assert_eq!(norm("с т а н ь"), "стань");
        assert_eq!(norm("ты о б ы ч н ы й"), "ты обычныи");
    }

    #[test]
    fn spans_map_back_to_original_characters() {
        let original = "Ты — ТУР\u{00AD}ИСТ!";
        let mut n = Normalized::default();
        normalize_into(original, &mut n);
        let s = n.as_str();
        let at = s.find("турист").unwrap();
        let (a, b) = n.original_span(original, at, at + "турист".len());
        assert_eq!(&original[a..b], "ТУР\u{00AD}ИСТ");
    }
}
