//! Training text: the train/validation split, the per-pair read positions, and the unigram
//! and bigram reference entropies of the same corpus.

use crate::error::{LlmError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Read a whole byte file.
pub fn load(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| LlmError::io(path, e))
}

/// A 64-bit FNV-1a fingerprint of the data (resume refuses different data).
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The data split into a training head and a validation tail.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Bytes members train on.
    pub train: Vec<u8>,
    /// Held-out bytes for bits/byte.
    pub val: Vec<u8>,
}

impl Corpus {
    /// Split `bytes`, keeping the last `val_fraction` for validation; both parts must be long
    /// enough for a window of `window + 1` bytes.
    pub fn split(bytes: &[u8], val_fraction: f64, window: usize) -> Result<Self> {
        let n = bytes.len();
        let n_val = ((n as f64) * val_fraction).round() as usize;
        let n_train = n - n_val.min(n);
        if n_train < window + 1 {
            return Err(LlmError::Data {
                what: "training split".into(),
                why: format!("{n_train} bytes, fewer than window + 1 = {}", window + 1),
            });
        }
        if n_val < 2 {
            return Err(LlmError::Data {
                what: "validation split".into(),
                why: format!("{n_val} bytes; need at least 2 (raise val_fraction or add data)"),
            });
        }
        Ok(Corpus {
            train: bytes[..n_train].to_vec(),
            val: bytes[n_train..].to_vec(),
        })
    }
}

/// Where each pair reads next in the training split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streams {
    /// Next read offset per pair.
    pub pos: Vec<u64>,
}

impl Streams {
    /// `pairs` streams spread evenly over `train_len` bytes.
    pub fn new(pairs: usize, train_len: usize, window: usize) -> Self {
        let span = (train_len - window - 1) as u64;
        Streams {
            pos: (0..pairs as u64).map(|q| q * span / pairs as u64).collect(),
        }
    }

    /// Each pair's window (`window + 1` bytes) and whether its state must be reset because the
    /// stream wrapped to the start of the data.
    pub fn windows<'a>(&mut self, train: &'a [u8], window: usize) -> (Vec<&'a [u8]>, Vec<bool>) {
        let mut wins = Vec::with_capacity(self.pos.len());
        let mut resets = Vec::with_capacity(self.pos.len());
        for p in &mut self.pos {
            let mut reset = false;
            if *p as usize + window + 1 > train.len() {
                *p = 0;
                reset = true;
            }
            wins.push(&train[*p as usize..*p as usize + window + 1]);
            resets.push(reset);
        }
        (wins, resets)
    }

    /// Move every stream forward by `window` bytes (the last target becomes the next input).
    pub fn advance(&mut self, window: usize) {
        for p in &mut self.pos {
            *p += window as u64;
        }
    }
}

/// Reference entropies in bits/byte.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baselines {
    /// Unigram entropy of the training split (in-sample, no smoothing).
    pub unigram_train: f64,
    /// Unigram cross-entropy on validation, counts from train, add-½ smoothing.
    pub unigram_val: f64,
    /// Bigram conditional entropy of the training split (in-sample).
    pub bigram_train: f64,
    /// Bigram cross-entropy on validation, counts from train, add-½ smoothing.
    pub bigram_val: f64,
}

/// Unigram and bigram baselines of a corpus.
pub fn baselines(c: &Corpus) -> Baselines {
    let mut uni = vec![0f64; 256];
    let mut bi = vec![0f64; 256 * 256];
    for &b in &c.train {
        uni[b as usize] += 1.0;
    }
    for w in c.train.windows(2) {
        bi[w[0] as usize * 256 + w[1] as usize] += 1.0;
    }
    let n = c.train.len() as f64;
    let unigram_train = -uni
        .iter()
        .filter(|&&k| k > 0.0)
        .map(|&k| k / n * (k / n).log2())
        .sum::<f64>();
    let row: Vec<f64> = (0..256)
        .map(|a| bi[a * 256..][..256].iter().sum())
        .collect();
    let pairs = (c.train.len() - 1) as f64;
    let bigram_train = -bi
        .iter()
        .enumerate()
        .filter(|(_, &k)| k > 0.0)
        .map(|(i, &k)| k / pairs * (k / row[i / 256]).log2())
        .sum::<f64>();
    let unigram_val = -c
        .val
        .iter()
        .map(|&b| ((uni[b as usize] + 0.5) / (n + 128.0)).log2())
        .sum::<f64>()
        / c.val.len() as f64;
    let bigram_val = -c
        .val
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0] as usize, w[1] as usize);
            ((bi[a * 256 + b] + 0.5) / (row[a] + 128.0)).log2()
        })
        .sum::<f64>()
        / (c.val.len() - 1) as f64;
    Baselines {
        unigram_train,
        unigram_val,
        bigram_train,
        bigram_val,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_streams() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 7) as u8 + b'a').collect();
        let c = Corpus::split(&data, 0.1, 10).unwrap();
        assert_eq!((c.train.len(), c.val.len()), (900, 100));
        assert!(Corpus::split(&data[..5], 0.1, 10).is_err());
        let mut s = Streams::new(4, c.train.len(), 10);
        let (w, r) = s.windows(&c.train, 10);
        assert_eq!(w.len(), 4);
        assert!(w.iter().all(|w| w.len() == 11));
        assert!(r.iter().all(|&r| !r));
        for _ in 0..100 {
            s.advance(10);
        }
        let (_, r) = s.windows(&c.train, 10);
        assert!(r.iter().any(|&r| r));
    }

    #[test]
    fn baselines_of_a_periodic_text() {
        // A period-7 text: 7 equiprobable symbols (log2 7 bits), fully predictable bigrams.
        let data: Vec<u8> = (0..7000u32).map(|i| (i % 7) as u8 + b'a').collect();
        let b = baselines(&Corpus::split(&data, 0.1, 10).unwrap());
        assert!((b.unigram_train - 7f64.log2()).abs() < 1e-3);
        assert!(b.bigram_train.abs() < 1e-9);
        assert!(b.bigram_val < 0.2 && b.unigram_val > 2.7);
    }
}
