//! Distribution of a population over processes: parameters are replicated, members are
//! sharded, and only the N fitness scalars are exchanged. [`SingleProcess`] is the default;
//! an MPI communicator implements the same trait behind the `mpi` feature.

use crate::error::Result;

/// What the training loop needs from a group of cooperating processes.
pub trait Communicator {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;

    /// Number of processes.
    fn size(&self) -> usize;

    /// Concatenate every rank's `local` fitness in rank order; `counts[r]` is rank r's length.
    fn all_gather_f32(&self, local: &[f32], counts: &[usize]) -> Result<Vec<f32>>;

    /// Every rank's `local` 64-bit value, in rank order.
    fn all_gather_u64(&self, local: u64) -> Result<Vec<u64>>;

    /// Bytes this process has sent and received so far.
    fn bytes_exchanged(&self) -> u64;
}

/// One process: nothing to exchange.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_gather_f32(&self, local: &[f32], _counts: &[usize]) -> Result<Vec<f32>> {
        Ok(local.to_vec())
    }

    fn all_gather_u64(&self, local: u64) -> Result<Vec<u64>> {
        Ok(vec![local])
    }

    fn bytes_exchanged(&self) -> u64 {
        0
    }
}
