//! Regex programs find what the `regex` crate finds: every match left to right, and the
//! match anchored at a given place, on fixed cases and on generated regexes and texts.

use flagpost::regexes::{analyse, compile, Program, Vm};
use proptest::prelude::*;
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

fn program(pattern: &str) -> Program {
    let hir = regex_syntax::parse(pattern).unwrap();
    compile(&hir).unwrap()
}

fn ours_all(p: &Program, hay: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    p.for_each_match(&mut Vm::default(), hay.as_bytes(), |s, e| out.push((s, e)));
    out
}

fn theirs_all(re: &Regex, hay: &str) -> Vec<(usize, usize)> {
    re.find_iter(hay).map(|m| (m.start(), m.end())).collect()
}

fn theirs_anchored(re: &Regex, hay: &str, at: usize) -> Option<(usize, usize)> {
    re.find(Input::new(hay).range(at..).anchored(Anchored::Yes))
        .map(|m| (m.start(), m.end()))
}

/// Compares both ways of searching, at every character boundary.
fn agree(pattern: &str, hay: &str) {
    let p = program(pattern);
    let re = Regex::new(pattern).unwrap();
    // Matches that are empty are skipped differently; the engine uses only non-empty ones.
    let non_empty = |v: Vec<(usize, usize)>| -> Vec<(usize, usize)> {
        v.into_iter().filter(|(s, e)| s < e).collect()
    };
    if !re.is_match("") {
        assert_eq!(
            non_empty(ours_all(&p, hay)),
            non_empty(theirs_all(&re, hay)),
            "all matches of {pattern:?} in {hay:?}"
        );
    }
    let mut vm = Vm::default();
    for (at, _) in hay.char_indices().chain([(hay.len(), ' ')]) {
        assert_eq!(
            p.find_anchored(&mut vm, hay.as_bytes(), at),
            theirs_anchored(&re, hay, at),
            "{pattern:?} anchored at {at} in {hay:?}"
        );
    }
}

#[test]
fn fixed_cases() {
    let cases: &[(&str, &str)] = &[
        (r"abc", "xxabcxxabc"),
        (r"a|ab", "ab ab"),
        (r"ab|a", "ab ab"),
        (r"a+?b", "aaab"),
        (r"a*", "baaa"),
        (r"\bвіком\b", "віком, віко віком"),
        (
            r"\b(от|з|від) (1[6-9]|2[0-5])\b",
            "від 18 до 45, з 19, від 185",
        ),
        (r"турист\w*", "ты просто турист, туристка, туристы."),
        (r"(?i)join", "JOIN Join jOiN"),
        (r"(?i)вступай", "ВСТУПАЙ Вступай"),
        (r"\w+", "héllo wörld 123 _x ґанок"),
        (r"\W{1,3}w\b", "orchestra - w, orchestra w!"),
        (r"x{2,4}", "xxxxxxxxx"),
        (r"x{2,4}?", "xxxxxxxxx"),
        (r"(a|b)*c", "ababc abd c"),
        (r"^ab", "ab ab"),
        (r"ab$", "ab ab"),
        (r"(?m)^ab$", "ab\nab\nabc"),
        (r"\Bb", "ab b"),
        (r"\b{start}a", "a ba a"),
        (r"a\b{end}", "a ab ba"),
        (r"[^a-z ]+", "abc ДЕФ 123"),
        (r"(?s).", "a\nb"),
        (r".", "a\nb"),
        (r"(a*)*b", "aaab"),
        (r"(?:)", "ab"),
        (r"y\.?o\b", "25 y.o. 30 yo"),
    ];
    for (p, h) in cases {
        agree(p, h);
    }
}

#[test]
fn the_shipped_packs_regexes() {
    let hay = "Ты просто турист! Мужчины от 18 до 45 лет, віком від 20 до 55 років. \
               You are just a tourist. Make hijrah to the land, хиджра в Шам, в 1914 году. \
               Оркестр-w ждёт, orchestra w. не старше 45 лет, under 35 years, at least 18 y.o.";
    for (_, source) in flagpost::shipped_packs() {
        for line in source.lines() {
            let Some(at) = line.find("regex = '") else {
                continue;
            };
            let rest = &line[at + 9..];
            let pattern = &rest[..rest.find('\'').unwrap()];
            agree(pattern, hay);
            agree(pattern, &hay.to_lowercase());
        }
    }
}

#[test]
fn programs_are_checked_and_limited() {
    let (regex, _) = analyse(r"\bвступ\w*").unwrap();
    assert!(regex.program.check().is_ok());
    assert_eq!(regex.prefixes.as_deref(), Some(&["вступ".to_string()][..]));
    // A program that compiles to too many steps is refused with a reason.
    let Err(err) = analyse(r"(\w{300}){100}") else {
        panic!("a regex of 30,000 steps was accepted");
    };
    assert!(err.contains("too large"), "{err}");
    // Bytes that are not text cannot be matched.
    assert!(analyse(r"(?-u:\xFF)").is_err());
}

fn pattern() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("я".to_string()),
        Just(" ".to_string()),
        Just("[aя]".to_string()),
        Just("[^b ]".to_string()),
        Just(r"\w".to_string()),
        Just(r"\W".to_string()),
        Just(r"\b".to_string()),
        Just(r"\B".to_string()),
        Just("^".to_string()),
        Just("$".to_string()),
        Just(".".to_string()),
        Just("(?i)A".to_string()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.concat()),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(?:{a}|{b})")),
            (inner.clone(), 0..6usize).prop_map(|(a, k)| {
                let op = ["*", "+", "?", "{1,2}", "*?", "+?"][k];
                format!("(?:{a}){op}")
            }),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

fn haystack() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!['a', 'b', 'я', 'ь', ' ', '1', 'A', '\n', '_']),
        0..14,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn programs_agree_with_the_regex_crate(p in pattern(), h in haystack()) {
        agree(&p, &h);
    }
}

#[test]
fn a_hostile_regex_stops_at_the_posts_work_budget() {
    // Every position keeps up to 2,400 threads alive: seconds of work on 64 KiB of letters.
    let p = program(r"\w{0,2400}q");
    let hay = "a".repeat(65_000) + "q";
    let mut vm = Vm::default();
    let mut found = Vec::new();
    p.for_each_match(&mut vm, hay.as_bytes(), |s, e| found.push((s, e)));
    assert!(vm.exhausted());
    assert!(found.is_empty(), "{found:?}");
    // Later searches in the same post find nothing; a new post has its budget back.
    assert_eq!(p.find_anchored(&mut vm, b"aaq", 0), None);
    vm.new_post();
    assert_eq!(p.find_anchored(&mut vm, b"aaq", 0), Some((0, 3)));
    assert!(!vm.exhausted());
}
