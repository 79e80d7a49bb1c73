//! Regenerating one stream's perturbation of a parameter, with a bounded cache per [`Cpu`](super::Cpu).
//!
//! The noise of (population, parameter, stream) is a pure function of its key, so a cached
//! copy is bit-identical to a regenerated one: caching changes speed, never results.
//!
//! Caching pays off only for streams used many times: an RL rollout calls the forward at every
//! environment step (with N = 4096 and a 128×128 policy, a cached rollout ran 1.9× faster). For
//! a stream used once or twice (a supervised forward, then the update) writing it to memory
//! and reading it back costs more than generating it again (the width-256 bench forward: 9.2 ms
//! with the write, 8.1 ms without). So a stream is regenerated into the caller's scratch buffer
//! on its first [`REGENERATED_USES`] uses and stored in its table's arena on the next one. The
//! arenas hold at most [`CACHE_FLOATS`] floats (reserved a whole table at a time; pages are only
//! touched when a stream is stored) and are dropped when a new population (seed, epoch) arrives.
//!
//! Each [`Cpu`](super::Cpu) value owns one [`NoiseCache`]: two backends never share noise, so
//! their memory and their speed do not depend on each other.

use crate::noise::{fill_normals, KeyPrefix, StreamKey};
use crate::population::Population;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// Total floats the cache may hold (64 MiB).
pub const CACHE_FLOATS: usize = 16 << 20;

/// Uses of a stream that regenerate it before the next one stores it.
pub const REGENERATED_USES: u8 = 2;

/// The cached noise of one parameter of one population: one arena with a slot per stream,
/// each filled once on first use. `r == 0` marks a vector parameter.
pub struct Table {
    seed: u64,
    epoch: u32,
    param: u32,
    /// Keys of this parameter's streams, with the shared hashing done once.
    keys: KeyPrefix,
    rows: usize,
    cols: usize,
    r: usize,
    /// Floats per stream.
    per_stream: usize,
    ready: Box<[OnceLock<()>]>,
    /// Uses of each stream so far (counted up to the one that stores it).
    uses: Box<[AtomicU8]>,
    arena: Box<[UnsafeCell<MaybeUninit<f32>>]>,
}

// SAFETY: a slot of `arena` is written only inside its `ready` lock's one-time initialiser
// (exclusive by `OnceLock`'s guarantee) and read only after that lock is set, so no two
// threads ever access a float with a write among them.
unsafe impl Sync for Table {}

/// The tables of the current population and the floats their arenas hold.
struct Cache {
    tables: Vec<Arc<Table>>,
    floats: usize,
}

/// The noise cache of one CPU backend: the current population's tables, at most
/// `CACHE_FLOATS` floats (64 MiB) in all.
pub struct NoiseCache {
    inner: RwLock<Cache>,
}

impl Default for NoiseCache {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for NoiseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cache = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("NoiseCache")
            .field("tables", &cache.tables.len())
            .field("floats", &cache.floats)
            .finish()
    }
}

impl NoiseCache {
    /// An empty cache (allocates nothing until a table is made).
    pub const fn new() -> Self {
        NoiseCache {
            inner: RwLock::new(Cache {
                tables: Vec::new(),
                floats: 0,
            }),
        }
    }

    /// The table of (population, parameter, shape), created empty on first use; tables of
    /// other populations are dropped then. A table is cached whole or not at all, decided at
    /// creation (after older populations' tables are dropped, so a new generation starts with
    /// the whole budget).
    pub(crate) fn table(
        &self,
        pop: &Population,
        param: u32,
        rows: usize,
        cols: usize,
        r: usize,
    ) -> Arc<Table> {
        let matches = |t: &Table| {
            t.seed == pop.seed
                && t.epoch == pop.epoch
                && t.param == param
                && t.rows == rows
                && t.cols == cols
                && t.r == r
        };
        {
            let cache = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(t) = cache.tables.iter().find(|t| matches(t)) {
                return t.clone();
            }
        }
        let mut cache = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = cache.tables.iter().find(|t| matches(t)) {
            return t.clone();
        }
        if cache
            .tables
            .iter()
            .any(|t| t.seed != pop.seed || t.epoch != pop.epoch)
        {
            cache.tables.clear();
            cache.floats = 0;
        }
        let streams = pop.streams() as usize;
        let per_stream = if r > 0 { (rows + cols) * r } else { rows };
        let floats = streams * per_stream;
        let slots = if cache.floats + floats <= CACHE_FLOATS {
            cache.floats += floats;
            streams
        } else {
            0
        };
        let fresh = Arc::new(Table {
            seed: pop.seed,
            epoch: pop.epoch,
            param,
            keys: StreamKey::prefix(pop.seed, param, pop.epoch),
            rows,
            cols,
            r,
            per_stream,
            ready: (0..slots).map(|_| OnceLock::new()).collect(),
            uses: (0..slots).map(|_| AtomicU8::new(0)).collect(),
            // Uninitialised: every slot is written in full before it is first read.
            arena: (0..slots * per_stream)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
        });
        cache.tables.push(fresh.clone());
        fresh
    }
}

/// Write stream `stream`'s low-rank factors (Bᵀ then Aᵀ) into `out` (`(rows + cols)·r`).
fn fill_low_rank(t: &Table, stream: u32, out: &mut [f32]) {
    let (rows, cols, r) = (t.rows, t.cols, t.r);
    let key = t.keys.pair(stream);
    if r == 1 {
        // Rank 1: the stream's layout is already Bᵀ then Aᵀ.
        fill_normals(key, 0, 1.0, out);
    } else {
        let mut z = vec![0.0f32; (rows + cols) * r];
        fill_normals(key, 0, 1.0, &mut z);
        let (b, a) = z.split_at(cols * r);
        let (bt, at) = out.split_at_mut(cols * r);
        for (m, n, dst) in [(b, cols, bt), (a, rows, at)] {
            for i in 0..n {
                for j in 0..r {
                    dst[j * n + i] = m[i * r + j];
                }
            }
        }
    }
}

impl Table {
    /// Whether this table may store its streams (else each use regenerates them).
    #[cfg(test)]
    fn is_cached(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Whether stream `stream` is stored.
    #[cfg(test)]
    fn is_stored(&self, stream: u32) -> bool {
        self.ready
            .get(stream as usize)
            .is_some_and(|r| r.get().is_some())
    }

    /// The arena's floats `offset .. offset + len`.
    ///
    /// # Safety
    /// The range must lie in one slot whose `ready` lock is set.
    unsafe fn region(&self, offset: usize, len: usize) -> &[f32] {
        let start = UnsafeCell::raw_get(self.arena[offset..offset + len].as_ptr());
        // SAFETY: in bounds (sliced above), initialised and no longer written (the caller's
        // contract); UnsafeCell<MaybeUninit<f32>> has the layout of f32.
        unsafe { std::slice::from_raw_parts(start as *const f32, len) }
    }

    /// Stream `stream`'s noise in the arena once it is stored there, storing it with `fill` on
    /// the use after the first [`REGENERATED_USES`]; `None` when this use must regenerate it.
    fn stored(&self, stream: u32, fill: impl FnOnce(&mut [f32])) -> Option<&[f32]> {
        let len = self.per_stream;
        let offset = stream as usize * len;
        let i = stream as usize;
        let (ready, uses) = (self.ready.get(i)?, self.uses.get(i)?);
        // SAFETY (both reads below): the slot's lock is set.
        if ready.get().is_some() {
            return Some(unsafe { self.region(offset, len) });
        }
        // A plain load and store, not a locked add: a locked instruction waits for the
        // caller's pending stores (the output rows just written), which cost 90 cycles per
        // stream in the forward. Two threads using one stream at once may count one use
        // instead of two; that only delays storing the stream, and results never depend on it.
        let n = uses.load(Ordering::Relaxed);
        if n < REGENERATED_USES {
            uses.store(n + 1, Ordering::Relaxed);
            return None;
        }
        ready.get_or_init(|| {
            let start = UnsafeCell::raw_get(self.arena[offset..offset + len].as_ptr());
            // SAFETY: in bounds; this initialiser runs once for this slot, and nothing reads
            // the slot before it returns (readers wait on the same lock), so the access is
            // exclusive.
            let slot = unsafe { std::slice::from_raw_parts_mut(start as *mut f32, len) };
            fill(slot);
        });
        Some(unsafe { self.region(offset, len) })
    }

    /// Stream `stream`'s noise, written by `fill`: read from its arena slot once stored there
    /// (see [`Table::stored`]), else regenerated into `scratch`.
    fn stream<'s>(
        &'s self,
        stream: u32,
        scratch: &'s mut Vec<f32>,
        fill: impl Fn(&mut [f32]),
    ) -> &'s [f32] {
        match self.stored(stream, &fill) {
            Some(stored) => stored,
            None => {
                scratch.resize(self.per_stream, 0.0);
                fill(scratch);
                scratch
            }
        }
    }

    /// Stream `stream`'s low-rank factors: `B` (`cols × r`) is the first `cols·r` elements of
    /// the stream and `A` (`rows × r`) the next `rows·r` (the reference's `Z[:b]`, `Z[b:]`),
    /// returned transposed; borrowed from the table, or regenerated into `scratch`.
    pub fn low_rank<'s>(&'s self, stream: u32, scratch: &'s mut Vec<f32>) -> Factors<'s> {
        Factors {
            z: self.stream(stream, scratch, |out| fill_low_rank(self, stream, out)),
            split: self.cols * self.r,
        }
    }

    /// Write stream `stream`'s vector noise into `out` (its key derived only when needed).
    fn fill_vector(&self, stream: u32, out: &mut [f32]) {
        fill_normals(self.keys.pair(stream), 0, 1.0, out);
    }

    /// Stream `stream`'s vector noise if the table stores it (or stores it on this use, see
    /// [`Table::stored`]); `None` when this use is to regenerate it.
    pub fn stored_vector(&self, stream: u32) -> Option<&[f32]> {
        self.stored(stream, |out| self.fill_vector(stream, out))
    }

    /// Stream `stream`'s vector noise regenerated into `scratch`, without counting a use (for
    /// a caller that asked [`Table::stored_vector`] first).
    pub fn regenerated_vector<'s>(&self, stream: u32, scratch: &'s mut Vec<f32>) -> &'s [f32] {
        scratch.resize(self.per_stream, 0.0);
        self.fill_vector(stream, scratch);
        scratch
    }

    /// The key of stream `stream`.
    pub fn key(&self, stream: u32) -> StreamKey {
        self.keys.pair(stream)
    }

    /// Stream `stream`'s whole vector noise `ε` (length `rows`), borrowed from the table or
    /// regenerated into `scratch`.
    pub fn vector<'s>(&'s self, stream: u32, scratch: &'s mut Vec<f32>) -> &'s [f32] {
        self.stream(stream, scratch, |out| self.fill_vector(stream, out))
    }
}

/// A stream's low-rank factors, transposed so that both uses are contiguous: Bᵀ
/// (`r × cols`, row j = column j of B) then Aᵀ (`r × rows`).
#[derive(Clone, Copy)]
pub struct Factors<'a> {
    z: &'a [f32],
    split: usize,
}

impl<'a> Factors<'a> {
    /// Bᵀ, `r × cols`.
    pub fn bt(&self) -> &'a [f32] {
        &self.z[..self.split]
    }

    /// Aᵀ, `r × rows`.
    pub fn at(&self) -> &'a [f32] {
        &self.z[self.split..]
    }
}

/// Fill `out` with elements `start..start+out.len()` of stream `stream` of parameter `param`
/// (dense full-rank matrix noise row-major, or part of a vector), uncached.
pub fn full_noise(pop: &Population, param: u32, stream: u32, start: usize, out: &mut [f32]) {
    fill_normals(pop.key(param, stream), start as u32, 1.0, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::normal_at;
    use crate::population::{NoiseKind, PopulationParams};

    #[test]
    fn a_new_population_starts_with_the_whole_budget() {
        // Each table takes 60% of the budget: the second population's must still be cached,
        // because the first population's tables are dropped before the budget is checked.
        let rows = CACHE_FLOATS * 6 / 10 / 64;
        let pop = |epoch| {
            Population::new(PopulationParams {
                seed: 0x5eed_cace,
                epoch,
                size: 128,
                sigma: 0.1,
                kind: NoiseKind::Full,
                antithetic: true,
            })
            .unwrap()
        };
        let cache = NoiseCache::new();
        assert!(cache.table(&pop(1), 9, rows, 0, 0).is_cached());
        assert!(cache.table(&pop(2), 9, rows, 0, 0).is_cached());
    }

    #[test]
    fn uncached_streams_equal_the_stream() {
        // 64 streams of more than CACHE_FLOATS / 64 floats never fit: every use regenerates
        // into the caller's scratch buffer, which must not leak one stream's (or shape's) values
        // into another.
        let pop = Population::new(PopulationParams {
            seed: 0xdead,
            epoch: 3,
            size: 128,
            sigma: 0.1,
            kind: NoiseKind::LowRank { rank: 1 },
            antithetic: true,
        })
        .unwrap();
        let len = CACHE_FLOATS / 64 + 1;
        let cache = NoiseCache::new();
        let big = cache.table(&pop, 21, len, 0, 0);
        assert!(!big.is_cached());
        let (rows, cols) = (len / 2 + 1, len / 2);
        let small = cache.table(&pop, 22, rows, cols, 1);
        assert!(!small.is_cached());
        let mut scratch = Vec::new();
        for stream in [0u32, 5, 5, 63] {
            let v = big.vector(stream, &mut scratch).to_vec();
            let f = small.low_rank(stream, &mut scratch);
            let (key_v, key_f) = (pop.key(21, stream), pop.key(22, stream));
            for j in [0, 1, len / 2 - 1, len - 1] {
                assert_eq!(v[j], normal_at(key_v, j as u32));
            }
            assert_eq!(f.bt()[3], normal_at(key_f, 3));
            assert_eq!(f.at()[rows - 1], normal_at(key_f, (cols + rows - 1) as u32));
        }
    }

    #[test]
    fn cached_factors_equal_the_stream() {
        let pop = Population::new(PopulationParams {
            seed: 77,
            epoch: 1,
            size: 4,
            sigma: 0.1,
            kind: NoiseKind::LowRank { rank: 3 },
            antithetic: true,
        })
        .unwrap();
        // Regenerated on the first uses, stored on the next, then read back: the same values.
        let cache = NoiseCache::new();
        let t = cache.table(&pop, 5, 4, 6, 3);
        let (mut scratch, mut scratch_v) = (Vec::new(), Vec::new());
        for round in 0..REGENERATED_USES + 3 {
            let f = t.low_rank(1, &mut scratch);
            assert_eq!(t.is_stored(1), round >= REGENERATED_USES);
            let key = pop.key(5, 1);
            for i in 0..6 {
                for j in 0..3 {
                    assert_eq!(f.bt()[j * 6 + i], normal_at(key, (i * 3 + j) as u32));
                }
            }
            for o in 0..4 {
                for j in 0..3 {
                    assert_eq!(f.at()[j * 4 + o], normal_at(key, ((6 + o) * 3 + j) as u32));
                }
            }
            let vt = cache.table(&pop, 6, 5, 0, 0);
            assert_eq!(vt.vector(1, &mut scratch_v)[4], normal_at(pop.key(6, 1), 4));
        }
    }

    #[test]
    fn caches_are_not_shared() {
        let pop = Population::new(PopulationParams {
            seed: 5,
            epoch: 0,
            size: 4,
            sigma: 0.1,
            kind: NoiseKind::LowRank { rank: 1 },
            antithetic: true,
        })
        .unwrap();
        let (a, b) = (NoiseCache::new(), NoiseCache::new());
        let ta = a.table(&pop, 1, 3, 2, 1);
        assert!(Arc::ptr_eq(&ta, &a.table(&pop, 1, 3, 2, 1)));
        assert!(!Arc::ptr_eq(&ta, &b.table(&pop, 1, 3, 2, 1)));
        // Each cache counts its own budget.
        let floats = |c: &NoiseCache| c.inner.read().unwrap().floats;
        assert_eq!(floats(&a), floats(&b));
        a.table(&pop, 2, 3, 0, 0);
        assert!(floats(&a) > floats(&b));
    }
}
