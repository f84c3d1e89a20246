//! Word-level repairs: look-alike letters mapped to the word's script, digits and symbols
//! that stand for letters, whole words of look-alikes borrowing their neighbour's script; and
//! the word-character tests matching uses.

use super::fold::{class_of, Class};
use super::Writer;

#[derive(Default)]
pub(super) struct Word {
    pub(super) active: bool,
    pub(super) start: usize,
    pub(super) latin: u32,
    pub(super) cyrillic: u32,
    pub(super) other_letters: u32,
    pub(super) digits: u32,
    pub(super) swappable: u32,
    pub(super) chars: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Script {
    #[default]
    Unknown,
    Latin,
    Cyrillic,
}

impl Writer<'_> {
    #[inline]
    pub(super) fn end_word(&mut self) {
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

    pub(super) fn end_word_slow(&mut self) {
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
    pub(super) fn borrow_script(&mut self, start: usize, to_latin_script: bool) -> bool {
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

    /// Rewrites the word at `start..` that mixes scripts or hides letters behind digits.
    pub(super) fn repair(&mut self, start: usize, has_cyrillic: bool) {
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
}

/// Does the digit at `k` stand for a letter? It does when its run of digits is one long and
/// touches a letter, or lies between letters ("l00k"). ASCII words.
pub(super) fn lone_ascii_digit(word: &[u8], k: usize) -> bool {
    digit_stands_for_letter(
        word.len(),
        k,
        |i| word[i].is_ascii_digit(),
        |i| word[i].is_ascii_alphabetic(),
    )
}

pub(super) fn digit_stands_for_letter(
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
pub(super) const LOOKALIKES: [(char, char); 13] = [
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

pub(super) fn to_cyrillic(c: char) -> Option<char> {
    if !c.is_ascii_lowercase() {
        return None;
    }
    LOOKALIKES.iter().find(|(l, _)| *l == c).map(|(_, k)| *k)
}

pub(super) fn to_latin(c: char) -> Option<char> {
    if !('\u{0400}'..='\u{04FF}').contains(&c) {
        return None;
    }
    LOOKALIKES.iter().find(|(_, k)| *k == c).map(|(l, _)| *l)
}

pub(super) fn digit_as_latin(c: char) -> Option<char> {
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

pub(super) fn digit_as_cyrillic(c: char) -> Option<char> {
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
pub(super) fn repair_word(chars: &mut [(char, usize, usize)]) {
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

pub(super) fn lone_digit_at(
    classes: &[Class],
    k: usize,
    is_letter: impl Fn(Class) -> bool,
) -> bool {
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

/// Can a word start at `pos`: no word character just before it, and not the suffix of a
/// number written with a hyphen (`18-ти`, `1-го`, `5-й`), whose letters are an ending rather
/// than a word (so `ти`, "you" in Ukrainian, is not found in `з 18-ти років`).
#[inline]
pub fn word_starts_at(text: &[u8], pos: usize) -> bool {
    if word_char_before(text, pos) {
        return false;
    }
    !(pos >= 2 && text[pos - 1] == b'-' && text[pos - 2].is_ascii_digit())
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
pub(super) fn two_byte_is_word(lead: u8, cont: u8) -> bool {
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

pub(super) fn decode_is_word(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|x| x.chars().next())
        .is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::word_starts_at;

    #[test]
    fn a_word_starts_after_spaces_and_punctuation_but_not_after_a_number_and_hyphen() {
        let starts =
            |text: &str, word: &str| word_starts_at(text.as_bytes(), text.find(word).unwrap());
        assert!(starts("ти можеш", "ти"));
        assert!(starts("так, ти можеш", "ти"));
        assert!(
            starts("воля-ти", "ти"),
            "a hyphen after letters still starts a word"
        );
        assert!(
            !starts("з 18-ти років", "ти"),
            "an ending of a number is not a word"
        );
        assert!(!starts("1-го числа", "го"));
        assert!(!starts("мати", "ти"));
        assert!(starts("18 ти", "ти"));
    }
}
