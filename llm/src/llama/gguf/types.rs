//! ggml tensor element types as GGUF stores them: id, name, block size and bytes per block.

/// A ggml element type. Every type the reader can size is listed (so a file's tensor table
/// loads whatever it holds); [`GgmlType::dequantizable`] says which of them convert to f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// 32 values: f16 scale `d`, 16 bytes of nibbles; `x = d·(q − 8)`.
    Q4_0,
    /// 32 values: f16 `d`, f16 `m`, 16 bytes of nibbles; `x = d·q + m`.
    Q4_1,
    /// 32 values, 5 bits each (not dequantised here).
    Q5_0,
    /// 32 values, 5 bits each with a minimum (not dequantised here).
    Q5_1,
    /// 32 values: f16 `d`, 32 × i8; `x = d·q`.
    Q8_0,
    /// 32 values, 8 bits with a sum (not dequantised here).
    Q8_1,
    /// 256-value super-block, 2 bits (not dequantised here).
    Q2K,
    /// 256-value super-block, 3 bits (not dequantised here).
    Q3K,
    /// 256-value super-block: f16 `d`, f16 `dmin`, 12 bytes of 6-bit scales and mins,
    /// 128 bytes of nibbles.
    Q4K,
    /// 256-value super-block, 5 bits (not dequantised here).
    Q5K,
    /// 256-value super-block: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs,
    /// 16 i8 scales, f16 `d`.
    Q6K,
    /// 256-value super-block, 8 bits (not dequantised here).
    Q8K,
    /// 8-bit integer.
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 64-bit float.
    F64,
    /// bfloat16.
    BF16,
}

impl GgmlType {
    /// The type with ggml id `id`, if the reader knows it.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        use GgmlType::*;
        Some(match id {
            0 => F32,
            1 => F16,
            2 => Q4_0,
            3 => Q4_1,
            6 => Q5_0,
            7 => Q5_1,
            8 => Q8_0,
            9 => Q8_1,
            10 => Q2K,
            11 => Q3K,
            12 => Q4K,
            13 => Q5K,
            14 => Q6K,
            15 => Q8K,
            24 => I8,
            25 => I16,
            26 => I32,
            27 => I64,
            28 => F64,
            30 => BF16,
            _ => return None,
        })
    }

    /// The ggml id written in files.
    pub fn id(self) -> u32 {
        use GgmlType::*;
        match self {
            F32 => 0,
            F16 => 1,
            Q4_0 => 2,
            Q4_1 => 3,
            Q5_0 => 6,
            Q5_1 => 7,
            Q8_0 => 8,
            Q8_1 => 9,
            Q2K => 10,
            Q3K => 11,
            Q4K => 12,
            Q5K => 13,
            Q6K => 14,
            Q8K => 15,
            I8 => 24,
            I16 => 25,
            I32 => 26,
            I64 => 27,
            F64 => 28,
            BF16 => 30,
        }
    }

    /// ggml's name of the type (`Q4_K`, `BF16`, …).
    pub fn name(self) -> &'static str {
        use GgmlType::*;
        match self {
            F32 => "F32",
            F16 => "F16",
            Q4_0 => "Q4_0",
            Q4_1 => "Q4_1",
            Q5_0 => "Q5_0",
            Q5_1 => "Q5_1",
            Q8_0 => "Q8_0",
            Q8_1 => "Q8_1",
            Q2K => "Q2_K",
            Q3K => "Q3_K",
            Q4K => "Q4_K",
            Q5K => "Q5_K",
            Q6K => "Q6_K",
            Q8K => "Q8_K",
            I8 => "I8",
            I16 => "I16",
            I32 => "I32",
            I64 => "I64",
            F64 => "F64",
            BF16 => "BF16",
        }
    }

    /// Values per block (1 for plain types).
    pub fn block_len(self) -> usize {
        use GgmlType::*;
        match self {
            F32 | F16 | BF16 | I8 | I16 | I32 | I64 | F64 => 1,
            Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q8_1 => 32,
            Q2K | Q3K | Q4K | Q5K | Q6K | Q8K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        use GgmlType::*;
        match self {
            F32 | I32 => 4,
            F16 | BF16 | I16 => 2,
            I8 => 1,
            I64 | F64 => 8,
            Q4_0 => 18,
            Q4_1 => 20,
            Q5_0 => 22,
            Q5_1 => 24,
            Q8_0 => 34,
            Q8_1 => 36,
            Q2K => 84,
            Q3K => 110,
            Q4K => 144,
            Q5K => 176,
            Q6K => 210,
            Q8K => 292,
        }
    }

    /// Whether [`crate::llama::gguf::dequantize`] converts this type to f32.
    pub fn dequantizable(self) -> bool {
        use GgmlType::*;
        matches!(self, F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_1 | Q4K | Q6K)
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_ids_are_none() {
        for id in 0..64 {
            if let Some(t) = GgmlType::from_id(id) {
                assert_eq!(t.id(), id, "{t}");
            }
        }
        assert_eq!(GgmlType::from_id(4), None, "Q4_2 was removed from ggml");
        assert_eq!(GgmlType::from_id(1000), None);
        assert_eq!(GgmlType::from_id(12), Some(GgmlType::Q4K));
    }

    #[test]
    fn block_sizes_match_ggml() {
        // Q4_K: 2 f16 + 12 scale bytes + 256/2 nibble bytes.
        assert_eq!(GgmlType::Q4K.block_bytes(), 4 + 12 + 128);
        // Q6_K: 256/2 low nibbles + 256/4 high bits + 16 scales + f16 d.
        assert_eq!(GgmlType::Q6K.block_bytes(), 128 + 64 + 16 + 2);
        assert_eq!(GgmlType::Q4_1.block_bytes(), 2 + 2 + 16);
        assert_eq!(GgmlType::Q8_0.block_bytes(), 2 + 32);
    }
}
