//! The wgpu backend (being built).
