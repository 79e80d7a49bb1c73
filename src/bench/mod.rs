//! Benchmarks behind `eggroll bench NAME`: figures measured in one run, as ratios.

pub mod fma_rate;
pub mod llm;
pub mod lowrank;
pub mod noise_cost;
pub mod peak;
pub mod rl;
pub mod strategies;
