//! Folding one character: case, compatibility forms, the classes words are built from.

use std::sync::OnceLock;

/// What a folded character is, for word building.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Class {
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
    pub(super) fn is_word(self) -> bool {
        matches!(
            self,
            Class::Latin | Class::Cyrillic | Class::OtherLetter | Class::Digit
        )
    }
}

#[derive(Clone, Copy)]
pub(super) struct Fold {
    pub(super) start: u32,
    pub(super) len: u8,
    pub(super) class: Class,
    /// The first (up to) four bytes of the fold, so short folds need no pool lookup.
    pub(super) bytes: [u8; 4],
}

pub(super) struct FoldTable {
    pub(super) pool: String,
    pub(super) low: Vec<Fold>,       // U+0000..U+0800
    pub(super) punct: Vec<Fold>,     // U+2000..U+2100
    pub(super) fullwidth: Vec<Fold>, // U+FF00..U+10000
}

pub(super) const PUNCT_BASE: u32 = 0x2000;
pub(super) const FULLWIDTH_BASE: u32 = 0xFF00;

pub(super) fn table() -> &'static FoldTable {
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
include!("../fold_rules.rs");

/// Folds the build script precomputed: every character whose fold differs from
/// [`simple_fold`], as sorted code points and `offset << 8 | length` into a pool.
mod generated {
    include!(concat!(env!("OUT_DIR"), "/folds.rs"));
}

pub(super) fn class_of(c: char) -> Class {
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
pub(super) fn fold_char_slow(c: char, out: &mut String) -> Class {
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
pub(super) static ASCII_CLASS: [Class; 128] = {
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
