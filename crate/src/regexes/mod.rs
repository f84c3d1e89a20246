//! Regexes in packs: parsed, checked and compiled once when a pack is validated (`analyse`,
//! `compile`: the command line and the authoring module), then run by the engine as small
//! programs (`program`: every build, the worker's scanner included, which carries no regex
//! parser or compiler).
//!
//! A regex is used two ways: its literal prefixes, when every match starts with one of a few,
//! go into the phrase automaton and the program runs anchored where one occurs; a regex
//! without such prefixes runs over the whole post.

#[cfg(feature = "authoring")]
mod analyse;
#[cfg(feature = "authoring")]
mod compile;
mod program;

#[cfg(feature = "authoring")]
pub use analyse::analyse;
#[cfg(feature = "authoring")]
pub use compile::compile;
pub use program::{Inst, Look, Program, Vm};

/// A regex as the engine uses it: its source (for explanations), the literals every match
/// starts with (when they are few and long enough to be a trigger), and its program.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackRegex {
    pub source: String,
    pub prefixes: Option<Vec<String>>,
    pub program: Program,
}
