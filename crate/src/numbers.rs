//! Number ranges such as age limits: "18-45", "from 18 to 45", "от 18 до 45 лет".
//!
//! A hand-written scanner over normalised text (lower case, dashes folded to `-`, single
//! spaces). It skips ranges that are money, percentages, times or distances, and takes the
//! words around a range ("aged", "от", "лет", "y.o.") into its span so the warning highlights
//! the whole phrase.

/// One number range found in normalised text; `start..end` are normalised byte offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeMatch {
    pub low: u32,
    pub high: u32,
    pub start: usize,
    pub end: usize,
}

const CONNECTORS: &[&str] = &[
    "to", "and", "till", "until", "through", "до", "по", "и", "і", "та", "й",
];

/// Words that may stand before a range and belong to it.
const PREFIXES: &[&str] = &[
    "from",
    "between",
    "aged",
    "ages",
    "age",
    "of",
    "от",
    "с",
    "со",
    "від",
    "вiд",
    "з",
    "із",
    "возрасте",
    "возраст",
    "віці",
    "віком",
    "вік",
    "в",
    "у",
];

/// Units after a range that make it an age.
const AGE_UNITS: &[&str] = &[
    "years old",
    "year olds",
    "year-olds",
    "years",
    "year",
    "yrs",
    "y.o.",
    "y.o",
    "yo",
    "y/o",
    "лет",
    "года",
    "годиков",
    "років",
    "роки",
    "рок",
    "р.",
    "г.",
    "г.р.",
];

/// Units after a range that make it something else: money, share, time, distance, count.
const OTHER_UNITS: &[&str] = &[
    "%",
    "k ",
    "к ",
    "тыс",
    "тис",
    "000",
    "руб",
    "р ",
    "₽",
    "грн",
    "$",
    "usd",
    "eur",
    "€",
    "долл",
    "km",
    "км",
    "kg",
    "кг",
    "min",
    "мин",
    "хв",
    "час",
    "годин",
    "hour",
    "hrs",
    "h ",
    "ч ",
    "ч.",
    ":",
    "человек",
    "чел",
    "people",
    "шт",
    "pcs",
    "раз",
    "times",
    "mb",
    "gb",
    "cm",
    "см",
    "мм",
    "mm",
    "th ",
    "st ",
    "nd ",
    "rd ",
    "th,",
    "ст.",
    "век",
    "century",
    "гг",
    "мая",
    "июн",
    "июл",
    "авг",
    "сент",
    "окт",
    "нояб",
    "дек",
    "янв",
    "февр",
    "марта",
    "апр",
];

fn digit_run(text: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < text.len() && text[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn value(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'))
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Finds every number range in `text`, appending to `out`.
pub fn find_ranges(text: &[u8], out: &mut Vec<RangeMatch>) {
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let a = i;
        let b = digit_run(text, a);
        i = b;
        if b - a > 3 || starts_inside_number(text, a) {
            continue;
        }
        let Some((c, d)) = second_number(text, skip_ordinal(text, b)) else {
            continue;
        };
        if d - c > 3 || continues_number(text, d) {
            i = d;
            continue;
        }
        let d_digits = d;
        let d = skip_ordinal(text, d);
        let rest = &text[d..];
        let after_space = rest.strip_prefix(b" ").unwrap_or(rest);
        if OTHER_UNITS
            .iter()
            .any(|u| after_space.starts_with(u.as_bytes()))
            || rest
                .first()
                .is_some_and(|&x| is_word_byte(x) && !starts_with_any(rest, AGE_UNITS))
            || a > 0 && matches!(text[a - 1], b'$' | b'#' | b'+')
        {
            i = d;
            continue;
        }
        let mut end = d;
        if let Some(unit) = AGE_UNITS
            .iter()
            .find(|u| after_space.starts_with(u.as_bytes()))
        {
            let unit_end = d + (rest.len() - after_space.len()) + unit.len();
            let ends_word =
                !text.get(unit_end).copied().is_some_and(is_word_byte) || unit.ends_with('.');
            if ends_word {
                end = unit_end;
            }
        }
        out.push(RangeMatch {
            low: value(&text[a..b]),
            high: value(&text[c..d_digits]),
            start: prefix_start(text, a),
            end,
        });
        i = d;
    }
}

/// Russian and Ukrainian case endings written after a number: "18-ти", "45-ти", "20-х".
const ORDINAL_ENDINGS: &[&str] = &["-ти", "-ми", "-х", "-и", "-ох", "-ть", "ти"];

fn skip_ordinal(text: &[u8], d: usize) -> usize {
    let rest = &text[d..];
    for ending in ORDINAL_ENDINGS {
        if rest.starts_with(ending.as_bytes())
            && !rest.get(ending.len()).copied().is_some_and(is_word_byte)
        {
            return d + ending.len();
        }
    }
    d
}

fn starts_with_any(s: &[u8], list: &[&str]) -> bool {
    list.iter().any(|u| s.starts_with(u.as_bytes()))
}

/// A digit run that is part of a larger number, date, version or word.
fn starts_inside_number(text: &[u8], a: usize) -> bool {
    if a == 0 {
        return false;
    }
    let prev = text[a - 1];
    if is_word_byte(prev) {
        return true;
    }
    // "1.18-45", "3,18-45", "2-18-45": the number continues leftwards.
    a >= 2 && matches!(prev, b'.' | b',' | b'-' | b'/' | b':') && text[a - 2].is_ascii_digit()
}

fn continues_number(text: &[u8], d: usize) -> bool {
    // Decimals, dates, times and phone numbers: "45.5", "18-03-2015", "18-45-67".
    matches!(text.get(d), Some(b'.' | b',' | b'-' | b'/' | b':'))
        && text.get(d + 1).is_some_and(u8::is_ascii_digit)
}

/// After the first number: a connector and the second number's digit run.
fn second_number(text: &[u8], b: usize) -> Option<(usize, usize)> {
    let mut j = b;
    if text.get(j) == Some(&b' ') {
        j += 1;
    }
    if text.get(j) == Some(&b'-') {
        j += 1;
    } else {
        // "от 18 и до 45": a joining word before the connector.
        for joiner in ["и ", "і ", "та ", "and "] {
            let rest = &text[j..];
            if rest.starts_with(joiner.as_bytes())
                && CONNECTORS.iter().any(|w| {
                    rest[joiner.len()..].starts_with(w.as_bytes()) && *w != "и" && *w != "і"
                })
            {
                j += joiner.len();
                break;
            }
        }
        let rest = &text[j..];
        let word = CONNECTORS
            .iter()
            .find(|w| rest.starts_with(w.as_bytes()) && rest.get(w.len()) == Some(&b' '))?;
        j += word.len();
    }
    if text.get(j) == Some(&b' ') {
        j += 1;
    }
    if !text.get(j).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((j, digit_run(text, j)))
}

/// Extends a range's start over the prefix words before it ("aged", "в возрасте от").
fn prefix_start(text: &[u8], a: usize) -> usize {
    let mut start = a;
    for _ in 0..3 {
        let mut k = start;
        if k == 0 || text[k - 1] != b' ' {
            break;
        }
        k -= 1;
        let word_end = k;
        while k > 0 && is_word_byte(text[k - 1]) {
            k -= 1;
        }
        let word = &text[k..word_end];
        if word.is_empty() || !PREFIXES.iter().any(|p| p.as_bytes() == word) {
            break;
        }
        start = k;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(s: &str) -> Vec<(u32, u32, String)> {
        let norm = crate::normalize::normalize_phrase(s);
        let mut out = Vec::new();
        find_ranges(norm.as_bytes(), &mut out);
        out.iter()
            .map(|m| (m.low, m.high, norm[m.start..m.end].to_string()))
            .collect()
    }

    #[test]
    fn recognises_the_common_forms() {
        for (text, span) in [
            ("men aged 18-45 who are ready", "aged 18-45"),
            ("men 18–45", "18-45"),
            ("from 18 to 45", "from 18 to 45"),
            ("between 18 and 45 years old", "between 18 and 45 years old"),
            ("возраст от 18 до 45 лет", "возраст от 18 до 45 лет"),
            ("віком від 18 до 45 років.", "віком від 18 до 45 років"),
            ("guys 18-45 y.o. wanted", "18-45 y.o."),
            ("в возрасте от 18 до 45", "в возрасте от 18 до 45"),
            ("от 18-ти до 45-ти лет", "от 18-ти до 45-ти лет"),
            ("от 18-ти до 45 лет", "от 18-ти до 45 лет"),
            (
                "в возрасте от 18 и до 45 лет",
                "в возрасте от 18 и до 45 лет",
            ),
        ] {
            let found = ranges(text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!((found[0].0, found[0].1), (18, 45), "{text}");
            assert_eq!(found[0].2, span, "{text}");
        }
    }

    #[test]
    fn skips_money_times_dates_and_long_numbers() {
        for text in [
            "salary 20-40 тыс",
            "20-40% off",
            "open 18:00-21:00",
            "18-03-2015",
            "call 211-925",
            "2014-2015",
            "from 20 to 40 km",
            "$20-45",
            "от 20 до 45 тысяч",
            "version 1.18-45",
        ] {
            let found: Vec<_> = ranges(text)
                .into_iter()
                .filter(|r| (16..=25).contains(&r.0) && (30..=65).contains(&r.1))
                .collect();
            assert!(found.is_empty(), "{text}: {found:?}");
        }
    }
}
