//! Design edits: the ordinary ones a customer makes, deliberately invalid ones that Shop must
//! refuse, and scale-ups that make a part too big for any printer.

use super::random_material;
use crate::shop::types::{EditOp, Parameters};
use rand::seq::IndexedRandom;
use rand::Rng;

/// Colours offered to customers.
pub const COLOURS: [&str; 8] = [
    "red", "black", "white", "blue", "green", "yellow", "orange", "grey",
];

/// Engravings: fixed phrases, so no customer text (possibly personal) is ever sent or logged.
pub const ENGRAVINGS: [&str; 6] = [
    "Kitchen",
    "Garage",
    "Made with printflow",
    "Spare parts",
    "Shelf 3",
    "Happy birthday",
];

/// A value no printer builds and no validation should let through.
pub const ABSURD_DIMENSION_MM: f64 = 5000.0;

/// Scale factors tried one after another to outgrow the printer. They escalate so the part
/// ends up far too big whether Shop multiplies the current scale (64x) or sets it (8x).
pub const OVERSIZE_FACTORS: [f64; 3] = [2.0, 4.0, 8.0];

/// What one edit request is meant to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditIntent {
    /// A change a customer would make; Shop must accept it.
    Valid,
    /// A change Shop must refuse with a 4xx.
    Invalid,
}

/// The edits of one design journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignPlan {
    /// Edit requests, in order.
    pub edits: Vec<EditIntent>,
    /// Whether to scale the part up until it is too big to print before saving.
    pub oversize: bool,
}

/// A design journey: one to four edits, a fifth of them invalid, and now and then a part
/// scaled beyond the printer.
pub fn random_design_plan<R: Rng + ?Sized>(rng: &mut R) -> DesignPlan {
    let count = rng.random_range(1..=4);
    DesignPlan {
        edits: (0..count)
            .map(|_| {
                if rng.random_bool(0.2) {
                    EditIntent::Invalid
                } else {
                    EditIntent::Valid
                }
            })
            .collect(),
        oversize: rng.random_bool(0.15),
    }
}

/// A purchase: the customer knows what they want, so up to two valid edits and a design that
/// saves.
pub fn purchase_plan<R: Rng + ?Sized>(rng: &mut R) -> DesignPlan {
    DesignPlan {
        edits: vec![EditIntent::Valid; rng.random_range(0..=2)],
        oversize: false,
    }
}

/// An edit request for `intent` on a design whose parameters are `current`.
pub fn edit_for<R: Rng + ?Sized>(
    rng: &mut R,
    intent: EditIntent,
    current: &Parameters,
) -> Vec<EditOp> {
    match intent {
        EditIntent::Valid => valid_edit(rng, current),
        EditIntent::Invalid => vec![invalid_op(rng, current)],
    }
}

/// One or two ordinary changes. Sizes move by -20 %..+10 % of their current value, so a
/// design that started printable stays printable.
pub fn valid_edit<R: Rng + ?Sized>(rng: &mut R, current: &Parameters) -> Vec<EditOp> {
    let count = if rng.random_bool(0.25) { 2 } else { 1 };
    (0..count).map(|_| valid_op(rng, current)).collect()
}

fn valid_op<R: Rng + ?Sized>(rng: &mut R, current: &Parameters) -> EditOp {
    let dimensions = current.dimensions();
    match rng.random_range(0..5) {
        0 if !dimensions.is_empty() => {
            let (dimension, value) = *dimensions.choose(rng).unwrap_or(&dimensions[0]);
            EditOp::SetDimension {
                dimension,
                value: nudge(value, rng.random_range(0.8..=1.1)),
            }
        }
        0 | 1 => EditOp::Scale {
            factor: (rng.random_range(0.8f64..=1.1) * 100.0).round() / 100.0,
        },
        2 => EditOp::SetMaterial {
            material: random_material(rng),
        },
        3 => EditOp::SetColour {
            colour: COLOURS.choose(rng).copied().unwrap_or("black"),
        },
        _ => EditOp::SetEngraving {
            text: ENGRAVINGS
                .choose(rng)
                .copied()
                .unwrap_or("Kitchen")
                .to_owned(),
        },
    }
}

/// `value` times `factor`, on a half-millimetre grid as a customer would type it, and never
/// shrunk below 5 mm (a part that small may be refused for a reason we did not mean to test).
pub fn nudge(value: f64, factor: f64) -> f64 {
    let target = (value * factor).max(value.min(5.0));
    let rounded = (target * 2.0).round() / 2.0;
    if rounded > 0.0 {
        rounded
    } else {
        value
    }
}

/// A change no valid design can have.
fn invalid_op<R: Rng + ?Sized>(rng: &mut R, current: &Parameters) -> EditOp {
    let dimensions = current.dimensions();
    match rng.random_range(0..4) {
        0 | 1 if !dimensions.is_empty() => {
            let (dimension, _) = *dimensions.choose(rng).unwrap_or(&dimensions[0]);
            let value = if rng.random_bool(0.7) {
                ABSURD_DIMENSION_MM
            } else {
                -10.0
            };
            EditOp::SetDimension { dimension, value }
        }
        0..=2 => EditOp::Scale { factor: 0.0 },
        _ => EditOp::SetMaterial {
            material: "UNOBTAINIUM",
        },
    }
}

/// The edit requests that outgrow the printer, one factor each.
pub fn oversize_edits() -> impl Iterator<Item = Vec<EditOp>> {
    OVERSIZE_FACTORS
        .iter()
        .map(|&factor| vec![EditOp::Scale { factor }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn parameters(shape: &str) -> Parameters {
        Parameters {
            shape: shape.into(),
            width_mm: Some(40.0),
            depth_mm: Some(30.0),
            height_mm: Some(20.0),
            diameter_mm: Some(25.0),
            scale: 1.0,
            material: "PLA".into(),
            colour: "red".into(),
            engraving: None,
        }
    }

    fn is_valid(op: &EditOp, current: &Parameters) -> bool {
        let dims = current.dimensions();
        match op {
            EditOp::SetDimension { dimension, value } => {
                let Some((_, old)) = dims.iter().find(|(name, _)| name == dimension) else {
                    return false;
                };
                *value > 0.0 && *value <= old * 1.1 + 0.5 && *value >= (old * 0.8).min(5.0) - 0.5
            }
            EditOp::Scale { factor } => (0.8..=1.1).contains(factor),
            EditOp::SetMaterial { material } => printflow_contracts::Material::ALL
                .iter()
                .any(|m| m.as_str() == *material),
            EditOp::SetColour { colour } => COLOURS.contains(colour),
            EditOp::SetEngraving { text } => ENGRAVINGS.contains(&text.as_str()),
        }
    }

    #[test]
    fn valid_edits_stay_near_the_current_design_and_use_its_dimensions() {
        let mut rng = StdRng::seed_from_u64(4);
        for shape in ["box", "cylinder", "star"] {
            let current = parameters(shape);
            let mut saw_dimension = false;
            for _ in 0..1000 {
                let ops = valid_edit(&mut rng, &current);
                assert!((1..=2).contains(&ops.len()));
                for op in &ops {
                    assert!(is_valid(op, &current), "{shape}: {op:?}");
                    saw_dimension |= matches!(op, EditOp::SetDimension { .. });
                }
            }
            assert_eq!(saw_dimension, shape != "star", "{shape}");
        }
    }

    #[test]
    fn invalid_edits_are_never_valid() {
        let mut rng = StdRng::seed_from_u64(8);
        for shape in ["box", "cylinder", "star"] {
            let current = parameters(shape);
            for _ in 0..1000 {
                let ops = edit_for(&mut rng, EditIntent::Invalid, &current);
                assert_eq!(ops.len(), 1);
                assert!(!is_valid(&ops[0], &current), "{shape}: {:?}", ops[0]);
                if let EditOp::SetDimension { dimension, .. } = &ops[0] {
                    // The dimension exists, so only the value can be the reason for refusal.
                    assert!(current.dimensions().iter().any(|(d, _)| d == dimension));
                }
            }
        }
    }

    #[test]
    fn nudges_land_on_half_millimetres_and_never_below_five() {
        assert_eq!(nudge(40.0, 1.1), 44.0);
        assert_eq!(nudge(33.3, 1.0), 33.5);
        assert_eq!(nudge(6.0, 0.5), 5.0);
        assert_eq!(nudge(3.0, 0.8), 3.0);
    }

    #[test]
    fn plans_have_one_to_four_edits_and_purchases_stay_valid() {
        let mut rng = StdRng::seed_from_u64(6);
        let plans: Vec<DesignPlan> = (0..2000).map(|_| random_design_plan(&mut rng)).collect();
        assert!(plans.iter().all(|p| (1..=4).contains(&p.edits.len())));
        assert!(plans.iter().any(|p| p.oversize));
        assert!(plans.iter().any(|p| p.edits.contains(&EditIntent::Invalid)));
        let invalid = plans
            .iter()
            .flat_map(|p| &p.edits)
            .filter(|e| **e == EditIntent::Invalid)
            .count() as f64;
        let all = plans.iter().map(|p| p.edits.len()).sum::<usize>() as f64;
        assert!((invalid / all - 0.2).abs() < 0.03, "{}", invalid / all);
        for _ in 0..500 {
            let plan = purchase_plan(&mut rng);
            assert!(!plan.oversize && plan.edits.len() <= 2);
            assert!(plan.edits.iter().all(|e| *e == EditIntent::Valid));
        }
    }

    #[test]
    fn oversize_scaling_escalates_past_any_printer() {
        let factors: Vec<f64> = oversize_edits()
            .map(|ops| match ops.as_slice() {
                [EditOp::Scale { factor }] => *factor,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(factors.windows(2).all(|w| w[0] < w[1]));
        assert!(factors.iter().product::<f64>() >= 50.0);
        assert!(factors.last().copied().unwrap_or(0.0) >= 8.0);
    }
}
