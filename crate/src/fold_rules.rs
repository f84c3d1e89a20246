// Fold rules used both by the normaliser and by build.rs (which includes this file), so the
// precomputed table and the run-time fallback cannot disagree.

/// Characters that carry nothing visible and are dropped.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// The fold of a character the precomputed table leaves out: lower case, then the special folds.
pub(crate) fn simple_fold(c: char, out: &mut String) {
    for l in c.to_lowercase() {
        match special_fold(l) {
            Some(s) => out.push_str(s),
            None => out.push(l),
        }
    }
}

/// Folds that compatibility decomposition and lower-casing do not do.
pub(crate) fn special_fold(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2010}'..='\u{2015}'
        | '\u{2212}'
        | '\u{FE58}'
        | '\u{FE63}'
        | '\u{FF0D}'
        | '\u{2E3A}'
        | '\u{2E3B}' => "-",
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{02BC}' | '\u{2032}' | '`' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}'
        | '\u{2033}' => "\"",
        'ß' | 'ẞ' => "ss",
        'ς' => "σ",
        'ı' => "i",
        'ё' | 'Ё' => "е",
        _ => return None,
    })
}
