//! The random parts of a journey: what a visitor searches for, how they edit a design, who
//! they are when they order. Pure functions of a random number generator, so a seeded run
//! repeats and the rules are unit-tested.

pub mod customer;
pub mod edits;
pub mod search;

use printflow_contracts::Material;
use rand::seq::IndexedRandom;
use rand::Rng;

/// A material code Shop accepts (the shared list of the contracts), drawn at random.
pub fn random_material<R: Rng + ?Sized>(rng: &mut R) -> &'static str {
    Material::ALL
        .choose(rng)
        .map_or(Material::Pla.as_str(), |m| m.as_str())
}
