//! Shared helpers for the EGG integration tests: a small generated corpus.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

/// A few kilobytes of repetitive English-like text built from a fixed word list by a hash.
pub fn tiny_text(len: usize) -> Vec<u8> {
    let words = [
        "the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog ", "ran ", "to ", "her ",
        "house. ",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0u32;
    while out.len() < len {
        let w = words[(eggroll_core::noise::hash32(i) % words.len() as u32) as usize];
        out.extend_from_slice(w.as_bytes());
        if i % 37 == 36 {
            out.push(b'\n');
        }
        i += 1;
    }
    out.truncate(len);
    out
}
