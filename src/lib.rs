//! eggroll
