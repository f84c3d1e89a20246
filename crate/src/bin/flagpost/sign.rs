//! `flagpost keygen`, `sign` and `verify`: Ed25519 signatures for packs published by URL.
//!
//! A publisher keeps a secret key and gives its public key (base64 of the raw 32 bytes) to the
//! people who subscribe; every published pack file has a detached signature beside it
//! (`PACK.sig`, base64 of the 64-byte signature over the file's exact bytes), which the
//! extension checks with WebCrypto before it takes an update.

use std::io::Write as _;
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::common::{read_file, say, status, Fatal, Outcome};

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (refused if the file exists).
    #[arg(long, value_name = "FILE")]
    out: String,
}

#[derive(clap::Args)]
pub struct SignArgs {
    /// The secret key file written by `flagpost keygen`.
    #[arg(long, value_name = "FILE")]
    key: String,
    /// Pack files to sign; each gets FILE.sig beside it.
    #[arg(value_name = "PACK", required = true)]
    packs: Vec<String>,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The publisher's public key: base64 of the raw 32 bytes.
    #[arg(long, value_name = "BASE64")]
    public_key: String,
    /// The signature file (default: PACK.sig).
    #[arg(long, value_name = "FILE")]
    signature: Option<String>,
    /// The pack file.
    #[arg(value_name = "PACK")]
    pack: String,
}

const KEY_HEADER: &str =
    "# Flagpost pack signing key (Ed25519). Keep this file secret; publish the public key.";

pub fn keygen(a: KeygenArgs) -> Outcome {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Fatal(format!("no randomness for a key: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    let public = B64.encode(key.verifying_key().as_bytes());
    let text = format!(
        "{KEY_HEADER}\nsecret: {}\npublic: {public}\n",
        B64.encode(seed)
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&a.out).map_err(|e| {
        Fatal(if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists; a key is never overwritten", a.out)
        } else {
            format!("cannot write {}: {e}", a.out)
        })
    })?;
    file.write_all(text.as_bytes())
        .map_err(|e| Fatal(format!("cannot write {}: {e}", a.out)))?;
    say!("public key: {public}");
    say!("secret key written to {} (keep it private)", a.out);
    Ok(ExitCode::SUCCESS)
}

fn read_key(path: &str) -> Result<SigningKey, Fatal> {
    let text = read_file(path)?;
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("secret:"))
        .ok_or_else(|| {
            Fatal(format!(
                "{path}: no `secret:` line; is it a key from `flagpost keygen`?"
            ))
        })?;
    let bytes = B64
        .decode(secret.trim())
        .map_err(|e| Fatal(format!("{path}: the secret is not base64: {e}")))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Fatal(format!("{path}: the secret must be 32 bytes")))?;
    Ok(SigningKey::from_bytes(&seed))
}

pub fn sign(a: SignArgs) -> Outcome {
    let key = read_key(&a.key)?;
    for pack in &a.packs {
        let bytes = std::fs::read(pack).map_err(|e| Fatal(format!("cannot read {pack}: {e}")))?;
        // Only a pack that loads is worth publishing.
        let source = String::from_utf8(bytes.clone())
            .map_err(|_| Fatal(format!("{pack} is not UTF-8 text")))?;
        crate::common::parse_source(pack, &source)?;
        let signature = key.sign(&bytes);
        let out = format!("{pack}.sig");
        std::fs::write(&out, format!("{}\n", B64.encode(signature.to_bytes())))
            .map_err(|e| Fatal(format!("cannot write {out}: {e}")))?;
        say!(
            "{out}: signed with {}",
            B64.encode(key.verifying_key().as_bytes())
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(a: VerifyArgs) -> Outcome {
    let public = B64
        .decode(a.public_key.trim())
        .map_err(|e| Fatal(format!("the public key is not base64: {e}")))?;
    let public: [u8; 32] = public
        .try_into()
        .map_err(|_| Fatal("the public key must be 32 bytes".to_string()))?;
    let key = VerifyingKey::from_bytes(&public)
        .map_err(|e| Fatal(format!("not an Ed25519 public key: {e}")))?;
    let sig_path = a
        .signature
        .clone()
        .unwrap_or_else(|| format!("{}.sig", a.pack));
    let sig_text = read_file(&sig_path)?;
    let sig = B64
        .decode(sig_text.trim())
        .map_err(|e| Fatal(format!("{sig_path}: not base64: {e}")))?;
    let sig: [u8; 64] = sig
        .try_into()
        .map_err(|_| Fatal(format!("{sig_path}: a signature is 64 bytes")))?;
    let bytes =
        std::fs::read(&a.pack).map_err(|e| Fatal(format!("cannot read {}: {e}", a.pack)))?;
    match key.verify(&bytes, &Signature::from_bytes(&sig)) {
        Ok(()) => {
            say!("{}: good signature", a.pack);
            Ok(status(true))
        }
        Err(_) => {
            say!("{}: BAD signature: the file or its signature was changed, or the key is not the publisher's", a.pack);
            Ok(status(false))
        }
    }
}
