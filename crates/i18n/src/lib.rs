//! Every user-facing string in every language Balagh serves.
