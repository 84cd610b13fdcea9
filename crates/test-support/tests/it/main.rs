//! Integration tests for the test helpers themselves: the real browser against a tiny local page.

mod browser;
