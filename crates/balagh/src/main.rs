//! Temporary entry point while the CLI is assembled (replaced by the real one).
mod bench;
mod demo;
fn main() {}
