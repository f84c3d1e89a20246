//! What the command-line tests share: running `flagpost` with standard input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `flagpost ARGS` with `stdin` written from another thread (so a large input cannot
/// dead-lock against a full output pipe).
pub fn flagpost(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flagpost"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run flagpost");
    let input = stdin.to_string();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}
