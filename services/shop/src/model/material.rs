//! What each printing material weighs, costs and how fast it prints, kept in ONE table
//! ([`props`]) so density, print rate and price never drift apart. The material *codes* are
//! the shared [`Material`] of the contracts, so Shop, CRM and MES accept the same list.

pub use printflow_contracts::Material;

/// Per-material constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaterialProps {
    /// Density in g/cm³ (grams = volume cm³ x density).
    pub density_g_per_cm3: f64,
    /// Deposition rate of our printers in cm³ per hour.
    pub rate_cm3_per_hour: f64,
    /// Material price in cents per gram.
    pub price_cents_per_gram: f64,
}

/// Fixed set-up time of every print job (heating, levelling), seconds.
pub const PRINT_SETUP_SECONDS: f64 = 300.0;

/// The material table.
pub fn props(material: Material) -> MaterialProps {
    let (density_g_per_cm3, rate_cm3_per_hour, price_cents_per_gram) = match material {
        Material::Pla => (1.24, 20.0, 2.5),
        Material::Petg => (1.27, 18.0, 2.8),
        Material::Abs => (1.04, 18.0, 2.6),
        Material::Tpu => (1.21, 10.0, 5.0),
        Material::Resin => (1.15, 30.0, 7.0),
    };
    MaterialProps {
        density_g_per_cm3,
        rate_cm3_per_hour,
        price_cents_per_gram,
    }
}

/// What a part of a given volume costs in material and time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaterialEstimate {
    /// Material used, grams.
    pub grams: f64,
    /// Estimated print time including set-up, whole seconds (rounded up).
    pub print_seconds: i64,
    /// Material cost, cents (rounded to the nearest cent).
    pub cost_cents: i64,
}

/// Wall thickness printed solid (three 0.4 mm perimeters).
pub const SHELL_MM: f64 = 1.2;
/// Share of the interior that is printed (a common infill density).
pub const INFILL: f64 = 0.15;

/// Volume actually deposited for a part: a solid shell of [`SHELL_MM`] under its surface plus
/// [`INFILL`] of the rest. Printers do not print parts solid, and estimating as if they did
/// would make large parts cost and take several times what they really do.
pub fn printed_volume_mm3(volume_mm3: f64, surface_area_mm2: f64) -> f64 {
    let shell = (surface_area_mm2 * SHELL_MM).min(volume_mm3);
    shell + INFILL * (volume_mm3 - shell)
}

/// Estimates material, time and cost for a part of `volume_mm3` with `surface_area_mm2`.
pub fn estimate(material: Material, volume_mm3: f64, surface_area_mm2: f64) -> MaterialEstimate {
    let props = props(material);
    let printed_cm3 = printed_volume_mm3(volume_mm3, surface_area_mm2) / 1000.0;
    let grams = printed_cm3 * props.density_g_per_cm3;
    let seconds = PRINT_SETUP_SECONDS + printed_cm3 / props.rate_cm3_per_hour * 3600.0;
    MaterialEstimate {
        grams,
        print_seconds: seconds.ceil() as i64,
        cost_cents: (grams * props.price_cents_per_gram).round() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_follows_the_table() {
        // A thin part (shell thicker than the part) prints solid: 10 cm³ of PLA with a large
        // surface is 12.4 g, 300 s + 10/20 h = 2100 s, 12.4 g x 2.5 c/g = 31 c.
        let e = estimate(Material::Pla, 10_000.0, 1e6);
        assert!((e.grams - 12.4).abs() < 1e-9);
        assert_eq!(e.print_seconds, 300 + 1800);
        assert_eq!(e.cost_cents, 31);
        // Resin prints faster than TPU.
        assert!(
            estimate(Material::Resin, 10_000.0, 1e6).print_seconds
                < estimate(Material::Tpu, 10_000.0, 1e6).print_seconds
        );
    }

    #[test]
    fn a_bulky_part_is_shell_plus_infill() {
        // 100 mm cube: 1,000 cm³, 60,000 mm² surface -> 72 cm³ shell + 15% of 928 cm³.
        let printed = printed_volume_mm3(1e6, 6e4);
        assert!((printed - (72_000.0 + 0.15 * 928_000.0)).abs() < 1e-6);
        assert!(printed < 1e6 / 4.0, "far less than solid");
    }
}
