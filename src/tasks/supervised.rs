//! Supervised learning as an ES task: fitness is minus the loss on a minibatch that every
//! member of a generation shares (drawn from the run seed and the generation).

use super::Task;
use crate::error::{Error, Result};
use eggroll_core::noise::StreamKey;
use eggroll_core::population::{Population, RowOwners};
use eggroll_core::{Backend, Model};
use std::ops::Range;

/// Loss of a supervised task.
#[derive(Clone, Debug, PartialEq)]
pub enum Loss {
    /// Softmax cross-entropy against class labels.
    CrossEntropy {
        /// Label per example.
        labels: Vec<u32>,
    },
    /// Mean squared error against target rows.
    Mse {
        /// `n × output` targets.
        targets: Vec<f32>,
    },
}

/// A supervised data set split into train and test, with a minibatch size.
pub struct Supervised {
    /// Input width.
    pub input: usize,
    /// Output width.
    pub output: usize,
    /// `n_train × input` training inputs.
    pub train_x: Vec<f32>,
    /// Training loss targets.
    pub train_y: Loss,
    /// `n_test × input` test inputs.
    pub test_x: Vec<f32>,
    /// Test loss targets.
    pub test_y: Loss,
    /// Examples per generation.
    pub batch: usize,
    /// Run seed (selects minibatches).
    pub seed: u64,
}

impl Supervised {
    fn n_train(&self) -> usize {
        self.train_x.len() / self.input
    }

    /// Indices of generation `g`'s minibatch (with replacement).
    pub fn minibatch(&self, generation: u64) -> Vec<usize> {
        let key = StreamKey::new(
            self.seed,
            0xba7c,
            generation as u32,
            (generation >> 32) as u32,
        );
        let n = self.n_train() as u64;
        (0..self.batch)
            .map(|j| ((key.bits(j as u32) as u64 * n) >> 32) as usize)
            .collect()
    }
}

/// Per-row losses (and whether the row is classified right) of `out` against `y[idx]`.
fn row_losses(out: &[f32], width: usize, y: &Loss, idx: &[usize]) -> Vec<(f64, bool)> {
    out.chunks(width)
        .zip(idx.iter().cycle())
        .map(|(row, &i)| match y {
            Loss::CrossEntropy { labels } => {
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let lse = max as f64
                    + row
                        .iter()
                        .map(|&v| ((v - max) as f64).exp())
                        .sum::<f64>()
                        .ln();
                let label = labels[i] as usize;
                let argmax = row
                    .iter()
                    .enumerate()
                    .fold(0, |b, (k, &v)| if v > row[b] { k } else { b });
                (lse - row[label] as f64, argmax == label)
            }
            Loss::Mse { targets } => {
                let t = &targets[i * width..(i + 1) * width];
                let se: f64 = row
                    .iter()
                    .zip(t)
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum();
                (se / width as f64, false)
            }
        })
        .collect()
}

impl<B: Backend, M: Model<B>> Task<B, M> for Supervised {
    type Error = Error;

    fn input_dim(&self) -> usize {
        self.input
    }

    fn output_dim(&self) -> usize {
        self.output
    }

    fn fitness(
        &self,
        backend: &B,
        model: &M,
        pop: &Population,
        members: Range<u32>,
        generation: u64,
    ) -> Result<Vec<f32>> {
        let idx = self.minibatch(generation);
        let m = members.len();
        let mut x = Vec::with_capacity(m * self.batch * self.input);
        for _ in 0..m {
            for &i in &idx {
                x.extend_from_slice(&self.train_x[i * self.input..(i + 1) * self.input]);
            }
        }
        let rows = m * self.batch;
        let xb = backend.upload(&x)?;
        let owners = RowOwners::Grouped {
            pop,
            first_member: members.start,
            rows_per_member: self.batch,
        };
        let out = backend.download(&model.forward(backend, &xb, rows, owners)?)?;
        let losses = row_losses(&out, self.output, &self.train_y, &idx);
        Ok(losses
            .chunks(self.batch)
            .map(|c| -(c.iter().map(|(l, _)| l).sum::<f64>() / self.batch as f64) as f32)
            .collect())
    }

    fn rows_per_member(&self) -> usize {
        self.batch
    }

    fn metric_names(&self) -> Vec<&'static str> {
        match self.test_y {
            Loss::CrossEntropy { .. } => vec!["eval_loss", "eval_accuracy"],
            _ => vec!["eval_loss"],
        }
    }

    fn evaluate(&self, backend: &B, model: &M) -> Result<Vec<(&'static str, f64)>> {
        let rows = self.test_x.len() / self.input;
        let xb = backend.upload(&self.test_x)?;
        let out = backend.download(&model.forward(backend, &xb, rows, RowOwners::Plain)?)?;
        let idx: Vec<usize> = (0..rows).collect();
        let losses = row_losses(&out, self.output, &self.test_y, &idx);
        let loss = losses.iter().map(|(l, _)| l).sum::<f64>() / rows as f64;
        let mut metrics = vec![("eval_loss", loss)];
        if matches!(self.test_y, Loss::CrossEntropy { .. }) {
            let acc = losses.iter().filter(|(_, ok)| *ok).count() as f64 / rows as f64;
            metrics.push(("eval_accuracy", acc));
        }
        Ok(metrics)
    }
}
