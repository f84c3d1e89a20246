// Embeds the packs shipped in extension/packs/ so the command line works from any directory.
use std::{env, fs, path::Path};

fn main() {
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
