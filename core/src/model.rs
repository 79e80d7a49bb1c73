//! The `Model` trait and the ES update that every model shares.

use crate::backend::Backend;
use crate::error::{CoreError, Result};
use crate::optim::OptimStep;
use crate::params::ParamSpec;
use crate::population::{Population, RowOwners};

/// A model whose parameters live on a backend and that evaluates whole populations at once.
pub trait Model<B: Backend> {
    /// The parameter tensors, in a fixed order.
    fn specs(&self) -> &[ParamSpec];

    /// The parameter buffers, in the order of [`Model::specs`].
    fn params(&self) -> &[B::Buffer];

    /// Mutable parameter buffers.
    fn params_mut(&mut self) -> &mut [B::Buffer];

    /// Evaluate `x` (`rows` rows, each perturbed by the member `owners` names, if any) in one
    /// batched pass.
    fn forward(
        &self,
        backend: &B,
        x: &B::Buffer,
        rows: usize,
        owners: RowOwners<'_>,
    ) -> Result<B::Buffer>;
}

/// Per-tensor optimiser state buffers (empty for SGD, `[m, v]` for Adam).
pub type OptimState<B> = Vec<Vec<<B as Backend>::Buffer>>;

/// Zero-initialised optimiser state with `slots` buffers per tensor.
pub fn zero_optim_state<B: Backend>(
    backend: &B,
    specs: &[ParamSpec],
    slots: usize,
) -> Result<OptimState<B>> {
    specs
        .iter()
        .map(|s| {
            (0..slots)
                .map(|_| backend.upload(&vec![0.0; s.shape.numel()]))
                .collect()
        })
        .collect()
}

/// Apply one ES update to every tensor: the gradient estimate `(1/N) Σ w_i E_i`, then the
/// optimiser step.
pub fn apply_es_update<B: Backend, M: Model<B> + ?Sized>(
    backend: &B,
    model: &mut M,
    state: &mut OptimState<B>,
    pop: &Population,
    weights: &[f32],
    step: &OptimStep,
) -> Result<()> {
    let specs = model.specs().to_vec();
    if state.len() != specs.len() {
        return Err(CoreError::shape(
            "optimizer state tensors",
            specs.len(),
            state.len(),
        ));
    }
    for (i, spec) in specs.iter().enumerate() {
        let grad = backend.es_gradient(pop, spec, weights)?;
        backend.optimizer_step(&mut model.params_mut()[i], &grad, &mut state[i], step)?;
    }
    Ok(())
}
