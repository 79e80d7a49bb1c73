//! A training sequence: its tokens and, per position, the token the model should predict
//! there (or none: a masked position, such as a prompt token, that carries no loss).

use crate::error::{LlmError, Result};

/// Tokens and per-position targets of equal length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    /// Input tokens.
    pub tokens: Vec<u32>,
    /// `targets[t]`: the token to predict after `tokens[..=t]`, or `None` (masked).
    pub targets: Vec<Option<u32>>,
}

impl Sequence {
    /// Next-token prediction on `text`: inputs `text[..n−1]`, targets `text[1..]`, the
    /// targets before position `loss_from` masked (a prompt). Refuses fewer than two tokens.
    pub fn next_token(text: &[u32], loss_from: usize) -> Result<Self> {
        if text.len() < 2 {
            return Err(LlmError::config(
                "sequence",
                format!(
                    "{} tokens: next-token prediction needs at least 2",
                    text.len()
                ),
            ));
        }
        let n = text.len() - 1;
        Ok(Sequence {
            tokens: text[..n].to_vec(),
            targets: (0..n)
                .map(|t| (t + 1 >= loss_from).then_some(text[t + 1]))
                .collect(),
        })
    }

    /// Check that tokens and targets have the same length (sequence `i` of a batch).
    pub fn check(&self, i: usize) -> Result<()> {
        if self.tokens.len() != self.targets.len() || self.tokens.is_empty() {
            return Err(LlmError::config(
                "batch",
                format!(
                    "sequence {i} has {} tokens and {} targets (they must be equal and non-zero)",
                    self.tokens.len(),
                    self.targets.len()
                ),
            ));
        }
        Ok(())
    }
}
