//! Benchmarks behind `eggroll bench NAME`: figures measured in one run, as ratios.

pub mod lowrank;
pub mod peak;
pub mod rl;
