//! One file per strategy: the noise strategies (`eggroll`, `open_es`, `eggroll_sign`,
//! `eggroll_baseline`) that perturb a model with the backend's noise, and the search strategies that keep a distribution of their own
//! over a host-side vector (see [`crate::search`]).

pub mod cem;
pub mod cma_es;
pub mod eggroll;
pub mod eggroll_baseline;
pub mod eggroll_sign;
pub mod ga;
pub mod open_es;
pub mod pgpe;
pub mod sep_cma_es;
pub mod snes;
pub mod xnes;
