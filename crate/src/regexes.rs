//! Regexes in packs: parsed and checked once when a pack is validated, then used by the
//! engine three ways: literal prefixes that trigger a regex from the phrase automaton, a
//! widened form for the multi-pattern pass over posts without such a prefix, and the exact
//! regex, built on first need, that confirms a match and gives its span.

use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{
    Capture, Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look, Repetition,
};

use crate::limits::MAX_REGEX_BYTES;

/// A regex as the engine uses it: its source, the literals every match starts with (when
/// they are few and long enough to be a trigger), and the widened form for the regex set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackRegex {
    pub source: String,
    pub prefixes: Option<Vec<String>>,
    pub widened: String,
}

/// Parses a regex once and works out everything the engine needs from it; `Err` says why it
/// cannot be used.
pub fn analyse(source: &str) -> Result<(PackRegex, Hir), String> {
    let hir = check_regex(source)?;
    let relaxed = relax(&hir);
    let regex = PackRegex {
        source: source.to_string(),
        prefixes: literal_prefixes(&relaxed),
        widened: relaxed.to_string(),
    };
    Ok((regex, hir))
}

/// Parses a regex and checks its compiled size, as cheaply as that can be done.
pub fn check_regex(source: &str) -> Result<Hir, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(source)
        .map_err(|e| {
            format!(
                "regex does not compile: {}",
                e.to_string().replace('\n', " ")
            )
        })?;
    let config = thompson::Config::new()
        .nfa_size_limit(Some(MAX_REGEX_BYTES))
        .shrink(false);
    thompson::Compiler::new()
        .configure(config)
        .build_from_hir(&hir)
        .map_err(|_| {
            format!("regex compiles to more than {MAX_REGEX_BYTES} bytes; simplify it or split it")
        })?;
    Ok(hir)
}

/// Compiles one regex as the engine runs it to find spans.
pub fn build_regex(source: &str) -> Option<Regex> {
    let syntax = regex_automata::util::syntax::Config::new().nest_limit(64);
    let config = Regex::config()
        .nfa_size_limit(Some(MAX_REGEX_BYTES))
        .hybrid_cache_capacity(MAX_REGEX_BYTES);
    Regex::builder()
        .syntax(syntax)
        .configure(config)
        .build(source)
        .ok()
}

/// Literals that every match of `hir` starts with, when there are few and long enough to be
/// a useful trigger.
pub fn literal_prefixes(hir: &Hir) -> Option<Vec<String>> {
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

/// A looser version of a regex for the multi-pattern pass: it matches everything the regex
/// matches, but without Unicode word boundaries (which stop the lazy DFA on non-ASCII text)
/// and with large Unicode classes widened to "this ASCII part, or any non-ASCII character"
/// (which keeps the automaton small). Posts it matches are confirmed with the exact regex.
pub fn relax(h: &Hir) -> Hir {
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
