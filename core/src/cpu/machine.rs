//! What a benchmark states about the machine it ran on: the CPU's model name and the vector
//! features eggroll's kernels select at run time (float: AVX-512F / AVX2 + FMA; int8: AVX-VNNI,
//! AVX-512 VNNI or AVX2).

/// The CPU's model name (`/proc/cpuinfo`, else the architecture) and, in brackets, the
/// run-time-selected vector features this CPU has.
pub fn cpu_description() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let features = vector_features();
    if features.is_empty() {
        model
    } else {
        format!("{model} [{}]", features.join(", "))
    }
}

/// The vector features among those eggroll's kernels select at run time that this CPU has.
pub fn vector_features() -> Vec<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        [
            ("avx512f", has!("avx512f")),
            ("avx2", has!("avx2")),
            ("fma", has!("fma")),
            ("avx512vnni", has!("avx512vnni")),
            ("avxvnni", has!("avxvnni")),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_names_the_features_found() {
        let d = cpu_description();
        assert!(!d.is_empty());
        for f in vector_features() {
            assert!(d.contains(f), "{f} missing from {d}");
        }
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            vector_features().contains(&"avx2"),
            std::arch::is_x86_feature_detected!("avx2")
        );
    }
}
