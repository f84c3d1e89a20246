//! Properties over generated input: spans are always valid ranges of the original text, and
//! obfuscated forms of a phrase still hit, with the span on the obfuscated characters.

use std::sync::OnceLock;

use flagpost::verdict::{convert_offsets, utf16_unit};
use flagpost::{parse_pack, shipped_packs, Engine, EngineOptions, PackFormat, Scratch};
use proptest::prelude::*;

/// Cases per property: the default here, or `PROPTEST_CASES` for long runs (`./build.sh fuzz`).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn engines() -> &'static [Engine] {
    static ENGINES: OnceLock<Vec<Engine>> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let basic = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/packs/basic.toml"
        ))
        .unwrap();
        let basic = parse_pack(&basic, PackFormat::Toml, "basic.toml").unwrap();
        let shipped: Vec<_> = shipped_packs()
            .into_iter()
            .map(|(n, s)| parse_pack(s, PackFormat::from_name(n), n).unwrap())
            .collect();
        vec![
            Engine::compile(&[basic], &EngineOptions::default()).unwrap(),
            Engine::compile(&shipped, &EngineOptions::default()).unwrap(),
        ]
    })
}

/// Text mixing the characters that exercise the normaliser.
fn tricky_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("турист".to_string()),
        Just("tourist".to_string()),
        Just("you are just a ".to_string()),
        Just("men aged 18-45 ready to go ".to_string()),
        Just("от 18-ти до 45 лет".to_string()),
        Just("\u{200B}".to_string()),
        Just("\u{00AD}".to_string()),
        Just("ß".to_string()),
        Just("½".to_string()),
        Just("ﷺ".to_string()),
        Just("🇺🇦".to_string()),
        Just("ｔ".to_string()),
        Just("𝐭".to_string()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("т у р и с т".to_string()),
        Just("t.o.u.r.i.s.t".to_string()),
        Just("0".to_string()),
        Just("@".to_string()),
        Just("https://t.co/x1 ".to_string()),
        Just("ё".to_string()),
        Just("й".to_string()),
        any::<char>().prop_map(|c| c.to_string()),
        "[a-zа-яіїє0-9 .,-]{0,12}",
    ];
    proptest::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(600)))]

    #[test]
    fn every_span_is_a_valid_range_of_the_original(text in tricky_text()) {
        for engine in engines() {
            let verdict = engine.scan(&text, &mut Scratch::default());
            for rule in &verdict.rules {
                let mut last_end = 0;
                for span in &rule.spans {
                    prop_assert!(span.start < span.end, "{span:?}");
                    prop_assert!(span.end <= text.len());
                    prop_assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
                    prop_assert!(span.start >= last_end, "spans sorted and apart");
                    last_end = span.end;
                }
            }
            // UTF-16 offsets agree with JavaScript's way of counting.
            let mut offsets: Vec<usize> = verdict.rules.iter().flat_map(|r| r.spans.iter().flat_map(|s| [s.start, s.end])).collect();
            let bytes = offsets.clone();
            convert_offsets(&text, &mut offsets, utf16_unit);
            for (b, u) in bytes.iter().zip(&offsets) {
                prop_assert_eq!(text[..*b].encode_utf16().count(), *u);
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        for engine in engines() {
            let _ = engine.scan(&text, &mut Scratch::default());
        }
    }
}

/// One obfuscation applied to a letter.
#[derive(Debug, Clone)]
enum Trick {
    None,
    Upper,
    Invisible(char),
    Lookalike,
    Fullwidth,
}

fn lookalike(c: char) -> Option<char> {
    let pairs = [
        ('a', 'а'),
        ('c', 'с'),
        ('e', 'е'),
        ('o', 'о'),
        ('p', 'р'),
        ('x', 'х'),
        ('y', 'у'),
        ('i', 'і'),
    ];
    pairs.iter().find_map(|&(l, k)| {
        if l == c {
            Some(k)
        } else if k == c {
            Some(l)
        } else {
            None
        }
    })
}

fn trick() -> impl Strategy<Value = Trick> {
    prop_oneof![
        3 => Just(Trick::None),
        2 => Just(Trick::Upper),
        1 => prop_oneof![Just('\u{200B}'), Just('\u{00AD}'), Just('\u{200D}'), Just('\u{2060}')].prop_map(Trick::Invisible),
        2 => Just(Trick::Lookalike),
        1 => Just(Trick::Fullwidth),
    ]
}

/// Obfuscates a phrase letter by letter; optionally spells one long word out with spaces,
/// or hides one letter of one word behind a digit.
fn obfuscate(
    phrase: &str,
    tricks: &[Trick],
    spaced_word: Option<usize>,
    digit_word: Option<usize>,
) -> String {
    let words: Vec<&str> = phrase.split(' ').collect();
    let mut out = Vec::new();
    let mut t = tricks.iter().cycle();
    for (w, word) in words.iter().enumerate() {
        let letters: Vec<char> = word.chars().collect();
        let spaced = spaced_word == Some(w) && letters.len() >= 4;
        let mut digit_done = digit_word != Some(w) || spaced;
        let mut s = String::new();
        for (k, &c) in letters.iter().enumerate() {
            if !digit_done && k > 0 && matches!(c, 'o' | 'e') {
                s.push(if c == 'o' { '0' } else { '3' });
                digit_done = true;
            } else {
                match t.next().unwrap() {
                    Trick::None => s.push(c),
                    Trick::Upper => s.extend(c.to_uppercase()),
                    Trick::Invisible(z) if k + 1 < letters.len() => {
                        s.push(c);
                        s.push(*z);
                    }
                    Trick::Invisible(_) => s.push(c),
                    Trick::Lookalike => s.push(lookalike(c).unwrap_or(c)),
                    Trick::Fullwidth if c.is_ascii_lowercase() => {
                        s.push(char::from_u32(c as u32 - 0x61 + 0xFF41).unwrap())
                    }
                    Trick::Fullwidth => s.push(c),
                }
            }
            if spaced && k + 1 < letters.len() {
                s.push(' ');
            }
        }
        out.push(s);
    }
    out.join(" ")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(400)))]

    #[test]
    fn obfuscated_phrases_still_hit(
        phrase in prop_oneof![Just("you are just a tourist"), Just("ты обычный турист")],
        tricks in proptest::collection::vec(trick(), 1..12),
        spaced in proptest::option::of(0usize..5),
        digit in proptest::option::of(0usize..5),
        before in "[A-Za-z ,]{0,10}",
    ) {
        let hidden = obfuscate(phrase, &tricks, spaced, digit);
        let text = format!("{before} {hidden}! ok");
        let engine = &engines()[0];
        let verdict = engine.scan(&text, &mut Scratch::default());
        let rule = verdict.rules.iter().find(|r| r.id == "tourist");
        prop_assert!(rule.is_some(), "no hit in {:?}", text);
        let start = before.len() + 1;
        let end = start + hidden.len();
        let covered = rule.unwrap().spans.iter().any(|s| s.start <= start && s.end >= end && s.end <= end);
        prop_assert!(covered, "spans {:?} do not cover {:?} in {:?}", rule.unwrap().spans, hidden, text);
    }
}

/// Characters of every kind the normaliser treats differently, mixed at random: ASCII,
/// Cyrillic (basic and the rest), look-alikes, invisibles, combining marks, fullwidth forms,
/// folds that change length, digits and symbols that stand for letters, web addresses and
/// spaced-out letters.
fn mixed_text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        ' ', ' ', '\n', '\t', '.', ',', '-', '_', '*', '/', '|', '+', '@', '$', '!', '?', '\'',
        '"', '#', '0', '1', '3', '4', '5', '6', '7', '9', '\u{00A0}', '\u{2003}',
    ]);
    let lookalike = prop::sample::select(vec![
        'а', 'в', 'е', 'о', 'р', 'с', 'х', 'у', 'к', 'м', 'т', 'н', 'і', 'a', 'b', 'e', 'o', 'p',
        'c', 'x', 'y', 'k', 'm', 't', 'h', 'i', 'A', 'О', 'Т',
    ]);
    let invisible = prop::sample::select(vec![
        '\u{200B}', '\u{00AD}', '\u{FEFF}', '\u{200D}', '\u{2060}', '\u{034F}', '\u{0007}',
    ]);
    let mark = prop::sample::select(vec![
        '\u{0301}', '\u{0308}', '\u{0306}', '\u{0300}', '\u{0483}',
    ]);
    let other = prop::sample::select(vec![
        'ß', 'ё', 'Ё', 'й', 'Й', 'ї', 'Ї', 'є', 'ґ', 'ў', 'é', 'É', 'ﬁ', '½', 'ﷺ', '😀', '𝐭', '—',
        '«', '»', '’', 'σ', 'ς', 'Ω', 'İ', 'ı', 'ẞ', '\u{2116}', '\u{FFFD}', '\u{0500}',
    ]);
    let ch = prop_oneof![
        6 => prop::char::range('a', 'z'),
        2 => prop::char::range('A', 'Z'),
        6 => prop::char::range('\u{0410}', '\u{044F}'),
        1 => prop::char::range('\u{0400}', '\u{052F}'),
        3 => special,
        2 => lookalike,
        1 => invisible,
        1 => mark,
        1 => prop::char::range('\u{FF01}', '\u{FF5E}'),
        1 => other,
        1 => any::<char>(),
    ];
    let piece = prop_oneof![
        12 => ch.prop_map(|c| c.to_string()),
        2 => "[a-zA-Z]{1,20}".prop_map(|s: String| s),
        1 => Just("https://t.co/Ab1Ж ".to_string()),
        1 => Just("http://".to_string()),
        1 => Just("т у р и с т ".to_string()),
        1 => Just("t.o.u.r.i.s.t".to_string()),
        1 => Just("Ты ТУРИСТ".to_string()),
        1 => Just("  ".to_string()),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2000)))]

    /// The normaliser's fast paths (basic Cyrillic and web addresses in bulk) write exactly what
    /// the general path, every character through the fold table, writes: the same text, the
    /// same breakpoints, so the same spans.
    #[test]
    fn fast_path_normalises_as_the_general_path(text in mixed_text()) {
        use flagpost::normalize::{normalize_general, normalize_into, Normalized};
        let (mut fast, mut general) = (Normalized::default(), Normalized::default());
        normalize_into(&text, &mut fast);
        normalize_general(&text, &mut general);
        prop_assert_eq!(fast.as_str(), general.as_str());
        prop_assert_eq!(&fast.breaks, &general.breaks);
        let norm = fast.as_str();
        for (k, c) in norm.char_indices() {
            prop_assert_eq!(
                fast.original_span(&text, k, k + c.len_utf8()),
                general.original_span(&text, k, k + c.len_utf8())
            );
        }
    }
}
