//! Flagpost's rule engine: rule packs compiled once into an immutable [`Engine`] that flags
//! recruitment-style posts and explains each flag down to the characters.
//!
//! # Overview
//!
//! A [`RulePack`] is parsed and validated from TOML or JSON with [`parse_pack`]; any problem
//! comes back as [`PackErrors`] naming file, line, column and rule. [`Engine::compile`] turns
//! one or more packs into an immutable engine; [`Engine::scan`] returns a [`Verdict`] for a
//! post: flagged or not, its score, categories, and for each rule that fired the exact
//! [`Span`]s of the original text.
//!
//! # Example
//!
//! ```
//! use flagpost::{parse_pack, Engine, EngineOptions, PackFormat, Scratch};
//!
//! let pack = parse_pack(r#"
//! id = "demo"
//! name = "Demo"
//! version = "1.0.0"
//! license = "CC0-1.0"
//! threshold = 1.0
//! [[rules]]
//! id = "tourist-cover"
//! category = "concealment"
//! severity = "high"
//! weight = 1.0
//! description = "Tells recruits to pose as tourists"
//! condition = { phrases = ["you are just a tourist", "ты обычный турист*"] }
//! "#, PackFormat::Toml, "demo.toml").unwrap();
//! let engine = Engine::compile(&[pack], &EngineOptions::default()).unwrap();
//! let text = "Remember, you are just a t0urist!";
//! let verdict = engine.scan(text, &mut Scratch::default());
//! assert!(verdict.flagged);
//! let span = verdict.rules[0].spans[0];
//! assert_eq!(&text[span.start..span.end], "you are just a t0urist");
//! ```
//!
//! # Performance
//!
//! All phrases of all packs run in one Aho-Corasick automaton ([`automaton`]) over a normalised
//! copy of the post built in one pass (see [`normalize`]). A regex runs, as a small program
//! ([`regexes`]), only where the automaton found one of its literal prefixes, unless it has
//! none. A post that matches nothing costs one normalisation and one automaton pass, and
//! allocates nothing once its [`Scratch`] has grown. Figures are in `BENCHMARKS.md`.
//!
//! # Untrusted input
//!
//! Packs may come from anywhere. Regexes run in linear time, with size limits and a work
//! budget per post; the numbers of rules, phrases and regexes, phrase and regex lengths,
//! nesting depth and `near` windows are capped ([`limits`]); a pack that breaks any of these
//! is refused with a message, never a panic. Posts are scanned up to [`MAX_TEXT_BYTES`]; the verdict says when one was cut.

pub mod automaton;
pub mod compiled;
pub mod engine;
pub mod error;
pub mod examples;
pub mod labelled;
pub mod learn;
pub mod limits;
pub mod model;
pub mod normalize;
pub mod numbers;
pub mod pack;
pub mod regexes;
mod utf8;
pub mod verdict;
pub mod wire;

pub use engine::image::ImageError;
pub use engine::{Engine, EngineOptions, PackInfo, RuleInfo, Scratch};
pub use error::{ErrorKind, PackError, PackErrors};
pub use examples::{run_examples, ExampleFailure, ExampleReport};
pub use limits::MAX_TEXT_BYTES;
#[cfg(feature = "authoring")]
pub use pack::parse_pack;
pub use pack::{Condition, Example, ModelDef, PackFormat, RulePack, Severity};
pub use verdict::{RuleHit, Span, Verdict};

/// The packs shipped in `extension/packs/`, as (file name, source), embedded at build time.
pub fn shipped_packs() -> Vec<(&'static str, &'static str)> {
    let packs: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/shipped_packs.rs"));
    packs.to_vec()
}

#[cfg(target_arch = "wasm32")]
mod wasm;
