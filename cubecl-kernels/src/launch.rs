//! Launch geometry: 32-bit sizes, 1D ranges folded into 2D grids of cubes, GEMM tile grids.

use crate::device::Cubecl;
use crate::error::{CubeclError, Result};
use crate::kernels::gemm::TILE;
use cubecl::prelude::{CubeCount, CubeDim};

/// Convert a size to the `u32` the kernels index with, or explain the limit.
pub(crate) fn to_u32(what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| CubeclError::TooLarge {
        what: what.into(),
        needed: v as u64,
        limit: u32::MAX as u64,
    })
}

/// `groups` cubes folded into `[x, y]` with at most `max` per dimension (kernels rebuild the
/// linear index as `y·count_x + x`; extra cubes exit at their bounds check).
pub(crate) fn fold(what: &str, groups: u64, max: u32) -> Result<[u32; 2]> {
    let max = max as u64;
    if groups <= max {
        return Ok([groups as u32, 1]);
    }
    let rows = groups.div_ceil(max);
    if rows > max {
        return Err(CubeclError::TooLarge {
            what: format!("{what} (cubes)"),
            needed: groups,
            limit: max * max,
        });
    }
    Ok([max as u32, rows as u32])
}

impl Cubecl {
    /// Cubes of `dim` units covering `threads` units, or `None` for an empty range.
    pub(crate) fn grid_1d(
        &self,
        what: &str,
        threads: usize,
        dim: u32,
    ) -> Result<Option<(CubeCount, CubeDim)>> {
        self.grid_cubes(what, (threads as u64).div_ceil(dim as u64), dim)
    }

    /// `groups` cubes of `dim` units, or `None` when there are none.
    pub(crate) fn grid_cubes(
        &self,
        what: &str,
        groups: u64,
        dim: u32,
    ) -> Result<Option<(CubeCount, CubeDim)>> {
        if groups == 0 {
            return Ok(None);
        }
        let [x, y] = fold(what, groups, self.max_cubes())?;
        Ok(Some((CubeCount::Static(x, y, 1), CubeDim::new_1d(dim))))
    }

    /// The grid of 64×64 output tiles (16×16 units each) of an `m × n` GEMM.
    pub(crate) fn gemm_grid(
        &self,
        what: &str,
        m: usize,
        n: usize,
    ) -> Result<Option<(CubeCount, CubeDim)>> {
        let (x, y) = (n.div_ceil(TILE as usize), m.div_ceil(TILE as usize));
        if x == 0 || y == 0 {
            return Ok(None);
        }
        let max = self.max_cubes() as usize;
        for v in [x, y] {
            if v > max {
                return Err(CubeclError::TooLarge {
                    what: format!("{what} (GEMM tiles per dimension)"),
                    needed: v as u64,
                    limit: max as u64,
                });
            }
        }
        let units = crate::kernels::gemm::TILE_UNITS;
        Ok(Some((
            CubeCount::Static(x as u32, y as u32, 1),
            CubeDim::new_2d(units, units),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_covers_every_group() {
        assert_eq!(fold("x", 5, 65535).unwrap(), [5, 1]);
        let [x, y] = fold("x", 70_000, 65535).unwrap();
        assert!(x as u64 * y as u64 >= 70_000);
        assert!(fold("x", u64::MAX, 65535).is_err());
    }

    #[test]
    fn sizes_beyond_u32_are_refused() {
        assert!(to_u32("x", 5).is_ok());
        assert!(to_u32("x", u32::MAX as usize + 1).is_err());
    }
}
