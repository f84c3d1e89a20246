//! Spaced-out letters: `т у р и с т`, `t.o.u.r.i.s.t` joined back into one word.

use super::words::{repair_word, word_char_at, word_char_before};
use super::Writer;

/// Single letters separated by one separator each: `т у р и с т`, `t.o.u.r.i.s.t`.
#[derive(Default)]
pub(super) struct Run {
    pub(super) active: bool,
    pub(super) start: usize,
    /// Start of the run's last letter.
    pub(super) last: usize,
    pub(super) end: usize,
    pub(super) letters: u32,
    /// The separator between the run's letters, once known.
    pub(super) separator: Option<u8>,
}

impl Run {
    /// A run of the one letter at `start..end`.
    fn one_letter(start: usize, end: usize) -> Run {
        Run {
            active: true,
            start,
            last: start,
            end,
            letters: 1,
            separator: None,
        }
    }
}

pub(super) const MIN_SPACED_LETTERS: u32 = 4;

pub(super) fn is_spacing_separator(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'.' | b'-' | b'_' | b'*' | b'+' | b'/' | b'|' | b','
    )
}

impl Writer<'_> {
    pub(super) fn after_word(&mut self, start: usize, single_letter: bool) {
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
                        Run::one_letter(end - letter_len, end)
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
                    self.run = Run::one_letter(end - letter_len, end);
                }
            }
        } else {
            self.finish_run();
        }
    }

    /// Joins a finished run of spaced-out letters into one word.
    pub(super) fn finish_run(&mut self) {
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
