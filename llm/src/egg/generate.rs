//! Sampling bytes from a trained checkpoint with integer arithmetic only: the next byte is
//! drawn with probability ∝ `EXP2[max − logit]` using a counter-based hash of the seed.

use crate::egg::checkpoint::load_model;
use crate::egg::evaluate::DOC_SEPARATOR;
use crate::egg::forward::Runner;
use crate::egg::params::{Weights, VOCAB};
use crate::egg::tables::{EXP2, EXP2_LEN};
use crate::error::Result;
use eggroll_core::noise::StreamKey;
use std::path::Path;

/// Draw a byte from int8 logits given a uniform 32-bit word.
pub fn sample_byte(logits: &[i16], bits: u32) -> u8 {
    let m = logits.iter().copied().max().unwrap_or(0);
    let w = |z: i16| EXP2[((m - z) as usize).min(EXP2_LEN - 1)] as u64;
    let total: u64 = logits.iter().map(|&z| w(z)).sum();
    let mut pick = (bits as u64 * total) >> 32;
    for (b, &z) in logits.iter().enumerate() {
        let p = w(z);
        if pick < p {
            return b as u8;
        }
        pick -= p;
    }
    (VOCAB - 1) as u8
}

/// Continue `prompt` by `bytes` sampled bytes with the given weights.
pub fn generate_with(wts: &Weights, prompt: &[u8], bytes: usize, seed: u64) -> Vec<u8> {
    let key = StreamKey::new(seed, u32::MAX - 1, 0, 0);
    let mut run = Runner::new(wts, None, 1);
    let feed = |run: &mut Runner, b: u8| {
        if b == DOC_SEPARATOR {
            run.reset_row(0);
        }
        run.step(&[b]);
    };
    if prompt.is_empty() {
        feed(&mut run, DOC_SEPARATOR);
    }
    for &b in prompt {
        feed(&mut run, b);
    }
    let mut out = Vec::with_capacity(bytes);
    for i in 0..bytes {
        let next = sample_byte(run.logits(), key.bits(i as u32));
        out.push(next);
        feed(&mut run, next);
    }
    out
}

/// Load `checkpoint` and continue `prompt` by `bytes` sampled bytes (seeded, reproducible).
pub fn generate(checkpoint: &Path, prompt: &[u8], bytes: usize, seed: u64) -> Result<Vec<u8>> {
    let (_, wts) = load_model(checkpoint)?;
    Ok(generate_with(&wts, prompt, bytes, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_weights() {
        let mut logits = vec![-127i16; 256];
        logits[65] = 127;
        // The 255 unlikely bytes share the bottom 255/65791 of the unit interval.
        assert_eq!(sample_byte(&logits, 0), 0);
        assert_eq!(sample_byte(&logits, 1 << 24), 65);
        assert_eq!(sample_byte(&logits, u32::MAX / 2), 65);
        let even = vec![0i16; 256];
        assert_eq!(sample_byte(&even, 0), 0);
        assert_eq!(sample_byte(&even, u32::MAX), 255);
        assert_eq!(sample_byte(&even, 1 << 31), 128);
    }

    #[test]
    fn generation_is_reproducible() {
        let w = Weights::init(16, 1, 4);
        let a = generate_with(&w, b"ROMEO:", 20, 1);
        assert_eq!(a, generate_with(&w, b"ROMEO:", 20, 1));
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_with(&w, b"ROMEO:", 20, 2));
    }
}
