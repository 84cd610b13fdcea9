//! The crate's public API as its callers use it: rendering every topic for every medium, template
//! overrides, and snapshots of a few texts.

mod render;
