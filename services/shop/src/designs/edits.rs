//! Edit operations on a design's draft: parsing, validation, and the all-or-nothing request.
//!
//! A request ([`EditRequest`]) is a list of operations applied in order to a working copy of the
//! draft. If any operation is rejected nothing is applied, and the answer names the first
//! rejected operation (`operations[1].value`). Each operation is read by serde: its `op` tag
//! ([`OpName`]) first, then the fields of that operation, so a missing or mistyped field is named
//! by its path; the values are checked after that ([`parse_op`]). Every operation of every
//! request is written to `design_edits` as sent, accepted or not: that log is the trail of the
//! customer's work on the 3D schema.
//!
//! The same trail is in the trace: each request is one `design.edit` span ([`edit_request`])
//! with `design.id`, `product.id`, `design.revision` (after the request),
//! `design.edit.operation_count` and `design.edit.accepted`, and one `design.edit.operation`
//! event per operation mirroring its log row ([`OpSummary`]). A rejected request is ERROR
//! (`edit_rejected`, with the reason) and names `design.edit.rejected_index` /
//! `design.edit.rejected_field`.

use super::parameters::{
    check_engraving, normalise_colour, DesignParameters, Dimension, MAX_DIMENSION_MM,
    MIN_DIMENSION_MM, PALETTE,
};
use super::repo::{self, Design};
use super::DesignError;
use crate::metrics::ShopMetrics;
use crate::model::material::Material;
use printflow_contracts::print_spec::UnknownMaterial;
use printflow_web::typed;
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgPool;
use tracing::field::Empty;
use uuid::Uuid;

/// Most operations accepted in one request.
pub const MAX_OPERATIONS: usize = 50;
/// Accepted range of a `scale` factor.
pub const SCALE_RANGE: std::ops::RangeInclusive<f64> = 0.1..=10.0;

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
    pub field: String,
    /// Human-readable reason.
    pub reason: String,
}

fn reject(field: &str, reason: impl Into<String>) -> OpRejection {
    OpRejection {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// The body of `POST /designs/{id}/edits`. The operations are kept as sent: every one is logged
/// and summarised in the trace as the customer sent it, accepted or not, and one that does not
/// parse is rejected by its index like one that does not apply.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EditRequest {
    /// The operations, in order.
    pub operations: Vec<Value>,
}

impl EditRequest {
    /// Reads a request body; any problem is the `operations` field's.
    pub fn parse(body: &Value) -> Result<EditRequest, DesignError> {
        typed::from_json(body).map_err(|e| DesignError::Validation {
            field: "operations".into(),
            message: match e.field {
                Some(_) => e.message,
                None => "operations must be an array of edit operations".into(),
            },
        })
    }

    /// 1..=[`MAX_OPERATIONS`] operations.
    pub fn validate(&self) -> Result<(), DesignError> {
        let message = if self.operations.is_empty() {
            "at least one operation is required".to_owned()
        } else if self.operations.len() > MAX_OPERATIONS {
            format!("at most {MAX_OPERATIONS} operations per request")
        } else {
            return Ok(());
        };
        Err(DesignError::Validation {
            field: "operations".into(),
            message,
        })
    }
}

/// The `op` tag of an operation: which operation it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpName {
    /// [`EditOp::SetDimension`].
    SetDimension,
    /// [`EditOp::Scale`].
    Scale,
    /// [`EditOp::SetMaterial`].
    SetMaterial,
    /// [`EditOp::SetColour`].
    SetColour,
    /// [`EditOp::SetEngraving`].
    SetEngraving,
}

// The wire form of each operation. serde's internally tagged enums buffer the operation before
// reading it and so lose the path of a bad field; reading the tag, then the operation's own
// struct, keeps `operations[i].value` exact. Other keys (the tag included) are ignored.

#[derive(Deserialize)]
struct Tagged {
    op: OpName,
}

#[derive(Deserialize)]
struct SetDimensionFields {
    dimension: Dimension,
    value: f64,
}

#[derive(Deserialize)]
struct ScaleFields {
    factor: f64,
}

#[derive(Deserialize)]
struct SetMaterialFields {
    material: String,
}

#[derive(Deserialize)]
struct SetColourFields {
    colour: String,
}

#[derive(Deserialize)]
struct SetEngravingFields {
    text: String,
}

/// Reads `raw` as `T`, a rejection naming the sub-field (`.value`) if it does not fit.
fn fields<'a, T: Deserialize<'a>>(raw: &'a Value) -> Result<T, OpRejection> {
    typed::from_json(raw).map_err(|e| OpRejection {
        field: e.field.map(|f| format!(".{f}")).unwrap_or_default(),
        reason: e.message,
    })
}

/// Parses and checks one operation from its JSON.
pub fn parse_op(raw: &Value) -> Result<EditOp, OpRejection> {
    if !raw.is_object() {
        return Err(reject("", "an operation must be a JSON object"));
    }
    let op = match fields::<Tagged>(raw)?.op {
        OpName::SetDimension => {
            let f: SetDimensionFields = fields(raw)?;
            EditOp::SetDimension {
                dimension: f.dimension,
                value: f.value,
            }
        }
        OpName::Scale => EditOp::Scale {
            factor: fields::<ScaleFields>(raw)?.factor,
        },
        OpName::SetMaterial => {
            let m = fields::<SetMaterialFields>(raw)?.material;
            let material = m
                .parse()
                .map_err(|e: UnknownMaterial| reject(".material", format!("material: {e}")))?;
            EditOp::SetMaterial { material }
        }
        OpName::SetColour => {
            let c = fields::<SetColourFields>(raw)?.colour;
            let colour = normalise_colour(&c).ok_or_else(|| {
                reject(
                    ".colour",
                    format!(
                        "unknown colour `{c}`; use #rrggbb or one of: {}",
                        PALETTE.join(", ")
                    ),
                )
            })?;
            EditOp::SetColour { colour }
        }
        OpName::SetEngraving => {
            let text = fields::<SetEngravingFields>(raw)?.text;
            check_engraving(&text).map_err(|e| reject(".text", e))?;
            EditOp::SetEngraving { text }
        }
    };
    Ok(op)
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

/// Longest user-supplied text copied into a trace attribute (op names, dimension names,
/// values), in characters: enough to read, not enough to flood the trace store.
const MAX_TRACED_CHARS: usize = 64;

/// What the trace shows of one operation (the op as sent, so rejected ones are visible too).
#[derive(Debug, Clone, PartialEq)]
pub struct OpSummary {
    /// The `op` (e.g. `set_dimension`); `invalid` when missing or not a string.
    pub operation: String,
    /// What it changes: the dimension (`width_mm`), or `scale`, `material`, `colour`,
    /// `engraving`; `None` for an unknown op.
    pub parameter: Option<String>,
    /// The new value as text (`40`, `1.5`, `PETG`, `red`); never the engraving text, which may
    /// be personal (a name).
    pub value: Option<String>,
}

fn traced_text(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    crate::catalog::search::truncate_chars(&text, MAX_TRACED_CHARS).to_owned()
}

/// Summarises a raw operation for the trace.
pub fn op_summary(raw: &Value) -> OpSummary {
    let Some(op) = raw.get("op").and_then(Value::as_str) else {
        return OpSummary {
            operation: "invalid".to_owned(),
            parameter: None,
            value: None,
        };
    };
    let field = |name: &str| raw.get(name).map(traced_text);
    let (parameter, value) = match op {
        "set_dimension" => (field("dimension"), field("value")),
        "scale" => (Some("scale".to_owned()), field("factor")),
        "set_material" => (Some("material".to_owned()), field("material")),
        "set_colour" => (Some("colour".to_owned()), field("colour")),
        "set_engraving" => (Some("engraving".to_owned()), None),
        _ => (None, None),
    };
    OpSummary {
        operation: crate::catalog::search::truncate_chars(op, MAX_TRACED_CHARS).to_owned(),
        parameter,
        value,
    }
}

/// One `design.edit.operation` event per logged operation, on the current span.
fn emit_operation_events(entries: &[repo::EditLogEntry]) {
    for entry in entries {
        let op = op_summary(&entry.op);
        tracing::info!(
            design.edit.index = entry.op_index,
            design.edit.operation = %op.operation,
            design.edit.parameter = op.parameter.as_deref(),
            design.edit.value = op.value.as_deref(),
            design.edit.accepted = entry.accepted,
            design.edit.rejection_reason = entry.reason.as_deref(),
            "design.edit.operation"
        );
    }
}

/// Handles `POST /designs/{id}/edits` with its JSON body, in the span `design.edit`, and counts
/// it in `printflow_design_edits_total{outcome}`: `accepted` when applied, `rejected` when the
/// request or one of its operations was refused (the span's `design.edit.accepted`). Unknown
/// designs and database failures are neither.
pub async fn edit_request(
    pool: &PgPool,
    metrics: &ShopMetrics,
    design_id: Uuid,
    body: &Value,
) -> Result<Design, DesignError> {
    let span = tracing::info_span!(
        "design.edit",
        design.id = %design_id,
        product.id = Empty,
        design.revision = Empty,
        design.edit.operation_count = Empty,
        design.edit.accepted = Empty,
        design.edit.rejected_index = Empty,
        design.edit.rejected_field = Empty,
        error.type = Empty,
    );
    super::traced(span, async move {
        let span = tracing::Span::current();
        let result = match EditRequest::parse(body) {
            Ok(request) => {
                span.record(
                    "design.edit.operation_count",
                    i64::try_from(request.operations.len()).unwrap_or(i64::MAX),
                );
                edit_design(pool, design_id, &request).await
            }
            Err(err) => Err(err),
        };
        // A request refused as a whole (no list, empty, too long) is a rejected edit too.
        if let Err(DesignError::Validation { field, message }) = &result {
            span.record("design.edit.accepted", false);
            span.record("design.edit.rejected_field", field.as_str());
            printflow_telemetry::record_error(&span, "edit_rejected", message);
        }
        match &result {
            Ok(_) => metrics.design_edited(true),
            Err(DesignError::Validation { .. } | DesignError::EditRejected { .. }) => {
                metrics.design_edited(false)
            }
            Err(_) => {}
        }
        result
    })
    .await
}

/// Applies an edit request to design `design_id` (all or nothing) and logs every operation;
/// records the outcome on the current span (see [`edit_request`]).
pub async fn edit_design(
    pool: &PgPool,
    design_id: Uuid,
    request: &EditRequest,
) -> Result<Design, DesignError> {
    request.validate()?;
    let ops = request.operations.as_slice();
    let mut tx = pool.begin().await?;
    // The row lock orders concurrent edit requests (and saves) on one design.
    let current = repo::lock_design(&mut tx, design_id)
        .await?
        .ok_or(DesignError::NotFound(design_id))?;
    let span = tracing::Span::current();
    span.record("product.id", tracing::field::display(current.product_id));
    let outcome = apply_all(&current.parameters, ops);
    let entries = log_entries(ops, &outcome);
    let batch_id = Uuid::now_v7();
    match outcome {
        Ok(params) => {
            let revision = current.revision + 1;
            repo::update_draft(&mut tx, design_id, &params, revision).await?;
            repo::insert_edit_log(&mut tx, design_id, batch_id, revision, &entries).await?;
            tx.commit().await?;
            span.record("design.edit.accepted", true);
            span.record("design.revision", revision);
            emit_operation_events(&entries);
            tracing::info!("design edited");
            repo::get_design(pool, design_id)
                .await?
                .ok_or(DesignError::NotFound(design_id))
        }
        Err(rejected) => {
            repo::insert_edit_log(&mut tx, design_id, batch_id, current.revision, &entries).await?;
            tx.commit().await?;
            let field = format!("operations[{}]{}", rejected.index, rejected.rejection.field);
            span.record("design.edit.accepted", false);
            span.record("design.revision", current.revision);
            span.record("design.edit.rejected_index", rejected.index as i64);
            span.record("design.edit.rejected_field", field.as_str());
            emit_operation_events(&entries);
            tracing::info!(
                edit.rejected_index = rejected.index as i64,
                reason = %rejected.rejection.reason,
                "design edit rejected"
            );
            // The span's ERROR (`edit_rejected`, the reason) is set by `traced` from this error.
            Err(DesignError::EditRejected {
                field,
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
            (json!({"op": 7}), ".op"),
            (
                json!({"op": "set_dimension", "dimension": "width_mm"}),
                ".value",
            ),
            (
                json!({"op": "set_dimension", "dimension": "width_mm", "value": null}),
                ".value",
            ),
            (json!({"op": "set_engraving", "text": ["Hi"]}), ".text"),
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
    fn a_request_without_a_usable_list_names_operations() {
        for body in [
            json!({}),
            json!({"operations": "scale"}),
            json!({"operations": null}),
            json!([[{"op": "scale", "factor": 2}]]),
        ] {
            match EditRequest::parse(&body) {
                Err(DesignError::Validation { field, .. }) => assert_eq!(field, "operations"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let ops = |n: usize| EditRequest {
            operations: vec![json!({"op": "scale", "factor": 1}); n],
        };
        assert!(ops(0).validate().is_err());
        assert!(ops(MAX_OPERATIONS).validate().is_ok());
        assert!(ops(MAX_OPERATIONS + 1).validate().is_err());
        let parsed = EditRequest::parse(&json!({"operations": [1, {"op": "x"}], "extra": true}));
        assert_eq!(parsed.unwrap().operations.len(), 2, "ops are kept as sent");
    }

    #[test]
    fn op_summaries_name_the_parameter_and_never_the_engraving() {
        let cases = [
            (
                json!({"op": "set_dimension", "dimension": "width_mm", "value": 40.5}),
                ("set_dimension", Some("width_mm"), Some("40.5")),
            ),
            (
                json!({"op": "scale", "factor": 2}),
                ("scale", Some("scale"), Some("2")),
            ),
            (
                json!({"op": "set_material", "material": "PETG"}),
                ("set_material", Some("material"), Some("PETG")),
            ),
            (
                json!({"op": "set_colour", "colour": "red"}),
                ("set_colour", Some("colour"), Some("red")),
            ),
            (
                json!({"op": "set_engraving", "text": "Ada Lovelace"}),
                ("set_engraving", Some("engraving"), None),
            ),
            // Rejected shapes are summarised as sent.
            (
                json!({"op": "set_dimension", "dimension": "size"}),
                ("set_dimension", Some("size"), None),
            ),
            (json!({"op": "explode"}), ("explode", None, None)),
            (json!({"dimension": "width_mm"}), ("invalid", None, None)),
            (json!(42), ("invalid", None, None)),
        ];
        for (raw, (operation, parameter, value)) in cases {
            let got = op_summary(&raw);
            assert_eq!(got.operation, operation, "{raw}");
            assert_eq!(got.parameter.as_deref(), parameter, "{raw}");
            assert_eq!(got.value.as_deref(), value, "{raw}");
        }
        let long = op_summary(&json!({"op": "x".repeat(500), "colour": "y".repeat(500)}));
        assert_eq!(long.operation.chars().count(), MAX_TRACED_CHARS);
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
