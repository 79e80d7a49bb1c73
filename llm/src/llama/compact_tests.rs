//! The compact decode path against the f32 one: same logits bit for bit, and a matrix whose
//! f32 values changed is never read from its blocks.

use super::*;
use crate::llama::forward::{Logits, SeqOwners};
use crate::llama::generate::{decode, GreedyOptions};
use crate::llama::gguf::dequantize;
use crate::llama::test_model::tiny;
use crate::llama::tiny::TinySpec;
use crate::llama::Llama;
use eggroll_core::cpu::Cpu;

/// Random blocks of `ty` for `rows × cols` values (scales small, so the model stays sane).
fn blocks(ty: GgmlType, rows: usize, cols: usize, salt: u32) -> Vec<u8> {
    let (bb, n) = (ty.block_bytes(), rows * cols / BLOCK);
    let mut out = Vec::with_capacity(n * bb);
    for i in 0..n {
        let mut b: Vec<u8> = (0..bb)
            .map(|j| {
                eggroll_core::noise::hash32((i * bb + j) as u32 ^ salt.wrapping_mul(0x9e37_79b9))
                    as u8
            })
            .collect();
        let d = half::f16::from_f32(0.02 + 0.001 * (i % 7) as f32).to_bits();
        b[..2].copy_from_slice(&d.to_le_bytes());
        if ty == GgmlType::Q4_1 {
            let m = half::f16::from_f32(-0.15).to_bits();
            b[2..4].copy_from_slice(&m.to_le_bytes());
        }
        out.extend(b);
    }
    out
}

/// A tiny model (inputs of 64 and 128, wide enough for the unpacked decode GEMM) whose
/// projections are Q4_1 blocks and whose tied head is Q8_0, f32 weights dequantised from them.
fn quantised_model() -> Llama {
    let mut m = Llama::from_gguf(&tiny(&TinySpec {
        d_model: 64,
        n_heads: 4,
        n_kv_heads: 2,
        ffn_dim: 128,
        tied: true,
        ..TinySpec::default()
    }))
    .unwrap();
    let w = &mut m.weights;
    let mut compact = CompactWeights::default();
    let mut put = |ty: GgmlType, id: u32, rows: usize, cols: usize, data: &mut Vec<f32>| {
        let b = blocks(ty, rows, cols, id);
        dequantize(ty, &b, data).unwrap();
        compact.insert(id, CompactMatrix::new(ty, rows, cols, b).unwrap());
    };
    for (info, data) in w.proj_info.iter().zip(w.proj_data.iter_mut()) {
        put(GgmlType::Q4_1, info.id, info.rows, info.cols, data);
    }
    let e = &mut w.embed;
    put(GgmlType::Q8_0, e.id, e.rows, e.cols, &mut e.data);
    w.compact = compact;
    m
}

/// Logits of a prefill and three decode steps of `prompts`, with or without the blocks.
fn logits(m: &Llama, prompts: &[Vec<u32>], compact: &FreshCompact) -> Vec<Vec<f32>> {
    let cpu = Cpu::new();
    let mut caches: Vec<_> = prompts.iter().map(|_| m.new_cache()).collect();
    let mut inputs: Vec<Vec<u32>> = prompts.to_vec();
    let mut all = Vec::new();
    for step in 0..4u32 {
        let refs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
        let out = m
            .forward_with(
                &cpu,
                &mut caches,
                &refs,
                Logits::Last,
                SeqOwners::Plain,
                compact,
            )
            .unwrap();
        inputs = (0..prompts.len())
            .map(|s| vec![(s as u32 * 7 + step * 3 + 5) % 200])
            .collect();
        all.extend(out);
    }
    all
}

fn prompts() -> Vec<Vec<u32>> {
    (0..6u32)
        .map(|s| (0..3 + s).map(|i| (s * 31 + i * 17 + 1) % 200).collect())
        .collect()
}

#[test]
fn blocks_give_the_f32_weights_logits_bit_for_bit() {
    let m = quantised_model();
    let fresh = m.weights.compact.fresh(&m.weights);
    // Every projection (2 blocks × 7) and the tied head.
    assert_eq!(fresh.len(), 15);
    let ps = prompts();
    let with = logits(&m, &ps, &fresh);
    let without = logits(&m, &ps, &FreshCompact::default());
    assert_eq!(with.len(), without.len());
    for (s, (a, b)) in with.iter().zip(&without).enumerate() {
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "row {s} of the logits differs"
        );
    }
}

#[test]
fn a_changed_matrix_is_read_from_its_f32_values() {
    let mut m = quantised_model();
    let reference = {
        let mut plain = m.clone();
        plain.weights.compact = CompactWeights::default();
        plain
    };
    // One value of one projection changes (as an ES update or a merged adapter would), and
    // the embedding (the head) too.
    m.weights.proj_data[3][17] += 0.25;
    m.weights.embed.data[100] = -m.weights.embed.data[100] - 0.5;
    let mut reference = reference;
    reference.weights.proj_data[3][17] = m.weights.proj_data[3][17];
    reference.weights.embed.data[100] = m.weights.embed.data[100];
    assert_eq!(m.weights.compact.fresh(&m.weights).len(), 13);
    let opts = GreedyOptions {
        max_new_tokens: 6,
        stop_tokens: vec![],
    };
    let ps = prompts();
    let cpu = Cpu::new();
    let pick = |s: usize, _: usize, l: &[f32]| crate::llama::generate::argmax(l, s);
    let got = decode(&m, &cpu, &ps, SeqOwners::Plain, &opts, &pick).unwrap();
    let want = decode(&reference, &cpu, &ps, SeqOwners::Plain, &opts, &pick).unwrap();
    assert_eq!(got, want);
    // And the logits, bit for bit (the stale blocks would change them).
    let fresh = m.weights.compact.fresh(&m.weights);
    let with = logits(&m, &ps, &fresh);
    let without = logits(&reference, &ps, &FreshCompact::default());
    assert!(with
        .iter()
        .flatten()
        .zip(without.iter().flatten())
        .all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn only_whole_rows_of_kept_types_are_kept() {
    let b = blocks(GgmlType::Q4_1, 2, 64, 1);
    assert!(CompactMatrix::new(GgmlType::Q4_1, 2, 64, b.clone()).is_some());
    // Rows of 48 values split blocks; a wrong byte count; a type not kept compact.
    assert!(CompactMatrix::new(GgmlType::Q4_1, 2, 48, b[..60].to_vec()).is_none());
    assert!(CompactMatrix::new(GgmlType::Q4_1, 2, 64, b[..79].to_vec()).is_none());
    assert!(CompactMatrix::new(GgmlType::F16, 2, 64, vec![0; 256]).is_none());
}
