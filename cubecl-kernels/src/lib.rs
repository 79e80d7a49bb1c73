//! The cubecl backend (being built).
