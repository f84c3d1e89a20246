//! UTF-8 helpers shared by the normaliser, the matcher, the n-gram scorer and error reporting.

/// Length of the UTF-8 sequence that `lead` starts (1 for a stray continuation byte, so a
/// walk over bytes always moves on).
#[inline]
pub fn seq_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xFF => 4,
        _ => 1,
    }
}

/// The largest character boundary of `s` at or before byte `i` (clamped to its length).
#[inline]
pub fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `s` cut to at most `max` bytes on a character boundary, and whether it was cut.
pub fn cut(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    (&s[..floor_char_boundary(s, max)], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_and_lengths() {
        let s = "aжb€";
        assert_eq!(floor_char_boundary(s, 2), 1);
        assert_eq!(floor_char_boundary(s, 3), 3);
        assert_eq!(floor_char_boundary(s, 99), s.len());
        assert_eq!(cut(s, 5), ("aжb", true));
        assert_eq!(cut(s, 7), (s, false));
        let lens: Vec<usize> = s.bytes().map(seq_len).collect();
        assert_eq!(lens, [1, 2, 1, 1, 3, 1, 1]);
    }
}
