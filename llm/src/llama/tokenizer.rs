//! The byte-level BPE tokenizer a GGUF file carries, built with the Hugging Face
//! `tokenizers` crate from `tokenizer.ggml.tokens`, `…merges`, `…token_type` and the
//! pre-tokenizer named by `tokenizer.ggml.pre`.
//!
//! Pre-tokenizers: `smollm` splits every digit into its own piece (`\p{N}`) and then applies
//! the GPT-2 byte-level split; `gpt2` (and an absent key) applies the byte-level split alone.
//! Neither adds a prefix space unless `tokenizer.ggml.add_space_prefix` says so: a default
//! `ByteLevel` (prefix space on, as candle's GGUF tokenizer falls back to) would turn the
//! first word `The` into `ĠThe` and every id after the first into the wrong one's neighbour.
//! Other pre-tokenizers (Llama 3's, Qwen's …) use other regexes and are refused by name rather
//! than tokenised almost right.
//!
//! Control tokens (`token_type` 3: `<|endoftext|>`, `<|im_start|>`, …) are special tokens:
//! their text in the input becomes the one token, and [`LlamaTokenizer::decode`] can skip them.

use super::chat::{ChatMessage, ChatTemplate};
use super::gguf::Gguf;
use crate::error::{LlmError, Result};
use std::path::{Path, PathBuf};
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

/// `tokenizer.ggml.token_type` of control (special) tokens.
const TOKEN_CONTROL: i128 = 3;
/// `tokenizer.ggml.token_type` of user-defined tokens (added, not special).
const TOKEN_USER_DEFINED: i128 = 4;

/// A model's tokenizer with its special ids and chat template.
#[derive(Clone)]
pub struct LlamaTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    vocab_size: usize,
    bos: Option<u32>,
    eos: Option<u32>,
    add_bos: bool,
    chat: Option<ChatTemplate>,
    /// The Jinja source of the chat template, kept for exports.
    chat_source: Option<String>,
}

impl std::fmt::Debug for LlamaTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaTokenizer")
            .field("path", &self.path)
            .field("vocab_size", &self.vocab_size)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

impl LlamaTokenizer {
    /// Build the tokenizer from the metadata of `g`.
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        let path = g.path();
        let err = |why: String| LlmError::tokenizer(path, why);
        let model = g.get_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(err(format!(
                "tokenizer.ggml.model is `{model}`; only `gpt2` (byte-level BPE) is supported"
            )));
        }
        let digits = match g.get("tokenizer.ggml.pre").map(|v| v.as_str()) {
            None => false,
            Some(Some("smollm")) => true,
            Some(Some("gpt2" | "default")) => false,
            Some(Some(other)) => {
                return Err(err(format!(
                    "tokenizer.ggml.pre is `{other}`, a pre-tokenizer this reader does not know (it knows `smollm` and `gpt2`)"
                )))
            }
            Some(None) => return Err(err("tokenizer.ggml.pre is not a string".into())),
        };
        let prefix_space = g.get_bool_or("tokenizer.ggml.add_space_prefix", false)?;
        let tokens = g.get_str_array("tokenizer.ggml.tokens")?;
        let mut vocab = Vocab::default();
        for (i, t) in tokens.iter().enumerate() {
            if vocab.insert((*t).to_string(), i as u32).is_some() {
                return Err(err(format!(
                    "token {t:?} appears twice in tokenizer.ggml.tokens"
                )));
            }
        }
        let merges = g
            .get_str_array("tokenizer.ggml.merges")?
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let (a, b) = m.split_once(' ').ok_or_else(|| {
                    err(format!("tokenizer.ggml.merges[{i}] = {m:?} is not two tokens separated by a space"))
                })?;
                for part in [a, b] {
                    if !vocab.contains_key(part) {
                        return Err(err(format!(
                            "tokenizer.ggml.merges[{i}] = {m:?} merges {part:?}, which is not in the vocabulary"
                        )));
                    }
                }
                Ok((a.to_string(), b.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let types = match g.get("tokenizer.ggml.token_type") {
            None => vec![1; tokens.len()],
            Some(_) => g.get_int_array("tokenizer.ggml.token_type")?,
        };
        if types.len() != tokens.len() {
            return Err(err(format!(
                "tokenizer.ggml.token_type has {} entries for {} tokens",
                types.len(),
                tokens.len()
            )));
        }
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| err(format!("the BPE model cannot be built: {e}")))?;
        let mut inner = Tokenizer::new(bpe);
        let byte_level = ByteLevel::new(prefix_space, false, true);
        let pre: PreTokenizerWrapper = if digits {
            Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
        } else {
            byte_level.into()
        };
        inner.with_pre_tokenizer(Some(pre));
        inner.with_decoder(Some(ByteLevel::default()));
        let specials: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, &t)| t == TOKEN_CONTROL)
            .map(|(s, _)| AddedToken::from(*s, true))
            .collect();
        inner
            .add_special_tokens(specials)
            .map_err(|e| err(format!("special tokens cannot be added: {e}")))?;
        let user: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, &t)| t == TOKEN_USER_DEFINED)
            .map(|(s, _)| AddedToken::from(*s, false))
            .collect();
        inner
            .add_tokens(user)
            .map_err(|e| err(format!("user-defined tokens cannot be added: {e}")))?;

        let id = |key: &str| -> Result<Option<u32>> {
            match g.get(key) {
                None => Ok(None),
                Some(_) => {
                    let v = g.get_usize(key)?;
                    if v >= tokens.len() {
                        return Err(err(format!(
                            "{key} = {v} is outside the vocabulary of {}",
                            tokens.len()
                        )));
                    }
                    Ok(Some(v as u32))
                }
            }
        };
        let chat_source = match g.get("tokenizer.chat_template") {
            None => None,
            Some(_) => Some(g.get_str("tokenizer.chat_template")?.to_string()),
        };
        let chat = chat_source.as_deref().and_then(ChatTemplate::detect);
        Ok(LlamaTokenizer {
            bos: id("tokenizer.ggml.bos_token_id")?,
            eos: id("tokenizer.ggml.eos_token_id")?,
            add_bos: g.get_bool_or("tokenizer.ggml.add_bos_token", false)?,
            vocab_size: tokens.len(),
            chat,
            chat_source,
            inner,
            path: path.to_path_buf(),
        })
    }

    /// Wrap a Hugging Face tokenizer read from `path` (a `tokenizer.json`) with the special
    /// ids, BOS rule and chat template its `tokenizer_config.json` gives.
    pub(crate) fn from_hf_parts(
        inner: Tokenizer,
        path: &Path,
        bos: Option<u32>,
        eos: Option<u32>,
        add_bos: bool,
        chat_source: Option<String>,
    ) -> Self {
        LlamaTokenizer {
            vocab_size: inner.get_vocab_size(true),
            chat: chat_source.as_deref().and_then(ChatTemplate::detect),
            chat_source,
            bos,
            eos,
            add_bos,
            inner,
            path: path.to_path_buf(),
        }
    }

    /// The Hugging Face `tokenizers` tokenizer underneath (its pre-tokenizer, BPE model,
    /// decoder and special tokens are all serialisable: see [`super::hf`]).
    pub fn hf_tokenizer(&self) -> &Tokenizer {
        &self.inner
    }

    /// Whether [`Self::encode`] puts BOS first.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// The chat template's Jinja source, if the model file has one.
    pub fn chat_template_source(&self) -> Option<&str> {
        self.chat_source.as_deref()
    }

    /// Read the GGUF at `path` and build its tokenizer.
    pub fn open(path: &Path) -> Result<Self> {
        Self::from_gguf(&Gguf::open(path)?)
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Beginning-of-sequence id, if the file names one.
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    /// End-of-sequence id, if the file names one (generation stops on it).
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// The id of token text `token` (`<|im_end|>`), if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Token ids of `text`, with BOS first when `tokenizer.ggml.add_bos_token` is set.
    /// Special-token text (`<|im_start|>`) becomes its one id.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| LlmError::tokenizer(&self.path, format!("cannot encode {text:?}: {e}")))?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if let (true, Some(b)) = (self.add_bos, self.bos) {
            ids.push(b);
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// The text of `ids`; special tokens are dropped when `skip_special` is set.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= self.vocab_size) {
            return Err(LlmError::tokenizer(
                &self.path,
                format!(
                    "token id {bad} is outside the vocabulary of {}",
                    self.vocab_size
                ),
            ));
        }
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| LlmError::tokenizer(&self.path, format!("cannot decode: {e}")))
    }

    /// The chat prompt of `messages` in the model's template, ending with the assistant's
    /// turn opened (`<|im_start|>assistant\n`).
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        let t = self.chat.as_ref().ok_or_else(|| {
            LlmError::tokenizer(
                &self.path,
                "the file has no ChatML chat template (tokenizer.chat_template)",
            )
        })?;
        Ok(t.render(messages))
    }

    /// Token ids of a one-turn chat: `user` in the chat template, assistant turn opened.
    pub fn encode_chat(&self, user: &str) -> Result<Vec<u32>> {
        self.encode(&self.chat_prompt(&[ChatMessage::user(user)])?)
    }
}

#[cfg(test)]
#[path = "tokenizer_tests.rs"]
mod tests;
