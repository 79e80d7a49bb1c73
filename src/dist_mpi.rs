//! Multi-process populations over MPI (cargo feature `mpi`): [`MpiSession`] initialises MPI
//! when the process was started by a launcher (`mpirun`, `mpiexec`, `srun`) and turns a panic
//! on any rank into an abort of the whole job; [`MpiCommunicator`] implements
//! [`Communicator`] on `MPI_COMM_WORLD` with one all-gather-v of the fitness per generation.
//!
//! Test hook: with `EGGROLL_TEST_PANIC_RANK=r` in its environment, rank `r` panics in its
//! first fitness exchange. It exists so the tests can check that a failing rank ends the
//! job with a message naming it; it is read only in builds with the test-only
//! `fault-injection` feature (never in a release build).

use crate::dist::Communicator;
use crate::error::Result;
use eggroll_core::CoreError;
use mpi::collective::CommunicatorCollectives;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::Count;
use std::cell::Cell;

/// Variables an MPI launcher sets in each process it starts (Open MPI, MPICH/Hydra's PMI,
/// PMIx, Slurm's `srun`). Any one of them makes [`launched_by_mpi`] true.
pub const LAUNCHER_VARS: [&str; 5] = [
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "PMI_RANK",
    "PMIX_RANK",
    "SLURM_PROCID",
];

/// Overrides launcher detection: `EGGROLL_MPI=0` never initialises MPI, `EGGROLL_MPI=1`
/// always does (a one-rank "singleton" job when started without a launcher).
pub const MPI_SWITCH_VAR: &str = "EGGROLL_MPI";

/// Test hook: the rank named here panics in its first fitness exchange.
pub const TEST_PANIC_VAR: &str = "EGGROLL_TEST_PANIC_RANK";

/// Whether a process whose environment is `var` should join an MPI job.
pub fn launched_by_mpi(var: impl Fn(&str) -> Option<String>) -> bool {
    match var(MPI_SWITCH_VAR).as_deref().map(str::trim) {
        Some("0") | Some("false") | Some("off") => false,
        Some("1") | Some("true") | Some("on") => true,
        _ => LAUNCHER_VARS.iter().any(|v| var(v).is_some()),
    }
}

/// Bytes one rank sends plus receives in an all-gather-v where rank `r` contributes
/// `counts[r]` elements of `elem` bytes, counted as a direct exchange: its own share goes to
/// each of the other ranks and every other share comes to it once. (A ring all-gather moves
/// the same amount per rank.)
pub fn all_gather_bytes(counts: &[usize], rank: usize, elem: usize) -> u64 {
    let total: usize = counts.iter().sum();
    let mine = counts.get(rank).copied().unwrap_or(0);
    let peers = counts.len().saturating_sub(1);
    ((mine * peers + (total - mine)) * elem) as u64
}

/// MPI for the life of the program: keep it alive until the end of `main`; dropping it
/// finalises MPI.
pub struct MpiSession {
    _universe: Universe,
    rank: usize,
    size: usize,
}

impl MpiSession {
    /// Initialise MPI if this process was started by an MPI launcher (see
    /// [`launched_by_mpi`]); `None` for a plain run. Installs a panic hook that reports the
    /// panicking rank and aborts the whole job.
    pub fn from_env() -> Result<Option<MpiSession>> {
        if !launched_by_mpi(|v| std::env::var(v).ok()) {
            return Ok(None);
        }
        let universe = mpi::initialize().ok_or_else(|| CoreError::Invalid {
            what: "MPI initialisation".into(),
            why: "MPI was already initialised in this process".into(),
        })?;
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        install_panic_hook(rank, size);
        Ok(Some(MpiSession {
            _universe: universe,
            rank,
            size,
        }))
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of ranks in the job.
    pub fn size(&self) -> usize {
        self.size
    }

    /// End the program after an error: print `message` (naming the rank when there are
    /// several) and abort the whole job, since the other ranks may be waiting in a collective
    /// that this one will never join. A one-rank job finalises MPI and exits with status 1.
    pub fn fail(self, message: &str) -> ! {
        if self.size > 1 {
            eprintln!("error (rank {} of {}): {message}", self.rank, self.size);
            SimpleCommunicator::world().abort(1)
        }
        eprintln!("error: {message}");
        drop(self);
        std::process::exit(1)
    }
}

/// After the default report, name the rank and abort every rank of the job (exit status 101,
/// as for an ordinary panic). MPI is not touched once finalised.
fn install_panic_hook(rank: usize, size: usize) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        eprintln!("eggroll: rank {rank} of {size} panicked; aborting the MPI job");
        if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
            SimpleCommunicator::world().abort(101);
        }
    }));
}

/// [`Communicator`] over `MPI_COMM_WORLD`.
pub struct MpiCommunicator {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    bytes: Cell<u64>,
    #[cfg(feature = "fault-injection")]
    panic_rank: Option<usize>,
}

impl MpiCommunicator {
    /// The world communicator, when MPI is initialised (an [`MpiSession`] is alive).
    pub fn world() -> Option<MpiCommunicator> {
        if !mpi::environment::is_initialized() || mpi::environment::is_finalized() {
            return None;
        }
        let world = SimpleCommunicator::world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        #[cfg(feature = "fault-injection")]
        let panic_rank = std::env::var(TEST_PANIC_VAR)
            .ok()
            .and_then(|v| v.trim().parse().ok());
        Some(MpiCommunicator {
            world,
            rank,
            size,
            bytes: Cell::new(0),
            #[cfg(feature = "fault-injection")]
            panic_rank,
        })
    }

    fn count(&self, context: &str, n: usize) -> Result<Count> {
        Count::try_from(n).map_err(|_| {
            CoreError::Invalid {
                what: context.into(),
                why: format!("{n} elements exceed MPI's count range"),
            }
            .into()
        })
    }
}

impl Communicator for MpiCommunicator {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_gather_f32(&self, local: &[f32], counts: &[usize]) -> Result<Vec<f32>> {
        #[cfg(feature = "fault-injection")]
        if self.panic_rank == Some(self.rank) {
            panic!(
                "test hook {TEST_PANIC_VAR}={}: rank {} panics in the fitness exchange",
                self.rank, self.rank
            );
        }
        if counts.len() != self.size {
            return Err(CoreError::Shape {
                context: "MPI fitness all-gather (one count per rank)".into(),
                expected: self.size,
                got: counts.len(),
            }
            .into());
        }
        if local.len() != counts[self.rank] {
            return Err(CoreError::Shape {
                context: format!("MPI fitness all-gather (rank {}'s share)", self.rank),
                expected: counts[self.rank],
                got: local.len(),
            }
            .into());
        }
        let total: usize = counts.iter().sum();
        let mut mpi_counts = Vec::with_capacity(self.size);
        let mut displs = Vec::with_capacity(self.size);
        let mut offset = 0usize;
        for &c in counts {
            mpi_counts.push(self.count("fitness share", c)?);
            displs.push(self.count("fitness offset", offset)?);
            offset += c;
        }
        let mut all = vec![0f32; total];
        {
            let mut part = PartitionMut::new(&mut all[..], &mpi_counts[..], &displs[..]);
            self.world.all_gather_varcount_into(local, &mut part);
        }
        let f32_bytes = std::mem::size_of::<f32>();
        self.bytes
            .set(self.bytes.get() + all_gather_bytes(counts, self.rank, f32_bytes));
        Ok(all)
    }

    fn all_gather_u64(&self, local: u64) -> Result<Vec<u64>> {
        let mut all = vec![0u64; self.size];
        self.world.all_gather_into(&local, &mut all[..]);
        let counts = vec![1; self.size];
        self.bytes.set(
            self.bytes.get() + all_gather_bytes(&counts, self.rank, std::mem::size_of::<u64>()),
        );
        Ok(all)
    }

    fn bytes_exchanged(&self) -> u64 {
        self.bytes.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn plain_run_does_not_join_mpi() {
        assert!(!launched_by_mpi(env(&[("HOME", "/root")])));
    }

    #[test]
    fn each_launcher_is_detected() {
        for v in LAUNCHER_VARS {
            assert!(launched_by_mpi(env(&[(v, "0")])), "{v}");
        }
    }

    #[test]
    fn switch_overrides_detection() {
        assert!(!launched_by_mpi(env(&[
            (MPI_SWITCH_VAR, "0"),
            ("OMPI_COMM_WORLD_SIZE", "2")
        ])));
        assert!(launched_by_mpi(env(&[(MPI_SWITCH_VAR, "1")])));
        assert!(launched_by_mpi(env(&[
            (MPI_SWITCH_VAR, "auto"),
            ("PMIX_RANK", "1")
        ])));
    }

    #[test]
    fn bytes_count_own_share_out_and_others_in() {
        // 64 members over 3 ranks: 22, 21, 21.
        let counts = [22, 21, 21];
        assert_eq!(all_gather_bytes(&counts, 0, 4), ((22 * 2) + 42) * 4);
        assert_eq!(all_gather_bytes(&counts, 1, 4), ((21 * 2) + 43) * 4);
        assert_eq!(all_gather_bytes(&[64], 0, 4), 0);
        for p in 1..=16usize {
            let counts: Vec<usize> = (0..p)
                .map(|r| 1000 / p + usize::from(r < 1000 % p))
                .collect();
            for r in 0..p {
                assert!(all_gather_bytes(&counts, r, 4) <= 8 * 1000 + 8 * 16);
            }
        }
    }
}
