//! The tokenizer on the tiny vocabulary (always) and on SmolLM2's (when the file is present).

use super::*;
use crate::llama::gguf::{GgufWriter, MetaValue};
use crate::llama::test_model::{smollm2, tiny};
use crate::llama::tiny::{add_tiny_tokenizer, TinySpec};

fn tiny_tok() -> LlamaTokenizer {
    LlamaTokenizer::from_gguf(&tiny(&TinySpec::default())).unwrap()
}

/// Ids of the tiny vocabulary: 0–2 specials, 3 + b for byte b, then the merges.
const AB: u32 = 259;
const SP_AB: u32 = 260;
const THE: u32 = 264;
fn byte(b: u8) -> u32 {
    3 + u32::from(b)
}

#[test]
fn tiny_digits_split_and_no_prefix_space() {
    let t = tiny_tok();
    // "12" and "Ġ1" are tokens with merges, but every digit is its own piece first.
    assert_eq!(
        t.encode("ab 12").unwrap(),
        [AB, byte(b' '), byte(b'1'), byte(b'2')]
    );
    // No prefix space: "The" stays "The", not "Ġ" + "The".
    assert_eq!(t.encode("The ab").unwrap(), [THE, SP_AB]);
    assert_eq!(t.encode("<|im_start|>ab<|im_end|>").unwrap(), [1, AB, 2]);
    assert_eq!((t.bos(), t.eos(), t.vocab_size()), (Some(1), Some(2), 265));
}

#[test]
fn tiny_round_trips_and_skips_specials() {
    let t = tiny_tok();
    for s in [
        "héllo wörld\n\t  x 😀 12.5%",
        "",
        "   ",
        "a\r\nb",
        "The abab 0123456789",
    ] {
        let ids = t.encode(s).unwrap();
        assert_eq!(t.decode(&ids, false).unwrap(), s, "{ids:?}");
    }
    let ids = t.encode("<|im_start|>ab<|im_end|>").unwrap();
    assert_eq!(t.decode(&ids, true).unwrap(), "ab");
    assert_eq!(t.decode(&ids, false).unwrap(), "<|im_start|>ab<|im_end|>");
    let e = t.decode(&[9999], false).unwrap_err().to_string();
    assert!(
        e.contains("token id 9999 is outside the vocabulary of 265"),
        "{e}"
    );
}

#[test]
fn tiny_chat_prompt() {
    let t = tiny_tok();
    let ids = t.encode_chat("ab").unwrap();
    let mut want = vec![1];
    want.extend("user\n".bytes().map(byte));
    want.extend([AB, 2, byte(b'\n'), 1]);
    want.extend("assistant\n".bytes().map(byte));
    assert_eq!(ids, want);
}

fn with(key: &str, v: MetaValue) -> String {
    let mut w = GgufWriter::new();
    add_tiny_tokenizer(&mut w);
    w.set(key, v);
    let g = Gguf::from_bytes(Path::new("bad.gguf"), w.to_bytes().unwrap()).unwrap();
    LlamaTokenizer::from_gguf(&g).unwrap_err().to_string()
}

#[test]
fn unsupported_tokenizers_are_named() {
    let e = with("tokenizer.ggml.model", MetaValue::String("llama".into()));
    assert_eq!(
        e,
        "tokenizer of bad.gguf: tokenizer.ggml.model is `llama`; only `gpt2` (byte-level BPE) is supported"
    );
    let e = with("tokenizer.ggml.pre", MetaValue::String("llama-bpe".into()));
    assert!(
        e.contains("tokenizer.ggml.pre is `llama-bpe`, a pre-tokenizer this reader does not know"),
        "{e}"
    );
    let e = with(
        "tokenizer.ggml.merges",
        MetaValue::Array(vec![MetaValue::String("a zz".into())]),
    );
    assert!(
        e.contains("merges[0] = \"a zz\" merges \"zz\", which is not in the vocabulary"),
        "{e}"
    );
    let e = with("tokenizer.ggml.eos_token_id", MetaValue::U32(70_000));
    assert!(
        e.contains("tokenizer.ggml.eos_token_id = 70000 is outside the vocabulary of 265"),
        "{e}"
    );
}

fn real(test: &str) -> Option<LlamaTokenizer> {
    smollm2(test).map(|p| LlamaTokenizer::open(&p).unwrap())
}

#[test]
fn smollm2_golden_ids() {
    let Some(t) = real("smollm2 tokenizer golden ids") else {
        return;
    };
    assert_eq!(
        t.encode("The capital of France is").unwrap(),
        [504, 3575, 282, 4649, 314]
    );
    // Digits: "12 + 345 = 357" splits into "1" "2" " + " "3" "4" "5" " = " "3" "5" "7"; the
    // byte-level regex then cuts " + " into " +" and the trailing " ". From the vocabulary:
    // "1" 33, "2" 34, "3" 35, "4" 36, "5" 37, "7" 39, "Ġ+" 1232, "Ġ=" 446, "Ġ" 216 (it has
    // no multi-digit and no "Ġ" + digit tokens).
    assert_eq!(
        t.encode("12 + 345 = 357").unwrap(),
        [33, 34, 1232, 216, 35, 36, 37, 446, 216, 35, 37, 39]
    );
    assert_eq!(
        (t.bos(), t.eos(), t.vocab_size()),
        (Some(1), Some(2), 49152)
    );
    assert_eq!(t.token_id("<|im_start|>"), Some(1));
    assert_eq!(t.token_id("<|im_end|>"), Some(2));
    assert_eq!(
        t.decode(&[7042, 30, 198, 198, 504, 2988], false).unwrap(),
        " Paris.\n\nThe answer"
    );
}

#[test]
fn smollm2_chat_and_round_trip() {
    let Some(t) = real("smollm2 chat and round trip") else {
        return;
    };
    let ids = t.encode_chat("What is 2+2?").unwrap();
    let text = t.decode(&ids, false).unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(ids[0], 1);
    assert_eq!(
        ids.iter().filter(|&&i| i == 1).count(),
        3,
        "three turns opened"
    );
    assert_eq!(
        ids.iter().filter(|&&i| i == 2).count(),
        2,
        "two turns closed"
    );
    for s in [
        "héllo wörld\n\t  x 😀 12.5%",
        "  leading spaces",
        "def f(x):\n    return x**2",
    ] {
        let ids = t.encode(s).unwrap();
        assert_eq!(t.decode(&ids, false).unwrap(), s);
    }
}
