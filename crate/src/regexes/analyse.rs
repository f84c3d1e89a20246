//! Parsing and checking a pack's regex, and working out what the engine needs from it: its
//! literal prefixes and its program.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{
    Capture, Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look, Repetition,
};

use super::PackRegex;

/// Parses a regex once and works out everything the engine needs from it; `Err` says why it
/// cannot be used.
pub fn analyse(source: &str) -> Result<(PackRegex, Hir), String> {
    let hir = check_regex(source)?;
    let regex = PackRegex {
        source: source.to_string(),
        prefixes: literal_prefixes(&relax(&hir)),
        program: super::compile(&hir)?,
    };
    Ok((regex, hir))
}

/// Parses a regex; its size is checked when it is compiled.
fn check_regex(source: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(source)
        .map_err(|e| {
            format!(
                "regex does not compile: {}",
                e.to_string().replace('\n', " ")
            )
        })
}

/// Literals that every match of `hir` starts with, when there are few and long enough to be
/// a useful trigger.
fn literal_prefixes(hir: &Hir) -> Option<Vec<String>> {
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_class(8)
        .limit_repeat(4)
        .limit_literal_len(24)
        .limit_total(256);
    let seq = extractor.extract(hir);
    let literals = seq.literals()?;
    let mut out = Vec::with_capacity(literals.len());
    for l in literals {
        // An inexact prefix may end inside a character; keep its whole characters.
        let bytes = l.as_bytes();
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
        };
        if text.len() < 3 {
            return None;
        }
        out.push(text.to_string());
    }
    (!out.is_empty()).then_some(out)
}

/// A looser version of a regex, for finding its literal prefixes: it matches everything the
/// regex matches, but without word boundaries and with large Unicode classes widened to "this
/// ASCII part, or any non-ASCII character".
fn relax(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Look(
            Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode,
        ) => Hir::empty(),
        HirKind::Class(Class::Unicode(c)) if c.ranges().len() > 4 => {
            let mut ranges: Vec<ClassUnicodeRange> = c
                .ranges()
                .iter()
                .filter(|r| r.start() <= '\x7f')
                .map(|r| ClassUnicodeRange::new(r.start(), r.end().min('\x7f')))
                .collect();
            ranges.push(ClassUnicodeRange::new('\u{80}', '\u{10FFFF}'));
            Hir::class(Class::Unicode(ClassUnicode::new(ranges)))
        }
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            sub: Box::new(relax(&r.sub)),
            ..r.clone()
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            sub: Box::new(relax(&c.sub)),
            ..c.clone()
        }),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(relax).collect()),
        HirKind::Alternation(parts) => Hir::alternation(parts.iter().map(relax).collect()),
        _ => h.clone(),
    }
}
