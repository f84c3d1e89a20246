//! `flagpost`: scan posts with rule packs; evaluate, tune, test and lint packs.
//!
//! Exit status: 0 all good, 1 a check failed, 2 bad usage or unreadable input.

mod bench;
mod common;
mod compare;
mod compile;
mod eval;
mod lint;
mod scan;
mod sign;
mod test;
mod tune;
mod why;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use common::{note, Fatal};

/// Flag recruitment-style posts with rule packs.
///
/// Without --pack, the packs shipped in extension/packs/ are used. Exit status: 0 all good,
/// 1 a check failed, 2 bad usage or unreadable input.
#[derive(Parser)]
#[command(name = "flagpost", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read JSON Lines posts (`text`, optional `id` and `context`) on standard input and
    /// write one verdict per line, in order.
    Scan(scan::Args),
    /// Precision, recall and a per-rule table on labelled posts; per fold of sources, per
    /// kind and per language.
    Eval(eval::Args),
    /// Learn rule weights, the threshold and optionally an n-gram scorer from labelled
    /// posts, with held-out figures per fold of sources; write the tuned pack.
    Tune(tune::Args),
    /// Run the examples every rule and pack carries.
    Test(test::Args),
    /// Validate packs: structure, unknown fields, references, regexes, limits.
    Lint(lint::Args),
    /// Validate packs once and write them compiled, for scanners that load without parsing.
    Compile(compile::Args),
    /// What a pack change does: posts that start and stop being flagged, precision and
    /// recall before and after, each rule's hits; gates for CI.
    Compare(compare::Args),
    /// Throughput on one thread and all, compile times, peak memory.
    Bench(bench::Args),
    /// Why each rule fired or did not on a text: its condition as a tree of true and false
    /// parts, with the words each signal matched.
    Why(why::Args),
    /// Make an Ed25519 key for signing packs published by URL.
    Keygen(sign::KeygenArgs),
    /// Sign pack files: writes PACK.sig beside each.
    Sign(sign::SignArgs),
    /// Check a pack file's signature against a publisher's public key.
    Verify(sign::VerifyArgs),
}

/// A thread count: a whole number from 1 to 1024.
fn threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a whole number from 1 to 1024")),
    }
}

/// One thread per core.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to standard output with status 0; usage errors to standard
            // error with status 2. Neither may panic on a closed pipe.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Scan(a) => scan::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Tune(a) => tune::run(a),
        Command::Test(a) => test::run(a),
        Command::Lint(a) => lint::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Why(a) => why::run(a),
        Command::Keygen(a) => sign::keygen(a),
        Command::Sign(a) => sign::sign(a),
        Command::Verify(a) => sign::verify(a),
    };
    match result {
        Ok(code) => code,
        Err(Fatal(message)) => {
            note(&format!("flagpost: {message}"));
            ExitCode::from(2)
        }
    }
}
