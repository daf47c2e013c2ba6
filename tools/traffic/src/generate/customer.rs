//! Synthetic customers and order choices.
//!
//! Customers come from a fixed pool so that some of them come back, as real ones do (CRM
//! matches customers by e-mail). Everything about a customer is derived from their number, so
//! the same address always carries the same name and phone and CRM never sees one address
//! under two names. Addresses use the reserved `example.test` domain and phones the fictional
//! 555-01xx range: nothing here can reach a real person.

use crate::shop::types::CustomerBody;
use printflow_contracts::messages::Shipping;
use rand::Rng;

/// Number of distinct synthetic customers.
pub const CUSTOMER_POOL: u32 = 500;

const FIRST_NAMES: [&str; 8] = [
    "Alex", "Sam", "Robin", "Kim", "Jordan", "Taylor", "Morgan", "Casey",
];
const LAST_NAMES: [&str; 6] = ["Demo", "Sample", "Tester", "Example", "Mock", "Trial"];

/// The synthetic customer number `n` (1..=[`CUSTOMER_POOL`]).
pub fn customer(n: u32) -> CustomerBody {
    let first = FIRST_NAMES[n as usize % FIRST_NAMES.len()];
    let last = LAST_NAMES[(n as usize / FIRST_NAMES.len()) % LAST_NAMES.len()];
    CustomerBody {
        name: format!("{first} {last} {n}"),
        email: format!("customer-{n}@example.test"),
        // A third of customers leave the optional phone out, so both forms are exercised.
        phone: (!n.is_multiple_of(3)).then(|| format!("+1 555 01{:02}", n % 100)),
    }
}

/// A customer drawn from the pool.
pub fn random_customer<R: Rng + ?Sized>(rng: &mut R) -> CustomerBody {
    customer(rng.random_range(1..=CUSTOMER_POOL))
}

/// Parts ordered: mostly one, sometimes two or three.
pub fn random_quantity<R: Rng + ?Sized>(rng: &mut R) -> i32 {
    match rng.random_range(0..10) {
        0..=5 => 1,
        6..=8 => 2,
        _ => 3,
    }
}

/// Delivery choice: mostly standard.
pub fn random_shipping<R: Rng + ?Sized>(rng: &mut R) -> Shipping {
    match rng.random_range(0..20) {
        0..=11 => Shipping::Standard,
        12..=16 => Shipping::Express,
        _ => Shipping::Pickup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn a_customer_number_always_gives_the_same_customer() {
        assert_eq!(customer(42), customer(42));
        assert_eq!(customer(42).email, "customer-42@example.test");
        assert!(customer(42).name.ends_with(" 42"));
        assert_ne!(customer(42).email, customer(43).email);
    }

    #[test]
    fn addresses_and_phones_are_reserved_for_tests() {
        for n in 1..=CUSTOMER_POOL {
            let c = customer(n);
            assert!(c.email.ends_with("@example.test"), "{}", c.email);
            assert!(!c.name.trim().is_empty() && c.name.len() <= 200);
            if let Some(phone) = &c.phone {
                assert!(phone.starts_with("+1 555 01"), "{phone}");
            }
        }
        assert!((1..=CUSTOMER_POOL).any(|n| customer(n).phone.is_none()));
    }

    #[test]
    fn random_customers_come_from_the_pool_and_repeat() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let c = random_customer(&mut rng);
            let n: u32 = c
                .email
                .strip_prefix("customer-")
                .and_then(|rest| rest.strip_suffix("@example.test"))
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=CUSTOMER_POOL).contains(&n));
            seen.insert(n);
        }
        assert!(seen.len() < 2000, "customers should come back");
    }

    #[test]
    fn quantities_and_shipping_cover_every_choice() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut quantities: HashMap<i32, usize> = HashMap::new();
        let mut shipping = HashSet::new();
        for _ in 0..5000 {
            *quantities.entry(random_quantity(&mut rng)).or_default() += 1;
            shipping.insert(random_shipping(&mut rng).as_str());
        }
        assert_eq!(
            quantities.keys().copied().collect::<HashSet<_>>(),
            [1, 2, 3].into()
        );
        assert!(quantities[&1] > quantities[&2] && quantities[&2] > quantities[&3]);
        assert_eq!(shipping, ["standard", "express", "pickup"].into());
    }
}
