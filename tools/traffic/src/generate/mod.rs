//! The random parts of a journey: what a visitor searches for, how they edit a design, who
//! they are when they order. Pure functions of a random number generator, so a seeded run
//! repeats and the rules are unit-tested.

pub mod customer;
pub mod edits;
pub mod search;

/// Material codes Shop accepts.
pub const MATERIALS: [&str; 5] = ["PLA", "PETG", "ABS", "TPU", "RESIN"];
