//! One file per strategy.

pub mod eggroll;
pub mod open_es;
