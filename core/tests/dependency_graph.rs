//! The architecture rule "backend and library crates depend on `eggroll-core` only": the
//! `[dependencies]` of shaders, cubecl-kernels, populations, rl-envs and llm name no workspace
//! crate (`eggroll-*`) other than `eggroll-core`. Read from their `Cargo.toml` files.

#![allow(clippy::unwrap_used)]

use std::path::Path;

/// The crates the rule covers, by directory under the workspace root.
const CORE_ONLY: [&str; 5] = ["shaders", "cubecl-kernels", "populations", "rl-envs", "llm"];

/// The `eggroll-*` keys of a manifest's `[dependencies]` other than `eggroll-core`.
fn forbidden_deps(manifest: &str) -> Vec<String> {
    let doc: toml::Table = toml::from_str(manifest).unwrap();
    let Some(deps) = doc.get("dependencies").and_then(|d| d.as_table()) else {
        return Vec::new();
    };
    deps.keys()
        .filter(|k| k.starts_with("eggroll-") && k.as_str() != "eggroll-core")
        .cloned()
        .collect()
}

#[test]
fn library_crates_depend_on_core_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in CORE_ONLY {
        let path = root.join(dir).join("Cargo.toml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let bad = forbidden_deps(&text);
        assert!(
            bad.is_empty(),
            "{dir} depends on {bad:?}: backend and library crates depend on eggroll-core only"
        );
    }
}

#[test]
fn the_check_sees_forbidden_deps() {
    let manifest =
        "[dependencies]\neggroll-core.workspace = true\neggroll-llm = { path = \"x\" }\n\
                    [dev-dependencies]\neggroll-populations.workspace = true\n";
    assert_eq!(forbidden_deps(manifest), vec!["eggroll-llm".to_string()]);
}
