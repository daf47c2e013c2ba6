//! Edit operations on a design's draft: parsing, validation, and the all-or-nothing request.
//!
//! A request is a list of operations applied in order to a working copy of the draft. If any
//! operation is rejected nothing is applied, and the answer names the first rejected operation
//! (`operations[1].value`). Every operation of every request is written to `design_edits`,
//! accepted or not: that log is the trail of the customer's work on the 3D schema.

use super::parameters::{
    check_engraving, normalise_colour, DesignParameters, Dimension, MAX_DIMENSION_MM,
    MIN_DIMENSION_MM, PALETTE,
};
use super::repo::{self, Design};
use super::DesignError;
use crate::model::material::Material;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// Most operations accepted in one request.
pub const MAX_OPERATIONS: usize = 50;
/// Accepted range of a `scale` factor.
pub const SCALE_RANGE: std::ops::RangeInclusive<f64> = 0.1..=10.0;

/// The op names, for error messages.
const OP_NAMES: [&str; 5] = [
    "set_dimension",
    "scale",
    "set_material",
    "set_colour",
    "set_engraving",
];

/// One parsed edit operation.
#[derive(Debug, Clone, PartialEq)]
pub enum EditOp {
    /// `{"op":"set_dimension","dimension":"width_mm","value":40.0}`
    SetDimension {
        /// Which dimension.
        dimension: Dimension,
        /// New value, mm.
        value: f64,
    },
    /// `{"op":"scale","factor":1.5}`: multiplies every dimension.
    Scale {
        /// The factor.
        factor: f64,
    },
    /// `{"op":"set_material","material":"PETG"}`
    SetMaterial {
        /// The material.
        material: Material,
    },
    /// `{"op":"set_colour","colour":"red"}` (palette name or `#rrggbb`).
    SetColour {
        /// Normalised colour.
        colour: String,
    },
    /// `{"op":"set_engraving","text":"..."}` (empty clears).
    SetEngraving {
        /// The text.
        text: String,
    },
}

/// Why an operation was rejected: the sub-field at fault (`.value`, or empty for the whole
/// operation) and a reason.
#[derive(Debug, Clone, PartialEq)]
pub struct OpRejection {
    /// Suffix after `operations[i]`, e.g. `.value`.
    pub field: &'static str,
    /// Human-readable reason.
    pub reason: String,
}

fn reject(field: &'static str, reason: impl Into<String>) -> OpRejection {
    OpRejection {
        field,
        reason: reason.into(),
    }
}

fn string_field<'a>(
    obj: &'a Value,
    name: &'static str,
    dotted: &'static str,
) -> Result<&'a str, OpRejection> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(reject(dotted, format!("`{name}` must be a string"))),
        None => Err(reject(dotted, format!("`{name}` is required"))),
    }
}

fn number_field(obj: &Value, name: &'static str, dotted: &'static str) -> Result<f64, OpRejection> {
    match obj.get(name) {
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| reject(dotted, format!("`{name}` must be a finite number"))),
        Some(_) => Err(reject(dotted, format!("`{name}` must be a number"))),
        None => Err(reject(dotted, format!("`{name}` is required"))),
    }
}

/// Parses one operation from its JSON.
pub fn parse_op(raw: &Value) -> Result<EditOp, OpRejection> {
    if !raw.is_object() {
        return Err(reject("", "an operation must be a JSON object"));
    }
    let op = string_field(raw, "op", ".op")?;
    match op {
        "set_dimension" => {
            let name = string_field(raw, "dimension", ".dimension")?;
            let dimension = Dimension::parse(name).ok_or_else(|| {
                let allowed: Vec<_> = Dimension::ALL.iter().map(|d| d.as_str()).collect();
                reject(
                    ".dimension",
                    format!(
                        "unknown dimension `{name}`; allowed: {}",
                        allowed.join(", ")
                    ),
                )
            })?;
            let value = number_field(raw, "value", ".value")?;
            Ok(EditOp::SetDimension { dimension, value })
        }
        "scale" => Ok(EditOp::Scale {
            factor: number_field(raw, "factor", ".factor")?,
        }),
        "set_material" => {
            let m = string_field(raw, "material", ".material")?;
            let material = m.parse().map_err(|e: String| reject(".material", e))?;
            Ok(EditOp::SetMaterial { material })
        }
        "set_colour" => {
            let c = string_field(raw, "colour", ".colour")?;
            let colour = normalise_colour(c).ok_or_else(|| {
                reject(
                    ".colour",
                    format!(
                        "unknown colour `{c}`; use #rrggbb or one of: {}",
                        PALETTE.join(", ")
                    ),
                )
            })?;
            Ok(EditOp::SetColour { colour })
        }
        "set_engraving" => {
            let text = string_field(raw, "text", ".text")?;
            check_engraving(text).map_err(|e| reject(".text", e))?;
            Ok(EditOp::SetEngraving {
                text: text.to_owned(),
            })
        }
        other => Err(reject(
            ".op",
            format!("unknown op `{other}`; allowed: {}", OP_NAMES.join(", ")),
        )),
    }
}

fn dimension_in_range(value: f64) -> bool {
    (MIN_DIMENSION_MM..=MAX_DIMENSION_MM).contains(&value)
}

impl EditOp {
    /// Applies the operation to `draft`, or says why not (leaving `draft` unchanged).
    pub fn apply(&self, draft: &mut DesignParameters) -> Result<(), OpRejection> {
        match self {
            EditOp::SetDimension { dimension, value } => {
                if !draft.shape.dimensions().contains(dimension) {
                    let allowed: Vec<_> = draft
                        .shape
                        .dimensions()
                        .iter()
                        .map(|d| d.as_str())
                        .collect();
                    return Err(reject(
                        ".dimension",
                        format!(
                            "a {} has no {dimension}; its dimensions are {}",
                            draft.shape.as_str(),
                            allowed.join(", ")
                        ),
                    ));
                }
                if !dimension_in_range(*value) {
                    return Err(reject(
                        ".value",
                        format!(
                            "{dimension} must be between {MIN_DIMENSION_MM} and {MAX_DIMENSION_MM} mm, got {value}"
                        ),
                    ));
                }
                draft.set(*dimension, *value);
            }
            EditOp::Scale { factor } => {
                if !SCALE_RANGE.contains(factor) {
                    return Err(reject(
                        ".factor",
                        format!(
                            "scale factor must be between {} and {}, got {factor}",
                            SCALE_RANGE.start(),
                            SCALE_RANGE.end()
                        ),
                    ));
                }
                let mut scaled = draft.clone();
                for &dim in draft.shape.dimensions() {
                    let old = draft.get(dim).unwrap_or_default();
                    let new = old * factor;
                    if !dimension_in_range(new) {
                        return Err(reject(
                            ".factor",
                            format!(
                                "scaling by {factor} would make {dim} {new} mm; dimensions must stay between {MIN_DIMENSION_MM} and {MAX_DIMENSION_MM} mm"
                            ),
                        ));
                    }
                    scaled.set(dim, new);
                }
                scaled.scale *= factor;
                *draft = scaled;
            }
            EditOp::SetMaterial { material } => draft.material = *material,
            EditOp::SetColour { colour } => draft.colour = colour.clone(),
            EditOp::SetEngraving { text } => draft.engraving = text.clone(),
        }
        Ok(())
    }
}

/// The first rejected operation of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Its index in `operations`.
    pub index: usize,
    /// Why.
    pub rejection: OpRejection,
}

/// Applies `ops` in order to a copy of `params`: the new parameters, or the first rejection.
pub fn apply_all(params: &DesignParameters, ops: &[Value]) -> Result<DesignParameters, Rejected> {
    let mut draft = params.clone();
    for (index, raw) in ops.iter().enumerate() {
        parse_op(raw)
            .and_then(|op| op.apply(&mut draft))
            .map_err(|rejection| Rejected { index, rejection })?;
    }
    Ok(draft)
}

/// How each operation of a request is logged.
fn log_entries(
    ops: &[Value],
    outcome: &Result<DesignParameters, Rejected>,
) -> Vec<repo::EditLogEntry> {
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let (accepted, reason) = match outcome {
                Ok(_) => (true, None),
                Err(r) if i == r.index => (false, Some(r.rejection.reason.clone())),
                Err(r) if i < r.index => (
                    false,
                    Some(format!("not applied: operations[{}] was rejected", r.index)),
                ),
                Err(r) => (
                    false,
                    Some(format!(
                        "not evaluated: operations[{}] was rejected",
                        r.index
                    )),
                ),
            };
            repo::EditLogEntry {
                op_index: i as i32,
                op: op.clone(),
                accepted,
                reason,
            }
        })
        .collect()
}

/// Applies an edit request to design `design_id` (all or nothing) and logs every operation.
#[tracing::instrument(
    skip_all,
    fields(design.id = %design_id, edit.operations = ops.len(), edit.outcome, design.revision)
)]
pub async fn edit_design(
    pool: &PgPool,
    design_id: Uuid,
    ops: &[Value],
) -> Result<Design, DesignError> {
    if ops.is_empty() {
        return Err(DesignError::Validation {
            field: "operations".into(),
            message: "at least one operation is required".into(),
        });
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(DesignError::Validation {
            field: "operations".into(),
            message: format!("at most {MAX_OPERATIONS} operations per request"),
        });
    }
    let mut tx = pool.begin().await?;
    // The row lock orders concurrent edit requests (and saves) on one design.
    let current = repo::lock_design(&mut tx, design_id)
        .await?
        .ok_or(DesignError::NotFound(design_id))?;
    let outcome = apply_all(&current.parameters, ops);
    let entries = log_entries(ops, &outcome);
    let batch_id = Uuid::now_v7();
    let span = tracing::Span::current();
    match outcome {
        Ok(params) => {
            let revision = current.revision + 1;
            repo::update_draft(&mut tx, design_id, &params, revision).await?;
            repo::insert_edit_log(&mut tx, design_id, batch_id, revision, &entries).await?;
            tx.commit().await?;
            span.record("edit.outcome", "accepted");
            span.record("design.revision", revision);
            tracing::info!("design edited");
            repo::get_design(pool, design_id)
                .await?
                .ok_or(DesignError::NotFound(design_id))
        }
        Err(rejected) => {
            repo::insert_edit_log(&mut tx, design_id, batch_id, current.revision, &entries).await?;
            tx.commit().await?;
            span.record("edit.outcome", "rejected");
            span.record("design.revision", current.revision);
            tracing::info!(
                edit.rejected_index = rejected.index,
                reason = %rejected.rejection.reason,
                "design edit rejected"
            );
            Err(DesignError::EditRejected {
                field: format!("operations[{}]{}", rejected.index, rejected.rejection.field),
                reason: rejected.rejection.reason,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::designs::parameters::Shape;
    use serde_json::json;

    fn a_box() -> DesignParameters {
        DesignParameters {
            shape: Shape::Box,
            width_mm: Some(20.0),
            depth_mm: Some(30.0),
            height_mm: 40.0,
            diameter_mm: None,
            scale: 1.0,
            material: Material::Pla,
            colour: "white".into(),
            engraving: String::new(),
        }
    }

    #[test]
    fn accepted_ops_apply_in_order() {
        let ops = [
            json!({"op": "set_dimension", "dimension": "width_mm", "value": 50.0}),
            json!({"op": "scale", "factor": 2}),
            json!({"op": "set_material", "material": "petg"}),
            json!({"op": "set_colour", "colour": "#FF0000"}),
            json!({"op": "set_engraving", "text": "Hi"}),
        ];
        let p = apply_all(&a_box(), &ops).unwrap();
        assert_eq!(
            (p.width_mm, p.depth_mm, p.height_mm, p.scale),
            (Some(100.0), Some(60.0), 80.0, 2.0)
        );
        assert_eq!(p.material, Material::Petg);
        assert_eq!(p.colour, "#ff0000");
        assert_eq!(p.engraving, "Hi");
    }

    #[test]
    fn rejections_name_the_op_and_field() {
        let cases = [
            (
                json!({"op": "set_dimension", "dimension": "diameter_mm", "value": 5}),
                ".dimension",
            ),
            (
                json!({"op": "set_dimension", "dimension": "width_mm", "value": 0.5}),
                ".value",
            ),
            (
                json!({"op": "set_dimension", "dimension": "width_mm", "value": 1001}),
                ".value",
            ),
            (
                json!({"op": "set_dimension", "dimension": "width_mm", "value": "5"}),
                ".value",
            ),
            (
                json!({"op": "set_dimension", "dimension": "size", "value": 5}),
                ".dimension",
            ),
            (json!({"op": "scale", "factor": 0.05}), ".factor"),
            (json!({"op": "scale", "factor": 10}), ".factor"), // 40 mm x 10 = 400 is fine ...
            (
                json!({"op": "set_material", "material": "wood"}),
                ".material",
            ),
            (json!({"op": "set_colour", "colour": "mauve"}), ".colour"),
            (
                json!({"op": "set_engraving", "text": "x".repeat(33)}),
                ".text",
            ),
            (json!({"op": "explode"}), ".op"),
            (json!({"dimension": "width_mm"}), ".op"),
            (json!(42), ""),
        ];
        for (op, field) in cases {
            let ops = [
                json!({"op": "set_dimension", "dimension": "height_mm", "value": 150}),
                op.clone(),
            ];
            match apply_all(&a_box(), &ops) {
                // ... but after height 150 a x10 scale would reach 1500 mm.
                Err(r) => {
                    assert_eq!(r.index, 1, "{op}");
                    assert_eq!(r.rejection.field, field, "{op}");
                }
                Ok(_) => panic!("{op} was accepted"),
            }
        }
    }

    #[test]
    fn a_rejected_request_logs_every_op_as_not_applied() {
        let ops = [
            json!({"op": "set_colour", "colour": "red"}),
            json!({"op": "scale", "factor": 100}),
            json!({"op": "set_colour", "colour": "blue"}),
        ];
        let outcome = apply_all(&a_box(), &ops);
        let log = log_entries(&ops, &outcome);
        assert!(log.iter().all(|e| !e.accepted && e.reason.is_some()));
        assert!(log[1].reason.as_deref().unwrap().contains("scale factor"));
        assert!(log[0].reason.as_deref().unwrap().contains("not applied"));
        assert!(log[2].reason.as_deref().unwrap().contains("not evaluated"));
    }
}
