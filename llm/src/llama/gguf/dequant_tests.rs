//! Each block type against blocks whose values were worked out by hand from ggml's layouts.

use super::*;

/// f16 bit patterns used below.
const H_1: [u8; 2] = [0x00, 0x3c];
const H_HALF: [u8; 2] = [0x00, 0x38];
const H_QUARTER: [u8; 2] = [0x00, 0x34];
const H_2: [u8; 2] = [0x00, 0x40];
const H_MINUS_1: [u8; 2] = [0x00, 0xbc];

fn deq(ty: GgmlType, bytes: &[u8], n: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; n];
    dequantize(ty, bytes, &mut out).unwrap();
    out
}

#[test]
fn plain_types() {
    let mut b = Vec::new();
    b.extend(0.25f32.to_le_bytes());
    b.extend((-3.5f32).to_le_bytes());
    assert_eq!(deq(GgmlType::F32, &b, 2), [0.25, -3.5]);
    // f16 1.5 = 0x3e00, -2 = 0xc000.
    assert_eq!(
        deq(GgmlType::F16, &[0x00, 0x3e, 0x00, 0xc0], 2),
        [1.5, -2.0]
    );
    // bf16 1.0 = 0x3f80, -0.5 = 0xbf00.
    assert_eq!(
        deq(GgmlType::BF16, &[0x80, 0x3f, 0x00, 0xbf], 2),
        [1.0, -0.5]
    );
}

#[test]
fn q8_0_block_by_hand() {
    let mut b = H_HALF.to_vec();
    let q: [i8; 32] = std::array::from_fn(|i| match i {
        0 => 0,
        1 => 1,
        2 => -1,
        3 => 127,
        4 => -128,
        _ => 6,
    });
    b.extend(q.iter().map(|&v| v as u8));
    let y = deq(GgmlType::Q8_0, &b, 32);
    assert_eq!(&y[..5], &[0.0, 0.5, -0.5, 63.5, -64.0]);
    assert!(y[5..].iter().all(|&v| v == 3.0));
}

#[test]
fn q4_0_block_by_hand() {
    // d = 2; byte j = j | (15 − j) << 4, so value j = 2·(j − 8), value 16 + j = 2·(7 − j).
    let mut b = H_2.to_vec();
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let want: Vec<f32> = [
        -16., -14., -12., -10., -8., -6., -4., -2., 0., 2., 4., 6., 8., 10., 12., 14., //
        14., 12., 10., 8., 6., 4., 2., 0., -2., -4., -6., -8., -10., -12., -14., -16.,
    ]
    .to_vec();
    assert_eq!(deq(GgmlType::Q4_0, &b, 32), want);
}

#[test]
fn q4_1_block_by_hand() {
    // d = 0.5, m = −1; byte j = j | (15 − j) << 4: value j = j/2 − 1, value 16 + j = (15 − j)/2 − 1.
    let mut b = H_HALF.to_vec();
    b.extend(H_MINUS_1);
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let want: Vec<f32> = [
        -1., -0.5, 0., 0.5, 1., 1.5, 2., 2.5, 3., 3.5, 4., 4.5, 5., 5.5, 6., 6.5, //
        6.5, 6., 5.5, 5., 4.5, 4., 3.5, 3., 2.5, 2., 1.5, 1., 0.5, 0., -0.5, -1.,
    ]
    .to_vec();
    assert_eq!(deq(GgmlType::Q4_1, &b, 32), want);
}

#[test]
fn q4_k_block_by_hand() {
    // d = 1, dmin = 0.5; sub-block scales 1 2 3 4 5 17 33 63 and mins 0 1 2 3 52 36 24 14,
    // packed by hand: bytes 0–3 = scale j | (high 2 bits of scale j+4) << 6, bytes 4–7 =
    // min j | (high 2 bits of min j+4) << 6, bytes 8–11 = low 4 bits of scale j+4 | low 4
    // bits of min j+4 << 4. Scales 5 17 33 63 have high bits 0 1 2 3 (17 = 0b01_0001,
    // 33 = 0b10_0001, 63 = 0b11_1111), mins 52 36 24 14 have 3 2 1 0 (52 = 0b11_0100,
    // 36 = 0b10_0100, 24 = 0b01_1000, 14 = 0b00_1110), so mixing them up shows.
    let mut b = H_1.to_vec();
    b.extend(H_HALF);
    b.extend([
        0x01, 0x42, 0x83, 0xc4, // scales 0–3 with high bits of 4–7 (0, 1, 2, 3)
        0xc0, 0x81, 0x42, 0x03, // mins 0–3 with high bits of 4–7 (3, 2, 1, 0)
        0x45, 0x41, 0x81, 0xef, // low nibbles: (5, 4), (1, 4), (1, 8), (15, 14)
    ]);
    // Nibbles: byte l of each 32-byte group = (l % 16) | (15 − l % 16) << 4.
    for _ in 0..4 {
        b.extend((0..32u8).map(|l| (l % 16) | ((15 - l % 16) << 4)));
    }
    let y = deq(GgmlType::Q4K, &b, 256);
    // A few values worked out one by one: d·scale·q − dmin·min.
    assert_eq!(y[0], 0.0); // sub-block 0, q 0
    assert_eq!(y[1], 1.0); // 1·1 − 0
    assert_eq!(y[32], 29.5); // sub-block 1, q 15: 2·15 − 0.5·1
    assert_eq!(y[69], 14.0); // sub-block 2, q 5: 3·5 − 0.5·2
    assert_eq!(y[96], 58.5); // sub-block 3, q 15: 4·15 − 0.5·3
    assert_eq!(y[131], -11.0); // sub-block 4, q 3: 5·3 − 0.5·52
    assert_eq!(y[160], 237.0); // sub-block 5, q 15: 17·15 − 0.5·36
    assert_eq!(y[207], 483.0); // sub-block 6, q 15: 33·15 − 0.5·24
    assert_eq!(y[239], -7.0); // sub-block 7, q 0: 63·0 − 0.5·14
    assert_eq!(y[240], 938.0); // sub-block 7, q 15: 63·15 − 0.5·14
                               // And all of them.
    let scales = [1., 2., 3., 4., 5., 17., 33., 63.];
    let mins = [0., 1., 2., 3., 52., 36., 24., 14.];
    for (n, &v) in y.iter().enumerate() {
        let (s, l) = (n / 32, n % 32);
        let q = if s % 2 == 0 { l % 16 } else { 15 - l % 16 } as f32;
        assert_eq!(v, scales[s] * q - 0.5 * mins[s], "value {n}");
    }
}

/// A Q6_K block with `ql`, `qh`, scales and d given.
fn q6_k(ql: [u8; 128], qh: [u8; 64], scales: [i8; 16], d: [u8; 2]) -> Vec<u8> {
    let mut b = ql.to_vec();
    b.extend(qh);
    b.extend(scales.iter().map(|&s| s as u8));
    b.extend(d);
    b
}

#[test]
fn q6_k_scales_by_hand() {
    // Every ql byte 0x21 (low nibble 1, high 2), every qh byte 0b11_10_01_00, so in each
    // group of 32 the four 6-bit values are 1, 1 | 1<<4 = 17, 2 | 2<<4 = 34, 2 | 3<<4 = 50,
    // i.e. −31, −15, 2, 18 after the −32 offset. d = 0.25.
    let scales = [1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8];
    let b = q6_k([0x21; 128], [0xe4; 64], scales, H_QUARTER);
    let y = deq(GgmlType::Q6K, &b, 256);
    assert_eq!(y[0], -7.75); // scale 0 (1): 0.25·1·−31
    assert_eq!(y[16], 7.75); // l 16 → scale 1 (−1)
    assert_eq!(y[32], -7.5); // group 1 → scale 2 (2): 0.25·2·−15
    assert_eq!(y[64], 1.5); // group 2 → scale 4 (3): 0.25·3·2
    assert_eq!(y[116], -18.0); // group 3, l 20 → scale 7 (−4): 0.25·−4·18
    assert_eq!(y[128], -38.75); // second half → scale 8 (5): 0.25·5·−31
    assert_eq!(y[255], -36.0); // second half, group 3, l 31 → scale 15 (−8): 0.25·−8·18
}

#[test]
fn q6_k_positions_by_hand() {
    // All zero but ql[33] = 0x5a and qh[1] = 0b01_00_10_00; scales 1, d 1. Value 33
    // (group 1, l 1) = 0xa | 2<<4 = 42 → 10; value 97 (group 3, l 1) = 0x5 | 1<<4 = 21 → −11;
    // every other value is 0 − 32.
    let mut ql = [0u8; 128];
    ql[33] = 0x5a;
    let mut qh = [0u8; 64];
    qh[1] = 0x48;
    let y = deq(GgmlType::Q6K, &q6_k(ql, qh, [1; 16], H_1), 256);
    for (n, &v) in y.iter().enumerate() {
        let want = match n {
            33 => 10.0,
            97 => -11.0,
            _ => -32.0,
        };
        assert_eq!(v, want, "value {n}");
    }
}

#[test]
fn large_tensors_split_across_threads_give_the_same_values() {
    // 3000 Q4_1 blocks (more than one parallel task), each with its own d.
    let mut b = Vec::new();
    for i in 0..3000u32 {
        b.extend(half::f16::from_f32(i as f32 / 64.0).to_le_bytes());
        b.extend(H_MINUS_1);
        b.extend((0..16u8).map(|j| j.wrapping_mul(i as u8) ^ 0x5a));
    }
    let all = deq(GgmlType::Q4_1, &b, 3000 * 32);
    for (i, blk) in b.chunks(20).enumerate() {
        assert_eq!(&all[i * 32..i * 32 + 32], &deq(GgmlType::Q4_1, blk, 32)[..]);
    }
}

#[test]
fn unsupported_types_and_bad_lengths_are_refused() {
    let e = dequantize(GgmlType::Q5K, &[0; 176], &mut [0.0; 256]).unwrap_err();
    assert!(e.contains("Q5_K is not supported"), "{e}");
    let e = dequantize(GgmlType::Q8_0, &[0; 33], &mut [0.0; 32]).unwrap_err();
    assert!(
        e.contains("33 bytes of Q8_0 do not encode 32 values"),
        "{e}"
    );
}
