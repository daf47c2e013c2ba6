//! What one order prints, and the limits on it: the same type and the same [`PrintSpec::validate`]
//! for Shop's order request, CRM's `POST /orders`, the `order.created` message and MES's job.
//!
//! The spec travels *flattened* in its containers (`#[serde(flatten)]`), so on the wire its
//! fields sit next to the container's own (`order_id`, `shipping`, ...) exactly as before the
//! type existed. Integer widths follow the SQL columns: `INT` is `i32` (`design_version`,
//! `quantity`), `BIGINT` is `i64` (`model_size_bytes`, `estimated_print_seconds`).
//!
//! The material *codes* live here ([`Material`]) so every party accepts the same list; what a
//! material weighs, costs and how fast it prints is Shop's business and stays in Shop.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Fewest parts one order may print.
pub const MIN_QUANTITY: i32 = 1;
/// Most parts one order may print.
pub const MAX_QUANTITY: i32 = 100;
/// The first version number a saved design gets; lower numbers never exist.
pub const MIN_DESIGN_VERSION: i32 = 1;
/// Length of a SHA-256 digest written as hexadecimal.
pub const SHA256_HEX_CHARS: usize = 64;

/// A printing material, by its code (`PLA`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Material {
    /// Polylactic acid.
    #[serde(rename = "PLA")]
    Pla,
    /// Glycol-modified PET.
    #[serde(rename = "PETG")]
    Petg,
    /// Acrylonitrile butadiene styrene.
    #[serde(rename = "ABS")]
    Abs,
    /// Thermoplastic polyurethane (flexible).
    #[serde(rename = "TPU")]
    Tpu,
    /// Photopolymer resin.
    #[serde(rename = "RESIN")]
    Resin,
}

impl Material {
    /// Every material, in a stable order.
    pub const ALL: [Material; 5] = [
        Material::Pla,
        Material::Petg,
        Material::Abs,
        Material::Tpu,
        Material::Resin,
    ];

    /// The wire and database spelling (the code).
    pub fn as_str(self) -> &'static str {
        match self {
            Material::Pla => "PLA",
            Material::Petg => "PETG",
            Material::Abs => "ABS",
            Material::Tpu => "TPU",
            Material::Resin => "RESIN",
        }
    }

    /// Comma-separated list of valid codes, for error messages.
    pub fn allowed() -> String {
        Material::ALL.map(Material::as_str).join(", ")
    }
}

impl fmt::Display for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A material code that is not one of [`Material::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown material `{0}`; allowed: {allowed}", allowed = Material::allowed())]
pub struct UnknownMaterial(pub String);

impl FromStr for Material {
    type Err = UnknownMaterial;

    /// Case-insensitive and trimmed (` pla` is `PLA`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Material::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownMaterial(s.to_owned()))
    }
}

/// What is to be printed: which saved model, checked how, in what and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintSpec {
    /// Shop design id.
    pub design_id: Uuid,
    /// The immutable saved version of that design, [`MIN_DESIGN_VERSION`] or more.
    pub design_version: i32,
    /// SHA-256 (hex, [`SHA256_HEX_CHARS`] characters) of the saved model file; MES verifies
    /// the file it fetches against it.
    pub model_sha256: String,
    /// Size of the model file in bytes, positive.
    pub model_size_bytes: i64,
    /// Shop's estimate of one part's print time in seconds, positive.
    pub estimated_print_seconds: i64,
    /// Material code, one of [`Material::ALL`] (e.g. `PLA`).
    pub material: String,
    /// Parts to print, [`MIN_QUANTITY`]..=[`MAX_QUANTITY`].
    pub quantity: i32,
}

/// A print-spec field with an unacceptable value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PrintSpecError {
    /// The field at fault, as named on the wire (`quantity`).
    pub field: &'static str,
    /// What is wrong with it; starts with the field name, so it reads on its own.
    pub message: String,
}

impl PrintSpecError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        PrintSpecError {
            field,
            message: message.into(),
        }
    }
}

impl PrintSpec {
    /// Checks every limit and returns the spec normalised: the SHA-256 trimmed and lower-cased,
    /// the material as its canonical code. The first failing rule names its field.
    pub fn validate(mut self) -> Result<PrintSpec, PrintSpecError> {
        check_design_version(self.design_version)?;
        self.model_sha256 = self.model_sha256.trim().to_ascii_lowercase();
        if !is_sha256_hex(&self.model_sha256) {
            return Err(PrintSpecError::new(
                "model_sha256",
                format!("model_sha256 must be {SHA256_HEX_CHARS} hex digits (a SHA-256 digest)"),
            ));
        }
        check_positive("model_size_bytes", self.model_size_bytes)?;
        check_positive("estimated_print_seconds", self.estimated_print_seconds)?;
        let material = self
            .material
            .parse::<Material>()
            .map_err(|e| PrintSpecError::new("material", format!("material: {e}")))?;
        self.material = material.as_str().to_owned();
        check_quantity(self.quantity)?;
        Ok(self)
    }
}

/// Whether `text` is a SHA-256 digest in hexadecimal ([`SHA256_HEX_CHARS`] hex digits, any case).
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == SHA256_HEX_CHARS && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `design_version` names a saved version: [`MIN_DESIGN_VERSION`] or more.
pub fn check_design_version(version: i32) -> Result<(), PrintSpecError> {
    if version >= MIN_DESIGN_VERSION {
        Ok(())
    } else {
        Err(PrintSpecError::new(
            "design_version",
            format!("design_version must be {MIN_DESIGN_VERSION} or more, got {version}"),
        ))
    }
}

/// `quantity` is [`MIN_QUANTITY`]..=[`MAX_QUANTITY`].
pub fn check_quantity(quantity: i32) -> Result<(), PrintSpecError> {
    if (MIN_QUANTITY..=MAX_QUANTITY).contains(&quantity) {
        Ok(())
    } else {
        Err(PrintSpecError::new(
            "quantity",
            format!("quantity must be between {MIN_QUANTITY} and {MAX_QUANTITY}, got {quantity}"),
        ))
    }
}

fn check_positive(field: &'static str, value: i64) -> Result<(), PrintSpecError> {
    if value > 0 {
        Ok(())
    } else {
        Err(PrintSpecError::new(
            field,
            format!("{field} must be positive, got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PrintSpec {
        PrintSpec {
            design_id: Uuid::nil(),
            design_version: 1,
            model_sha256: format!(" AB{} ", "ab".repeat(31)),
            model_size_bytes: 684,
            estimated_print_seconds: 3_600,
            material: " petg".into(),
            quantity: 2,
        }
    }

    #[test]
    fn a_valid_spec_is_normalised() {
        let out = spec().validate().unwrap();
        assert_eq!(out.model_sha256, "ab".repeat(32));
        assert_eq!(out.material, "PETG");
    }

    #[test]
    fn each_limit_names_its_field() {
        type Spoil = fn(&mut PrintSpec);
        let cases: [(Spoil, &str); 9] = [
            (|s| s.design_version = 0, "design_version"),
            (|s| s.model_sha256 = "a".repeat(63), "model_sha256"),
            (|s| s.model_sha256 = "g".repeat(64), "model_sha256"),
            (|s| s.model_size_bytes = 0, "model_size_bytes"),
            (
                |s| s.estimated_print_seconds = -1,
                "estimated_print_seconds",
            ),
            (|s| s.material = "wood".into(), "material"),
            (|s| s.material = " ".into(), "material"),
            (|s| s.quantity = MIN_QUANTITY - 1, "quantity"),
            (|s| s.quantity = MAX_QUANTITY + 1, "quantity"),
        ];
        for (spoil, field) in cases {
            let mut s = spec();
            spoil(&mut s);
            let err = s.validate().unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.message.starts_with(field), "{err}");
        }
        for q in [MIN_QUANTITY, MAX_QUANTITY] {
            assert!(PrintSpec {
                quantity: q,
                ..spec()
            }
            .validate()
            .is_ok());
        }
    }

    #[test]
    fn materials_parse_case_insensitively_and_list_allowed_codes() {
        assert_eq!("petg".parse::<Material>().unwrap(), Material::Petg);
        let err = "wood".parse::<Material>().unwrap_err().to_string();
        assert!(err.contains("PLA") && err.contains("RESIN"), "{err}");
        for m in Material::ALL {
            assert_eq!(m.as_str().parse::<Material>().unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
        }
    }

    #[test]
    fn the_spec_flattens_into_its_container_unchanged_on_the_wire() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Container {
            order_id: Uuid,
            #[serde(flatten)]
            spec: PrintSpec,
        }
        let c = Container {
            order_id: Uuid::nil(),
            spec: spec(),
        };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["quantity"], 2);
        assert_eq!(json["material"], " petg");
        assert!(json.get("spec").is_none());
        assert_eq!(serde_json::from_value::<Container>(json).unwrap(), c);
    }
}
