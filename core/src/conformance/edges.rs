//! Conformance checks of edge cases: the noise counter wrapping at 2^32, empty batches, and
//! clear errors for bad shapes, member ranges (grouped and tagged rows) and optimiser state.

use super::deterministic_values;
use crate::backend::{Backend, LinearLayer};
use crate::noise::{normal_at, StreamKey};
use crate::optim::OptimStep;
use crate::population::{NoiseKind, Population, PopulationParams, RowOwners};

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Edge cases every backend handles like the CPU.
pub fn check_edge_cases<B: Backend>(backend: &B) -> Result<(), String> {
    // The element counter wraps around 2^32 exactly as the CPU stream does.
    let key = StreamKey::new(42, 1, 2, 3);
    let start = u32::MAX - 9;
    let got = backend
        .normals(key, start, 30)
        .and_then(|b| backend.download(&b))
        .map_err(err)?;
    for (j, v) in got.iter().enumerate() {
        if v.to_bits() != normal_at(key, start.wrapping_add(j as u32)).to_bits() {
            return Err(format!("noise element {j} after the counter wraps"));
        }
    }
    // Empty buffers and batches.
    let empty = backend.upload(&[]).map_err(err)?;
    if !backend.download(&empty).map_err(err)?.is_empty() {
        return Err("an empty upload did not download empty".into());
    }
    let w = backend.upload(&deterministic_values(6, 1)).map_err(err)?;
    let layer = LinearLayer {
        weight: &w,
        rows: None,
        weight_id: 0,
        out_dim: 2,
        in_dim: 3,
        bias: None,
    };
    let y = backend
        .linear(&empty, 0, &layer, RowOwners::Plain)
        .map_err(err)?;
    if !backend.download(&y).map_err(err)?.is_empty() {
        return Err("an empty batch gave a non-empty output".into());
    }
    // Clear errors naming the problem.
    let x = backend.upload(&deterministic_values(9, 2)).map_err(err)?;
    let p = Population::new(PopulationParams {
        seed: 1,
        epoch: 0,
        size: 2,
        sigma: 0.1,
        kind: NoiseKind::LowRank { rank: 1 },
        antithetic: true,
    })
    .map_err(err)?;
    let expect_err = |r: crate::Result<B::Buffer>, needle: &str| -> Result<(), String> {
        match r {
            Ok(_) => Err(format!("expected an error mentioning `{needle}`")),
            Err(e) if e.to_string().contains(needle) => Ok(()),
            Err(e) => Err(format!("error `{e}` does not mention `{needle}`")),
        }
    };
    expect_err(
        backend.linear(&x, 4, &layer, RowOwners::Plain),
        "linear input",
    )?;
    let grouped = |first_member, rows_per_member| RowOwners::Grouped {
        pop: &p,
        first_member,
        rows_per_member,
    };
    expect_err(backend.linear(&x, 3, &layer, grouped(0, 1)), "exceed")?;
    expect_err(
        backend.linear(&x, 3, &layer, grouped(0, 2)),
        "rows_per_member",
    )?;
    let tagged = |members| RowOwners::Tagged { pop: &p, members };
    expect_err(
        backend.linear(&x, 3, &layer, tagged(&[0, 1, 2])),
        "outside the population",
    )?;
    expect_err(
        backend.linear(&x, 3, &layer, tagged(&[0, 1])),
        "row members",
    )?;
    // Adam without its two state buffers is refused.
    let mut param = backend.upload(&[1.0, 2.0]).map_err(err)?;
    let grad = backend.upload(&[0.1, 0.2]).map_err(err)?;
    let step = OptimStep::Adam {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        bias1: 0.1,
        bias2: 0.001,
    };
    if backend
        .optimizer_step(&mut param, &grad, &mut [], &step)
        .is_ok()
    {
        return Err("Adam without state buffers was accepted".into());
    }
    Ok(())
}
