//! Samples from an EGG checkpoint without the `eggroll` command line:
//! `cargo run --release -p eggroll-llm --example egg_generate CHECKPOINT PROMPT [BYTES] [SEED]`.

use std::io::Write;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(ckpt), Some(prompt)) = (args.first(), args.get(1)) else {
        eprintln!("usage: egg_generate CHECKPOINT PROMPT [BYTES] [SEED]");
        std::process::exit(2);
    };
    let bytes = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(300);
    let seed = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(0);
    match eggroll_llm::egg::generate::generate(Path::new(ckpt), prompt.as_bytes(), bytes, seed) {
        Ok(out) => {
            let mut so = std::io::stdout();
            let _ = so.write_all(prompt.as_bytes());
            let _ = so.write_all(&out);
            let _ = so.write_all(b"\n");
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
