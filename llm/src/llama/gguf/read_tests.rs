//! The reader against files written by [`GgufWriter`], intact and damaged.

use super::*;

fn path() -> &'static Path {
    Path::new("test.gguf")
}

/// A small file with one value of every metadata type and two tensors.
fn sample() -> GgufWriter {
    let mut w = GgufWriter::new();
    w.set("general.architecture", MetaValue::String("llama".into()))
        .set("u8", MetaValue::U8(7))
        .set("i8", MetaValue::I8(-7))
        .set("u16", MetaValue::U16(700))
        .set("i16", MetaValue::I16(-700))
        .set("u32", MetaValue::U32(70_000))
        .set("i32", MetaValue::I32(-70_000))
        .set("f32", MetaValue::F32(0.5))
        .set("bool", MetaValue::Bool(true))
        .set("u64", MetaValue::U64(1 << 40))
        .set("i64", MetaValue::I64(-(1 << 40)))
        .set("f64", MetaValue::F64(-0.25))
        .set(
            "strings",
            MetaValue::Array(vec![
                MetaValue::String("a b".into()),
                MetaValue::String("Ġc".into()),
            ]),
        )
        .set(
            "nested",
            MetaValue::Array(vec![MetaValue::Array(vec![MetaValue::I32(1)])]),
        );
    w.add_f32("a", &[2, 3], &[1., 2., 3., 4., 5., 6.]);
    w.add_f32("b", &[1], &[9.]);
    w
}

fn parse(bytes: Vec<u8>) -> Result<Gguf> {
    Gguf::from_bytes(path(), bytes)
}

fn error_of(bytes: Vec<u8>) -> String {
    parse(bytes).unwrap_err().to_string()
}

#[test]
fn every_metadata_type_and_tensors_round_trip() {
    let w = sample();
    let g = parse(w.to_bytes().unwrap()).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.alignment(), 32);
    for (k, v) in &w.metadata {
        assert_eq!(g.get(k), Some(v), "{k}");
    }
    assert_eq!(g.get_usize("u32").unwrap(), 70_000);
    assert_eq!(g.get_f64("f32").unwrap(), 0.5);
    assert_eq!(g.get_str_array("strings").unwrap(), ["a b", "Ġc"]);
    let a = g.tensor("a").unwrap();
    assert_eq!((a.dims.as_slice(), a.shape()), (&[3u64, 2][..], vec![2, 3]));
    assert_eq!(a.offset, 0);
    assert_eq!(
        g.tensor("b").unwrap().offset,
        32,
        "the second tensor is aligned"
    );
    assert_eq!(g.tensor_f32("a").unwrap(), [1., 2., 3., 4., 5., 6.]);
    assert_eq!(g.tensor_f32("b").unwrap(), [9.]);
}

#[test]
fn general_alignment_is_honoured() {
    let mut w = sample();
    w.set("general.alignment", MetaValue::U32(64));
    let bytes = w.to_bytes().unwrap();
    let g = parse(bytes).unwrap();
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.tensor("b").unwrap().offset, 64);
    assert_eq!(g.data_start % 64, 0);
    assert_eq!(g.tensor_f32("b").unwrap(), [9.]);
}

#[test]
fn typed_getters_name_the_key() {
    let g = parse(sample().to_bytes().unwrap()).unwrap();
    let e = g.get_usize("missing.key").unwrap_err().to_string();
    assert_eq!(e, "model file test.gguf: metadata `missing.key` is missing");
    let e = g.get_str("u8").unwrap_err().to_string();
    assert!(
        e.contains("metadata `u8` is a u8, expected a string"),
        "{e}"
    );
    let e = g.get_usize("i8").unwrap_err().to_string();
    assert!(e.contains("`i8` = -7 is not a valid count"), "{e}");
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let bytes = sample().to_bytes().unwrap();
    for cut in 0..bytes.len() {
        let e = error_of(bytes[..cut].to_vec());
        assert!(e.starts_with("model file test.gguf: "), "cut {cut}: {e}");
        assert!(
            e.contains("truncated") || e.contains("past the end"),
            "cut {cut}: {e}"
        );
    }
}

#[test]
fn truncated_data_names_the_tensor() {
    let bytes = sample().to_bytes().unwrap();
    let e = error_of(bytes[..bytes.len() - 1].to_vec());
    assert!(
        e.contains("tensor `b` (4 bytes at data offset 32) runs past the end"),
        "{e}"
    );
}

#[test]
fn wrong_magic_and_version() {
    let mut bytes = sample().to_bytes().unwrap();
    bytes[0] = b'X';
    assert!(error_of(bytes).contains("not a GGUF file"));
    let mut bytes = sample().to_bytes().unwrap();
    bytes[4] = 1;
    assert!(error_of(bytes).contains("GGUF version 1 is not supported"));
    let mut bytes = sample().to_bytes().unwrap();
    bytes[4] = 2;
    assert_eq!(parse(bytes).unwrap().version(), 2, "v2 has v3's layout");
}

#[test]
fn unknown_tensor_type_and_unsupported_dequantisation() {
    let mut w = GgufWriter::new();
    w.add_raw("x", vec![32], GgmlType::Q8_0, vec![0; 34]);
    let mut bytes = w.to_bytes().unwrap();
    // Header (24 bytes), then the entry: name length (8), "x", n_dims (4), one dim (8), type.
    let type_at = 24 + 8 + 1 + 4 + 8;
    assert_eq!(&bytes[type_at..type_at + 4], &8u32.to_le_bytes());
    bytes[type_at] = 99;
    assert!(error_of(bytes).contains("tensor `x` has unknown ggml type id 99"));
    // Q5_K (13) is sized, so the table loads, but dequantising it is refused.
    let mut w = GgufWriter::new();
    w.add_raw("k5", vec![256], GgmlType::Q5K, vec![0; 176]);
    let g = parse(w.to_bytes().unwrap()).unwrap();
    let e = g.tensor_f32("k5").unwrap_err().to_string();
    assert!(e.contains("tensor `k5`: type Q5_K is not supported"), "{e}");
}

#[test]
fn tensor_data_past_the_end_is_refused() {
    let mut w = GgufWriter::new();
    // Claims 64 f32 (256 bytes) but stores 4.
    w.add_raw("big", vec![64], GgmlType::F32, vec![0; 4]);
    let e = error_of(w.to_bytes().unwrap());
    assert!(
        e.contains("tensor `big` (256 bytes at data offset 0) runs past the end"),
        "{e}"
    );
}

#[test]
fn bad_shapes_in_the_table() {
    let mut w = GgufWriter::new();
    w.add_raw("q", vec![33], GgmlType::Q8_0, vec![0; 34]);
    let e = error_of(w.to_bytes().unwrap());
    assert!(
        e.contains(
            "tensor `q` of type Q8_0 has a row of 33 values, not a multiple of its block of 32"
        ),
        "{e}"
    );
    let mut w = GgufWriter::new();
    w.add_raw("huge", vec![1 << 32, 1 << 32], GgmlType::F32, vec![]);
    assert!(error_of(w.to_bytes().unwrap()).contains("tensor `huge` has absurd dimensions"));
    let mut w = GgufWriter::new();
    w.add_raw("five", vec![1; 5], GgmlType::F32, vec![0; 4]);
    assert!(error_of(w.to_bytes().unwrap()).contains("tensor `five` has 5 dimensions"));
}

#[test]
fn duplicate_names_and_corrupt_counts() {
    let mut w = GgufWriter::new();
    w.add_f32("t", &[1], &[1.]).add_f32("t", &[1], &[2.]);
    assert!(error_of(w.to_bytes().unwrap()).contains("tensor `t` appears twice"));
    // A metadata array claiming 2^40 elements must fail without reserving memory for them.
    let mut w = GgufWriter::new();
    w.set("arr", MetaValue::Array(vec![MetaValue::U8(1)]));
    let mut bytes = w.to_bytes().unwrap();
    let len_at = 24 + 8 + 3 + 4 + 4; // header, key length, "arr", value type, element type
    bytes[len_at..len_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let e = error_of(bytes);
    assert!(
        e.contains("metadata `arr` claims 1099511627776 elements"),
        "{e}"
    );
}

#[test]
fn misaligned_offsets_are_refused() {
    let mut w = GgufWriter::new();
    w.add_f32("a", &[1], &[1.]).add_f32("b", &[1], &[2.]);
    let mut bytes = w.to_bytes().unwrap();
    // Header 24 bytes; each entry: name length 8, name 1, n_dims 4, one dim 8, type 4, offset 8.
    let b_offset_at = 24 + 33 + 8 + 1 + 4 + 8 + 4;
    assert_eq!(&bytes[b_offset_at..b_offset_at + 8], &32u64.to_le_bytes());
    bytes[b_offset_at] = 4;
    let e = error_of(bytes);
    assert!(
        e.contains("tensor `b` starts at data offset 4, not a multiple of the alignment 32"),
        "{e}"
    );
}
