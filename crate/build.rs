// Embeds the packs shipped in extension/packs/ so the command line works from any directory,
// and precomputes the Unicode folds the normaliser needs, so the engine carries a small table
// instead of the full decomposition data.
use std::{env, fmt::Write as _, fs, path::Path};

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

#[allow(dead_code)]
mod rules {
    include!("src/fold_rules.rs");
}
use rules::{is_invisible, special_fold};

/// The full fold: compatibility decomposition, marks dropped, lower case, special folds.
fn full_fold(c: char) -> String {
    let mut out = String::new();
    for d in std::iter::once(c).nfkd() {
        if is_combining_mark(d) || is_invisible(d) {
            continue;
        }
        if let Some(s) = special_fold(d) {
            out.push_str(s);
            continue;
        }
        for l in d.to_lowercase() {
            if is_combining_mark(l) {
                continue;
            }
            match special_fold(l) {
                Some(s) => out.push_str(s),
                None => out.push(l),
            }
        }
    }
    out
}

/// What the normaliser does without a table entry.
fn simple_fold(c: char) -> String {
    let mut out = String::new();
    rules::simple_fold(c, &mut out);
    out
}

fn write_folds(out_dir: &Path) {
    let mut chars = Vec::new();
    let mut spans = Vec::new();
    let mut pool = String::new();
    let ranges = [0x80u32..0x3_2400, 0xE_0000..0xE_1000];
    for cp in ranges.into_iter().flatten() {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        // Hangul syllables decompose into jamo, which no pack matches on: leave them whole.
        if is_invisible(c)
            || c.is_whitespace()
            || special_fold(c).is_some()
            || (0xAC00..=0xD7A3).contains(&cp)
        {
            continue;
        }
        let full = full_fold(c);
        if full != simple_fold(c) {
            let offset = match pool.find(&full) {
                Some(at) if !full.is_empty() => at,
                _ => {
                    pool.push_str(&full);
                    pool.len() - full.len()
                }
            };
            chars.push(cp);
            spans.push(((offset as u32) << 8) | full.len() as u32);
        }
    }
    let mut code = String::new();
    let _ = writeln!(
        code,
        "pub static CHARS: [u32; {}] = {:?};",
        chars.len(),
        chars
    );
    let _ = writeln!(code, "/// `offset << 8 | length` of each fold in `POOL`.");
    let _ = writeln!(
        code,
        "pub static SPANS: [u32; {}] = {:?};",
        spans.len(),
        spans
    );
    let _ = writeln!(code, "pub static POOL: &str = {:?};", pool);
    fs::write(out_dir.join("folds.rs"), code).unwrap();
}

/// Unicode's word characters as the regex syntax reads `\w`, for word boundaries in regex
/// programs: the scanner has no regex parser to ask.
fn write_perl_word(out_dir: &Path) {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::parse(r"\w").unwrap();
    let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
        panic!("\\w is a Unicode class");
    };
    let ranges: Vec<(u32, u32)> = class
        .ranges()
        .iter()
        .map(|r| (r.start() as u32, r.end() as u32))
        .collect();
    fs::write(out_dir.join("perl_word.rs"), format!("{ranges:?}")).unwrap();
}

fn main() {
    println!("cargo:rerun-if-changed=src/fold_rules.rs");
    write_folds(Path::new(&env::var("OUT_DIR").unwrap()));
    write_perl_word(Path::new(&env::var("OUT_DIR").unwrap()));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../extension/packs");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("toml" | "json")
        )
    });
    files.sort();
    let mut code = String::from("[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.canonicalize().unwrap().display().to_string()
        ));
    }
    code.push_str("]\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("shipped_packs.rs");
    fs::write(out, code).unwrap();
}
