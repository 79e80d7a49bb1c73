//! Parameter layout: which tensors a model has, their shapes and their noise ids.

use serde::{Deserialize, Serialize};

/// Shape of one parameter tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParamShape {
    /// A weight matrix of `rows` (outputs) × `cols` (inputs), row-major; perturbed low-rank.
    Matrix {
        /// Output dimension `a`.
        rows: usize,
        /// Input dimension `b`.
        cols: usize,
    },
    /// A vector (bias, norm scale); perturbed full-rank.
    Vector {
        /// Number of elements.
        len: usize,
    },
}

impl ParamShape {
    /// Number of scalars in the tensor.
    pub fn numel(&self) -> usize {
        match *self {
            ParamShape::Matrix { rows, cols } => rows * cols,
            ParamShape::Vector { len } => len,
        }
    }

    /// Dimensions as a list (for checkpoints).
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            ParamShape::Matrix { rows, cols } => vec![rows, cols],
            ParamShape::Vector { len } => vec![len],
        }
    }
}

/// One named parameter tensor and the id that keys its noise stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// Stable name, used in checkpoints (`layers.0.weight`).
    pub name: String,
    /// Noise stream id: distinct for every tensor of a model.
    pub id: u32,
    /// Tensor shape.
    pub shape: ParamShape,
}

/// Total number of scalars in a layout.
pub fn total_params(specs: &[ParamSpec]) -> usize {
    specs.iter().map(|s| s.shape.numel()).sum()
}
