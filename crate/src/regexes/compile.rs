//! From a parsed regex to the program the scanner runs ([`Program`]).
//!
//! The program is built backwards, each part compiled with what follows it already known,
//! so no step needs patching later except the loops of unbounded repetitions.

use regex_syntax::hir::{Class, Hir, HirKind, Look as HirLook};

use super::program::{Inst, Look, Program};
use crate::limits::MAX_REGEX_STEPS;

/// Compiles a parsed regex; `Err` says why it cannot run.
pub fn compile(hir: &Hir) -> Result<Program, String> {
    let mut c = Compiler::default();
    let done = c.push(Inst::Match)?;
    let start = c.hir(hir, done)?;
    let first_bytes = c.first_bytes(start);
    Ok(Program {
        insts: c.insts,
        classes: c.classes,
        start,
        first_bytes,
    })
}

#[derive(Default)]
struct Compiler {
    insts: Vec<Inst>,
    classes: Vec<Vec<(u32, u32)>>,
}

impl Compiler {
    fn push(&mut self, inst: Inst) -> Result<u32, String> {
        if self.insts.len() >= MAX_REGEX_STEPS {
            return Err(format!(
                "regex is too large: it compiles to more than {MAX_REGEX_STEPS} steps; simplify it or split it"
            ));
        }
        self.insts.push(inst);
        Ok(self.insts.len() as u32 - 1)
    }

    /// Compiles `h` so that it goes on at `next`; returns where it starts.
    fn hir(&mut self, h: &Hir, next: u32) -> Result<u32, String> {
        match h.kind() {
            HirKind::Empty => Ok(next),
            HirKind::Literal(lit) => {
                let text = std::str::from_utf8(&lit.0)
                    .map_err(|_| "regex matches bytes that are not text; remove (?-u) escapes of non-ASCII bytes".to_string())?;
                let mut at = next;
                for c in text.chars().rev() {
                    at = self.push(Inst::Char {
                        lo: c as u32,
                        hi: c as u32,
                        next: at,
                    })?;
                }
                Ok(at)
            }
            HirKind::Class(class) => {
                let ranges: Vec<(u32, u32)> = match class {
                    Class::Unicode(u) => u
                        .ranges()
                        .iter()
                        .map(|r| (r.start() as u32, r.end() as u32))
                        .collect(),
                    Class::Bytes(b) => {
                        if b.ranges().iter().any(|r| r.end() > 0x7F) {
                            return Err(
                                "regex has a byte class beyond ASCII; remove (?-u) from it".into(),
                            );
                        }
                        b.ranges()
                            .iter()
                            .map(|r| (u32::from(r.start()), u32::from(r.end())))
                            .collect()
                    }
                };
                if let [(lo, hi)] = ranges[..] {
                    return self.push(Inst::Char { lo, hi, next });
                }
                let class = match self.classes.iter().position(|c| *c == ranges) {
                    Some(i) => i,
                    None => {
                        self.classes.push(ranges);
                        self.classes.len() - 1
                    }
                };
                self.push(Inst::Class {
                    class: class as u32,
                    next,
                })
            }
            HirKind::Look(look) => {
                let look = match look {
                    HirLook::Start => Look::Start,
                    HirLook::End => Look::End,
                    HirLook::StartLF => Look::StartLine,
                    HirLook::EndLF => Look::EndLine,
                    HirLook::StartCRLF => Look::StartLineCrlf,
                    HirLook::EndCRLF => Look::EndLineCrlf,
                    HirLook::WordAscii => Look::Word { ascii: true },
                    HirLook::WordAsciiNegate => Look::NotWord { ascii: true },
                    HirLook::WordUnicode => Look::Word { ascii: false },
                    HirLook::WordUnicodeNegate => Look::NotWord { ascii: false },
                    HirLook::WordStartAscii => Look::WordStart { ascii: true },
                    HirLook::WordEndAscii => Look::WordEnd { ascii: true },
                    HirLook::WordStartUnicode => Look::WordStart { ascii: false },
                    HirLook::WordEndUnicode => Look::WordEnd { ascii: false },
                    HirLook::WordStartHalfAscii => Look::WordStartHalf { ascii: true },
                    HirLook::WordEndHalfAscii => Look::WordEndHalf { ascii: true },
                    HirLook::WordStartHalfUnicode => Look::WordStartHalf { ascii: false },
                    HirLook::WordEndHalfUnicode => Look::WordEndHalf { ascii: false },
                };
                self.push(Inst::Look { look, next })
            }
            HirKind::Capture(cap) => self.hir(&cap.sub, next),
            HirKind::Concat(parts) => {
                let mut at = next;
                for part in parts.iter().rev() {
                    at = self.hir(part, at)?;
                }
                Ok(at)
            }
            HirKind::Alternation(parts) => {
                let starts = parts
                    .iter()
                    .map(|p| self.hir(p, next))
                    .collect::<Result<Vec<u32>, String>>()?;
                let mut at = *starts.last().expect("an alternation has parts");
                for &s in starts.iter().rev().skip(1) {
                    at = self.push(Inst::Split {
                        first: s,
                        second: at,
                    })?;
                }
                Ok(at)
            }
            HirKind::Repetition(rep) => {
                let split = |body: u32, out: u32| {
                    if rep.greedy {
                        Inst::Split {
                            first: body,
                            second: out,
                        }
                    } else {
                        Inst::Split {
                            first: out,
                            second: body,
                        }
                    }
                };
                let (mut at, copies) = match rep.max {
                    None if rep.min == 0 && rep.sub.properties().minimum_len() != Some(0) => {
                        // `x*`: a loop whose split is written after the body it leads into.
                        let lp = self.push(Inst::Match)?;
                        let body = self.hir(&rep.sub, lp)?;
                        self.insts[lp as usize] = split(body, next);
                        (lp, 0)
                    }
                    None => {
                        // `x{n,}` as `x{n-1}x+`, and `x*` of an `x` that can match empty
                        // text as `(?:x+)?`: a plain loop would prefer the wrong way out of
                        // the empty iteration.
                        let lp = self.push(Inst::Match)?;
                        let body = self.hir(&rep.sub, lp)?;
                        self.insts[lp as usize] = split(body, next);
                        if rep.min == 0 {
                            (self.push(split(body, next))?, 0)
                        } else {
                            (body, rep.min - 1)
                        }
                    }
                    Some(max) => {
                        // `x{2,4}` as `xx(?:x(?:x)?)?`.
                        let mut at = next;
                        for _ in rep.min..max {
                            let body = self.hir(&rep.sub, at)?;
                            at = self.push(split(body, next))?;
                        }
                        (at, rep.min)
                    }
                };
                for _ in 0..copies {
                    at = self.hir(&rep.sub, at)?;
                }
                Ok(at)
            }
        }
    }

    /// The lead bytes of the characters a match can start with; `None` when a match can be
    /// reached without reading.
    fn first_bytes(&self, start: u32) -> Option<[u64; 4]> {
        let mut set = [0u64; 4];
        let mut seen = vec![false; self.insts.len()];
        let mut stack = vec![start];
        let mark = |set: &mut [u64; 4], lo: u32, hi: u32| {
            for b in lead_byte(lo)..=lead_byte(hi) {
                // Between an ASCII and a longer character's lead byte lie continuation bytes,
                // which never start a character.
                if !(0x80..0xC0).contains(&b) {
                    set[(b >> 6) as usize] |= 1 << (b & 63);
                }
            }
        };
        while let Some(s) = stack.pop() {
            if std::mem::replace(&mut seen[s as usize], true) {
                continue;
            }
            match self.insts[s as usize] {
                Inst::Match => return None,
                Inst::Char { lo, hi, .. } => mark(&mut set, lo, hi),
                Inst::Class { class, .. } => {
                    for &(lo, hi) in &self.classes[class as usize] {
                        mark(&mut set, lo, hi);
                    }
                }
                Inst::Split { first, second } => {
                    stack.push(first);
                    stack.push(second);
                }
                // Word assertions do not change which character comes next.
                Inst::Look { next, .. } => stack.push(next),
            }
        }
        Some(set)
    }
}

/// The first byte of a character's UTF-8 form; lead bytes grow with the character, so a
/// range of characters has its lead bytes in the range of its ends' lead bytes.
fn lead_byte(c: u32) -> u8 {
    match c {
        0..=0x7F => c as u8,
        0x80..=0x7FF => 0xC0 | (c >> 6) as u8,
        0x800..=0xFFFF => 0xE0 | (c >> 12) as u8,
        _ => 0xF0 | (c >> 18) as u8,
    }
}
