//! Normalisation that defeats simple evasion while remembering where every byte came from.
//!
//! The output is a lower-case, compatibility-folded copy of the post in which look-alike
//! letters, digit swaps, invisible characters and spaced-out letters no longer hide a word.
//! Beside it runs a map: for every output byte, the byte offset in the original text of the
//! character that produced it. Matches found in the output are mapped back through it, so
//! they always point at whole characters of the original.
//!
//! Performance: runs of ASCII letters are copied eight bytes at a time and folded in place,
//! runs of basic Cyrillic letters (`А`..`я`) folded two bytes at a time from a small table
//! with no branch per letter, and web addresses copied whole; other ASCII
//! goes through a 128-entry class table, and non-ASCII characters up to U+07FF (Latin, Greek,
//! the rest of Cyrillic) and the punctuation and fullwidth blocks through a precomputed fold
//! table; only rarer characters pay for Unicode decomposition. The
//! word-level repairs (mixed scripts, digit swaps, spaced letters) run only on words that
//! need them.

mod fold;
mod spaced;
mod words;

use fold::{class_of, fold_char_slow, table, Class, ASCII_CLASS, FULLWIDTH_BASE, PUNCT_BASE};
use spaced::Run;
pub use words::{word_char_at, word_char_before, word_starts_at};
use words::{Script, Word};

use crate::utf8::floor_char_boundary;

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
        let from = floor_char_boundary(original, self.original_offset(start));
        let last = floor_char_boundary(original, self.original_offset(end.max(start + 1) - 1));
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

/// Normalises a phrase written in a pack (no offsets needed).
pub fn normalize_phrase(phrase: &str) -> String {
    normalize_phrase_with(phrase, &mut Normalized::default())
}

/// [`normalize_phrase`] with buffers reused across calls.
pub fn normalize_phrase_with(phrase: &str, n: &mut Normalized) -> String {
    normalize_into(phrase, n);
    n.as_str().trim_matches(' ').to_string()
}

/// Length of a web address starting at `i` (`http://…`, `https://…`), up to white space.
#[inline]
fn url_len(bytes: &[u8], i: usize) -> usize {
    // Most words starting with "h" are not addresses: one byte tells.
    if !matches!(bytes.get(i + 4), Some(b':' | b's' | b'S')) {
        return 0;
    }
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

/// Bit 7 of each byte of `x` that is not an ASCII letter (eight bytes at once: no carry crosses
/// a byte, as every sum stays below 0x100).
#[inline(always)]
fn non_letters(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = (x | 0x2020_2020_2020_2020) & !HIGH;
    let at_least_a = (low + 0x1F1F_1F1F_1F1F_1F1F) & HIGH;
    let past_z = (low + 0x0505_0505_0505_0505) & HIGH;
    !(at_least_a & !past_z & !(x & HIGH)) & HIGH
}

/// Appends the lower case of the run of ASCII letters that starts `bytes` to `out`, eight
/// bytes at a time, and returns its length. Each step stores all eight bytes and then cuts
/// `out` back to the letters among them.
#[inline(always)]
fn copy_ascii_letters(bytes: &[u8], out: &mut Vec<u8>) -> usize {
    let mut n = 0;
    while let Some(chunk) = bytes.get(n..n + 8) {
        let x = u64::from_le_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]);
        out.extend_from_slice(&(x | 0x2020_2020_2020_2020).to_le_bytes());
        let stop = non_letters(x);
        if stop != 0 {
            let letters = (stop.trailing_zeros() / 8) as usize;
            out.truncate(out.len() - 8 + letters);
            return n + letters;
        }
        n += 8;
    }
    while let Some(&b) = bytes.get(n).filter(|b| b.is_ascii_alphabetic()) {
        out.push(b | 0x20);
        n += 1;
    }
    n
}

/// Normalises `original` into `n`, reusing its buffers.
pub fn normalize_into(original: &str, n: &mut Normalized) {
    normalize_with::<true>(original, n);
}

/// The normaliser without its fast paths: every character goes through the fold table. The
/// reference the fast paths are tested against; same output, only slower.
#[doc(hidden)]
pub fn normalize_general(original: &str, n: &mut Normalized) {
    normalize_with::<false>(original, n);
}

/// Is `lead cont` one of the basic Cyrillic letters U+0410..U+044F (`А`..`я`)? In valid
/// UTF-8, `cont` after a lead byte is 0x80..=0xBF.
#[inline(always)]
const fn basic_cyrillic(lead: u8, cont: u8) -> bool {
    (lead == 0xD0 && cont >= 0x90) || (lead == 0xD1 && cont < 0x90)
}

/// The fold of each basic Cyrillic letter, indexed by its lead byte's low bit (`D0` or `D1`)
/// and its continuation byte's low six bits: no branch per letter. Upper case moves down by
/// 0x20, and `й` (like `Й`) loses its breve as compatibility decomposition takes it off; the
/// class is always [`Class::Cyrillic`]. Built at compile time; tested against the fold table.
static BASIC_CYRILLIC_FOLD: [[u8; 2]; 128] = {
    let mut t = [[0u8; 2]; 128];
    let mut k = 0;
    while k < 128 {
        let lead = 0xD0 | (k >> 6) as u8;
        let cont = 0x80 | (k & 0x3F) as u8;
        if basic_cyrillic(lead, cont) {
            let mut cp = ((lead as u32 & 0x1F) << 6) | (cont as u32 & 0x3F);
            if cp < 0x430 {
                cp += 0x20;
            }
            if cp == 0x439 {
                cp = 0x438;
            }
            t[k] = [0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8];
        }
        k += 1;
    }
    t
};

/// The fold of the basic Cyrillic letter `lead cont`, from [`BASIC_CYRILLIC_FOLD`].
#[inline(always)]
fn fold_basic_cyrillic(lead: u8, cont: u8) -> [u8; 2] {
    BASIC_CYRILLIC_FOLD[(usize::from(lead & 1) << 6) | usize::from(cont & 0x3F)]
}

/// The normaliser. With `FAST`, runs of ASCII letters and web addresses are copied in bulk and
/// folded in place, and runs of basic Cyrillic letters folded from a 128-entry table with no
/// branch per letter; without it, every character goes through the general fold table. Both
/// write the same text and breakpoints (tested below).
fn normalize_with<const FAST: bool>(original: &str, n: &mut Normalized) {
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
                            if FAST {
                                // Byte for byte: one mark covers the whole address.
                                w.mark(i);
                                w.out
                                    .extend(bytes[i..i + len].iter().map(u8::to_ascii_lowercase));
                            } else {
                                for (k, b) in bytes[i..i + len].iter().enumerate() {
                                    w.push_byte(b.to_ascii_lowercase(), i + k);
                                }
                            }
                            i += len;
                            continue;
                        }
                    }
                    // A run of ASCII letters: one mark, then plain copies.
                    w.word_run(Class::Latin, 0);
                    w.mark(i);
                    let n = if FAST {
                        copy_ascii_letters(&bytes[i..], w.out)
                    } else {
                        let n = bytes[i..]
                            .iter()
                            .take_while(|b| b.is_ascii_alphabetic())
                            .count();
                        w.out.extend(bytes[i..i + n].iter().map(|b| b | 0x20));
                        n
                    };
                    w.word_run(Class::Latin, n as u32);
                    i += n;
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
        if FAST && i + 1 < bytes.len() && basic_cyrillic(b, bytes[i + 1]) {
            // A run of basic Cyrillic letters, folded two bytes at a time from a table.
            w.word_run(Class::Cyrillic, 0);
            w.mark(i);
            let mut j = i;
            while j + 1 < bytes.len() && basic_cyrillic(bytes[j], bytes[j + 1]) {
                w.out
                    .extend_from_slice(&fold_basic_cyrillic(bytes[j], bytes[j + 1]));
                j += 2;
            }
            w.word_run(Class::Cyrillic, ((j - i) / 2) as u32);
            i = j;
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

    /// The output from `start` on, as (char, original offset, original length).
    fn take_tail(&mut self, start: usize) -> Vec<(char, usize, usize)> {
        let tail = std::str::from_utf8(&self.out[start..]).unwrap_or("");
        let mut chars = Vec::with_capacity(tail.len());
        for (k, c) in tail.char_indices() {
            let orig = floor_char_boundary(self.original, offset_through(self.breaks, start + k));
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
    fn ascii_letter_runs_are_found_eight_bytes_at_a_time() {
        // Every byte value, at every place of an eight-byte word of letters.
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = *b"AbCdEfGh";
                word[at] = b;
                let stop = non_letters(u64::from_le_bytes(word));
                let expected = if b.is_ascii_alphabetic() {
                    0
                } else {
                    0x80u64 << (8 * at)
                };
                assert_eq!(stop, expected, "byte {b:#x} at {at}");
            }
        }
        for text in [
            "",
            "a",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "HelloWorldAndMore, x",
            "ab1cd",
        ] {
            let mut out = b"x".to_vec();
            let n = copy_ascii_letters(text.as_bytes(), &mut out);
            let letters: String = text.chars().take_while(char::is_ascii_alphabetic).collect();
            assert_eq!(n, letters.len(), "{text}");
            assert_eq!(
                out,
                format!("x{}", letters.to_lowercase()).into_bytes(),
                "{text}"
            );
        }
    }

    #[test]
    fn basic_cyrillic_folds_as_the_table_does() {
        let table = table();
        for cp in 0x400u32..0x500 {
            let c = char::from_u32(cp).unwrap();
            let mut pair = [0u8; 2];
            c.encode_utf8(&mut pair);
            let fast = basic_cyrillic(pair[0], pair[1]);
            assert_eq!(fast, (0x410..0x450).contains(&cp), "{c}");
            if fast {
                let f = table.low[cp as usize];
                let folded = fold_basic_cyrillic(pair[0], pair[1]);
                assert_eq!((f.class, f.len), (Class::Cyrillic, 2), "{c}");
                assert_eq!(folded, [f.bytes[0], f.bytes[1]], "{c}");
            }
        }
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
