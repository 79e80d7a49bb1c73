//! Text in, text out: prompts (plain or in the chat template) decoded with greedy or seeded
//! top-p sampling, ending at EOS, a stop string or the token budget. What `eggroll generate`
//! runs, for a model file and for a finetuned run alike.

use super::forward::SeqOwners;
use super::generate::{decode, Finish, GreedyOptions};
use super::model::Llama;
use super::sampling::Sampling;
use super::stop::find_stop;
use super::tokenizer::LlamaTokenizer;
use crate::error::Result;
use eggroll_core::cpu::Cpu;
use serde::Serialize;

/// How text is generated.
#[derive(Clone, Debug, PartialEq)]
pub struct TextOptions {
    /// Most new tokens per prompt.
    pub max_new_tokens: usize,
    /// Greedy or seeded top-p sampling.
    pub sampling: Sampling,
    /// Sampling seed (prompt `s` draws its stream `s`: the same text for any thread count).
    pub seed: u64,
    /// Text that ends a generation (cut before it).
    pub stop_strings: Vec<String>,
    /// Wrap each prompt in the model's chat template as the user's turn.
    pub chat: bool,
}

/// Why a generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFinish {
    /// The model produced an end-of-sequence token.
    Eos,
    /// A stop string appeared.
    StopString,
    /// The token budget ran out.
    Length,
}

/// One prompt's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextGeneration {
    /// The prompt's token ids (after the chat template, when used).
    pub prompt_ids: Vec<u32>,
    /// The generated ids (up to the stop token; a stop string's tokens are kept).
    pub ids: Vec<u32>,
    /// The generated text, cut before a stop string.
    pub text: String,
    /// Why it ended.
    pub finish: TextFinish,
}

/// The stop tokens of `tok`: EOS and ChatML's end of turn.
pub fn stop_tokens(tok: &LlamaTokenizer) -> Vec<u32> {
    let mut v: Vec<u32> = tok.eos().into_iter().collect();
    for special in ["<|im_end|>", "<|endoftext|>"] {
        if let Some(id) = tok.token_id(special) {
            if !v.contains(&id) {
                v.push(id);
            }
        }
    }
    v
}

/// Continue every prompt of `prompts` with `model`, decoded together.
pub fn generate_text(
    model: &Llama,
    tok: &LlamaTokenizer,
    prompts: &[&str],
    opts: &TextOptions,
) -> Result<Vec<TextGeneration>> {
    opts.sampling.validate()?;
    let ids: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| {
            if opts.chat {
                tok.encode_chat(p)
            } else {
                tok.encode(p)
            }
        })
        .collect::<Result<_>>()?;
    let greedy = GreedyOptions {
        max_new_tokens: opts.max_new_tokens,
        stop_tokens: stop_tokens(tok),
    };
    let (sampling, seed) = (opts.sampling, opts.seed);
    let gens = decode(
        model,
        &Cpu::new(),
        &ids,
        SeqOwners::Plain,
        &greedy,
        &|s, step, l| sampling.sample(l, seed, s as u64, step as u32),
    )?;
    ids.into_iter()
        .zip(gens)
        .map(|(prompt_ids, g)| {
            let full = tok.decode(&g.tokens, true)?;
            let (text, finish) = match find_stop(&full, &opts.stop_strings) {
                Some(m) => (full[..m.at].to_string(), TextFinish::StopString),
                None => (
                    full,
                    match g.finish {
                        Finish::Stop(_) => TextFinish::Eos,
                        Finish::Length => TextFinish::Length,
                    },
                ),
            };
            Ok(TextGeneration {
                prompt_ids,
                ids: g.tokens,
                text,
                finish,
            })
        })
        .collect()
}
