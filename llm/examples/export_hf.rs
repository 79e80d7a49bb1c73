//! Export a GGUF Llama model as a Hugging Face directory, optionally with eggroll's logits
//! for some prompts so `scripts/check_hf_export.py` can compare transformers against them.
//!
//! Usage: `cargo run -p eggroll-llm --example export_hf -- MODEL.gguf OUT_DIR [LOGITS.json
//! PROMPT...]`. LOGITS.json gets `[{"text", "ids", "logits": [[f32; vocab]; tokens],
//! "greedy": [ids]}]`: every position's logits and 6 greedy tokens per prompt.

use eggroll_llm::llama::{
    export_hf, generate_greedy, GreedyOptions, Llama, LlamaTokenizer, Logits,
};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: export_hf MODEL.gguf OUT_DIR [LOGITS.json PROMPT...]".into());
    }
    let g = eggroll_llm::llama::gguf::Gguf::open(Path::new(&args[0]))?;
    let (model, tok) = (Llama::from_gguf(&g)?, LlamaTokenizer::from_gguf(&g)?);
    drop(g);
    export_hf(&model, &tok, Path::new(&args[1]))?;
    println!("exported {} to {}", args[0], args[1]);
    let Some(out) = args.get(2) else {
        return Ok(());
    };
    let mut rows = Vec::new();
    for text in &args[3..] {
        let ids = tok.encode(text)?;
        let mut caches = vec![model.new_cache()];
        let logits = model
            .forward(
                &eggroll_core::cpu::Cpu::new(),
                &mut caches,
                &[&ids],
                Logits::All,
                eggroll_llm::llama::SeqOwners::Plain,
            )?
            .remove(0);
        let per_row: Vec<&[f32]> = logits.chunks(model.config.vocab_size).collect();
        let opts = GreedyOptions {
            max_new_tokens: 6,
            stop_tokens: vec![],
        };
        let greedy = generate_greedy(&model, std::slice::from_ref(&ids), &opts)?
            .remove(0)
            .tokens;
        rows.push(
            serde_json::json!({"text": text, "ids": ids, "logits": per_row, "greedy": greedy}),
        );
    }
    std::fs::write(out, serde_json::to_string(&rows)?)?;
    println!("wrote logits of {} prompts to {out}", rows.len());
    Ok(())
}
