//! Regenerating one stream's perturbation of a parameter, with a bounded shared cache.
//!
//! The noise of (population, parameter, stream) is a pure function of its key, so a cached
//! copy is bit-identical to a regenerated one: caching changes speed, never results. The cache
//! pays off when one population is evaluated many times (an RL rollout calls the forward at
//! every environment step) and when the update reuses the forward's factors. It holds at most
//! [`CACHE_FLOATS`] floats (O(N·r·(a+b)), never N × parameters) and is cleared whenever a new
//! population (seed, epoch) arrives.

use crate::noise::fill_normals;
use crate::population::Population;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// Total floats the cache may hold (64 MiB).
pub const CACHE_FLOATS: usize = 16 << 20;

/// A stream's low-rank factors, transposed so that both uses are contiguous: one buffer
/// holding Bᵀ (`r × cols`, row j = column j of B) then Aᵀ (`r × rows`).
#[derive(Debug)]
pub struct LowRank {
    data: Vec<f32>,
    split: usize,
}

impl LowRank {
    /// Bᵀ, `r × cols`.
    pub fn bt(&self) -> &[f32] {
        &self.data[..self.split]
    }

    /// Aᵀ, `r × rows`.
    pub fn at(&self) -> &[f32] {
        &self.data[self.split..]
    }
}

/// The cached noise of one parameter of one population: a slot per stream, filled on first
/// use. `r == 0` marks a vector parameter.
pub struct Table {
    seed: u64,
    epoch: u32,
    param: u32,
    rows: usize,
    cols: usize,
    r: usize,
    low_rank: Box<[OnceLock<Arc<LowRank>>]>,
    vector: Box<[OnceLock<Arc<Vec<f32>>>]>,
}

static TABLES: RwLock<Vec<Arc<Table>>> = RwLock::new(Vec::new());
static FLOATS: AtomicUsize = AtomicUsize::new(0);

/// The table of (population, parameter, shape), created empty on first use; tables of other
/// populations are dropped then.
pub fn table(pop: &Population, param: u32, rows: usize, cols: usize, r: usize) -> Arc<Table> {
    let matches = |t: &Table| {
        t.seed == pop.seed
            && t.epoch == pop.epoch
            && t.param == param
            && t.rows == rows
            && t.cols == cols
            && t.r == r
    };
    if let Ok(tables) = TABLES.read() {
        if let Some(t) = tables.iter().find(|t| matches(t)) {
            return t.clone();
        }
    }
    let streams = pop.streams() as usize;
    // A table is cached whole or not at all, decided once: no per-entry accounting.
    let floats = streams * if r > 0 { (rows + cols) * r } else { rows };
    let fits = FLOATS.fetch_add(floats, Ordering::Relaxed) + floats <= CACHE_FLOATS;
    let slots = if fits { streams } else { 0 };
    let fresh = Arc::new(Table {
        seed: pop.seed,
        epoch: pop.epoch,
        param,
        rows,
        cols,
        r,
        low_rank: (0..if r > 0 { slots } else { 0 })
            .map(|_| OnceLock::new())
            .collect(),
        vector: (0..if r == 0 { slots } else { 0 })
            .map(|_| OnceLock::new())
            .collect(),
    });
    let Ok(mut tables) = TABLES.write() else {
        return fresh;
    };
    if let Some(t) = tables.iter().find(|t| matches(t)) {
        return t.clone();
    }
    if tables
        .iter()
        .any(|t| t.seed != pop.seed || t.epoch != pop.epoch)
    {
        tables.clear();
        FLOATS.store(if fits { floats } else { 0 }, Ordering::Relaxed);
    }
    tables.push(fresh.clone());
    fresh
}

fn make_low_rank(pop: &Population, t: &Table, stream: u32) -> Arc<LowRank> {
    let (rows, cols, r) = (t.rows, t.cols, t.r);
    let key = pop.key(t.param, stream);
    let mut data = vec![0.0f32; (rows + cols) * r];
    if r == 1 {
        // Rank 1: the stream's layout is already Bᵀ then Aᵀ.
        fill_normals(key, 0, 1.0, &mut data);
    } else {
        let mut z = vec![0.0f32; (rows + cols) * r];
        fill_normals(key, 0, 1.0, &mut z);
        let (b, a) = z.split_at(cols * r);
        let (bt, at) = data.split_at_mut(cols * r);
        for (m, n, out) in [(b, cols, bt), (a, rows, at)] {
            for i in 0..n {
                for j in 0..r {
                    out[j * n + i] = m[i * r + j];
                }
            }
        }
    }
    Arc::new(LowRank {
        data,
        split: cols * r,
    })
}

impl Table {
    /// Stream `stream`'s low-rank factors: `B` (`cols × r`) is the first `cols·r` elements of
    /// the stream and `A` (`rows × r`) the next `rows·r` (the reference's `Z[:b]`, `Z[b:]`),
    /// returned transposed.
    pub fn low_rank(&self, pop: &Population, stream: u32) -> Arc<LowRank> {
        let Some(slot) = self.low_rank.get(stream as usize) else {
            return make_low_rank(pop, self, stream);
        };
        slot.get_or_init(|| make_low_rank(pop, self, stream))
            .clone()
    }

    /// Stream `stream`'s whole vector noise `ε` (length `rows`).
    pub fn vector(&self, pop: &Population, stream: u32) -> Arc<Vec<f32>> {
        let make = || {
            let mut v = vec![0.0f32; self.rows];
            fill_normals(pop.key(self.param, stream), 0, 1.0, &mut v);
            Arc::new(v)
        };
        let Some(slot) = self.vector.get(stream as usize) else {
            return make();
        };
        slot.get_or_init(make).clone()
    }
}

/// Stream `stream`'s low-rank factors of a `rows × cols` matrix of rank `r` (see
/// [`Table::low_rank`]).
pub fn low_rank_factors(
    pop: &Population,
    param: u32,
    stream: u32,
    rows: usize,
    cols: usize,
    r: usize,
) -> Arc<LowRank> {
    table(pop, param, rows, cols, r.max(1)).low_rank(pop, stream)
}

/// The whole vector noise `ε` (length `len`) of stream `stream` of parameter `param`.
pub fn vector_noise(pop: &Population, param: u32, stream: u32, len: usize) -> Arc<Vec<f32>> {
    table(pop, param, len, 0, 0).vector(pop, stream)
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
    use crate::population::NoiseKind;

    #[test]
    fn cached_factors_equal_the_stream() {
        let pop = Population {
            seed: 77,
            epoch: 1,
            size: 4,
            sigma: 0.1,
            kind: NoiseKind::LowRank { rank: 3 },
            antithetic: true,
        };
        for _ in 0..2 {
            let f = low_rank_factors(&pop, 5, 1, 4, 6, 3);
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
            let v = vector_noise(&pop, 6, 1, 5);
            assert_eq!(v[4], normal_at(pop.key(6, 1), 4));
        }
    }
}
