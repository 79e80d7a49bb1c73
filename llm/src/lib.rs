//! Integer-only recurrent language models (being built).
