//! A multi-layer perceptron evaluated for a whole population in one batched pass per layer.

use crate::backend::{Activation, Backend, LinearLayer};
use crate::error::{CoreError, Result};
use crate::model::Model;
use crate::noise::{fill_normals, StreamKey};
use crate::params::{ParamShape, ParamSpec};
use crate::population::RowOwners;
use serde::{Deserialize, Serialize};

/// Shape of an MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Input width.
    pub input: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Output width.
    pub output: usize,
    /// Non-linearity after each hidden layer.
    #[serde(default)]
    pub activation: Activation,
    /// Non-linearity after the output layer.
    #[serde(default = "identity")]
    pub output_activation: Activation,
    /// Whether layers have biases.
    #[serde(default = "yes")]
    pub bias: bool,
}

fn identity() -> Activation {
    Activation::Identity
}
fn yes() -> bool {
    true
}

impl MlpConfig {
    /// Widths of every layer boundary: input, hidden…, output.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.input];
        w.extend(&self.hidden);
        w.push(self.output);
        w
    }

    /// The parameter layout: `layers.{l}.weight` (id 2l) and `layers.{l}.bias` (id 2l+1).
    pub fn specs(&self) -> Result<Vec<ParamSpec>> {
        let w = self.widths();
        if let Some(i) = w.iter().position(|&d| d == 0) {
            return Err(CoreError::invalid(
                "model",
                format!("layer width {i} is zero"),
            ));
        }
        let mut specs = Vec::new();
        for l in 0..w.len() - 1 {
            specs.push(ParamSpec {
                name: format!("layers.{l}.weight"),
                id: 2 * l as u32,
                shape: ParamShape::Matrix {
                    rows: w[l + 1],
                    cols: w[l],
                },
            });
            if self.bias {
                specs.push(ParamSpec {
                    name: format!("layers.{l}.bias"),
                    id: 2 * l as u32 + 1,
                    shape: ParamShape::Vector { len: w[l + 1] },
                });
            }
        }
        Ok(specs)
    }
}

/// An MLP with parameters resident on backend `B`.
pub struct Mlp<B: Backend> {
    config: MlpConfig,
    specs: Vec<ParamSpec>,
    params: Vec<B::Buffer>,
}

impl<B: Backend> Mlp<B> {
    /// Initialise weights ~ N(0, 1/fan_in) from the run seed, biases at zero.
    pub fn init(backend: &B, config: MlpConfig, seed: u64) -> Result<Self> {
        let specs = config.specs()?;
        let host: Vec<Vec<f32>> = specs
            .iter()
            .map(|s| match s.shape {
                ParamShape::Matrix { cols, .. } => {
                    let mut w = vec![0.0; s.shape.numel()];
                    let key = StreamKey::new(seed ^ 0x1a17_5eed_0000_0000, s.id, u32::MAX, 0);
                    fill_normals(key, 0, 1.0 / (cols as f32).sqrt(), &mut w);
                    w
                }
                ParamShape::Vector { len } => vec![0.0; len],
            })
            .collect();
        Self::from_host(backend, config, &host)
    }

    /// Build from host tensors in layout order (e.g. from a checkpoint).
    pub fn from_host(backend: &B, config: MlpConfig, host: &[Vec<f32>]) -> Result<Self> {
        let specs = config.specs()?;
        if host.len() != specs.len() {
            return Err(CoreError::shape("mlp tensors", specs.len(), host.len()));
        }
        for (s, h) in specs.iter().zip(host) {
            if h.len() != s.shape.numel() {
                return Err(CoreError::shape(s.name.clone(), s.shape.numel(), h.len()));
            }
        }
        let params = host
            .iter()
            .map(|h| backend.upload(h))
            .collect::<Result<_>>()?;
        Ok(Mlp {
            config,
            specs,
            params,
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &MlpConfig {
        &self.config
    }
}

impl<B: Backend> Mlp<B> {
    fn layer(&self, l: usize) -> LinearLayer<'_, B::Buffer> {
        let widths = self.config.widths();
        let w = if self.config.bias { 2 * l } else { l };
        LinearLayer {
            weight: &self.params[w],
            rows: None,
            weight_id: self.specs[w].id,
            out_dim: widths[l + 1],
            in_dim: widths[l],
            bias: self
                .config
                .bias
                .then(|| (&self.params[w + 1], self.specs[w + 1].id)),
        }
    }

    fn activation_after(&self, l: usize) -> Activation {
        if l + 2 == self.config.widths().len() {
            self.config.output_activation
        } else {
            self.config.activation
        }
    }
}

impl<B: Backend> Model<B> for Mlp<B> {
    fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    fn params(&self) -> &[B::Buffer] {
        &self.params
    }

    fn params_mut(&mut self) -> &mut [B::Buffer] {
        &mut self.params
    }

    fn forward(
        &self,
        backend: &B,
        x: &B::Buffer,
        rows: usize,
        owners: RowOwners<'_>,
    ) -> Result<B::Buffer> {
        let layers = self.config.widths().len() - 1;
        let mut h: Option<B::Buffer> = None;
        for l in 0..layers {
            let input = h.as_ref().unwrap_or(x);
            let act = self.activation_after(l);
            h = Some(backend.linear_activated(input, rows, &self.layer(l), owners, act)?);
        }
        h.ok_or_else(|| CoreError::invalid("model", "has no layers"))
    }
}
