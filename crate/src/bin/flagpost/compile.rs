//! `flagpost compile`: validates packs once and stores them in the compiled form a scanner
//! loads without parsing (the extension's worker, `--pack` of every command).

use std::process::ExitCode;

use flagpost::compiled;

use crate::common::{compile as build_engine, pack_sources, parse_source, say, Fatal, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// Pack sources (TOML or JSON). Without any, the shipped packs.
    #[arg(value_name = "PACK")]
    packs: Vec<String>,
    /// Where to write the compiled packs.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: String,
}

pub fn run(a: Args) -> Outcome {
    let sources = pack_sources(&a.packs)?;
    let mut packs = Vec::with_capacity(sources.len());
    for (name, source) in &sources {
        packs.push((parse_source(name, source)?, source.as_str()));
    }
    // Packs that will not build together are refused now, not when a scanner loads them.
    let only: Vec<_> = packs.iter().map(|(p, _)| p.clone()).collect();
    build_engine(&only)?;
    let bytes = compiled::encode(&packs);
    std::fs::write(&a.out, &bytes).map_err(|e| Fatal(format!("cannot write {}: {e}", a.out)))?;
    say!(
        "{}: {} packs, {} bytes (format {}, from {} bytes of source)",
        a.out,
        packs.len(),
        bytes.len(),
        compiled::FORMAT_VERSION,
        sources.iter().map(|(_, s)| s.len()).sum::<usize>()
    );
    Ok(ExitCode::SUCCESS)
}
