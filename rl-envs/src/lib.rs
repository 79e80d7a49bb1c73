//! Batched RL environments (being built).
