//! The Shop API's bodies, as far as this tool reads or writes them. Unknown fields are
//! ignored (Shop may add some); the fields declared here are required, so a missing or
//! mistyped one is reported as a contract violation. No personal field is ever declared in a
//! response type, so parse errors cannot quote one.

use printflow_contracts::messages::Shipping;
use printflow_contracts::print_spec::{is_sha256_hex, MIN_DESIGN_VERSION, SHA256_HEX_CHARS};
use printflow_contracts::status::OrderStatus;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A product id. The contract does not fix its type, so a number and a string are both
/// taken and sent back in the form they came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProductId {
    /// A numeric id.
    Number(i64),
    /// A textual id (UUID, slug).
    Text(String),
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProductId::Number(n) => write!(f, "{n}"),
            ProductId::Text(s) => f.write_str(s),
        }
    }
}

/// A product as listed by the catalog.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Product {
    /// Product id.
    pub id: ProductId,
    /// Stock-keeping unit.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Category it is filed under.
    pub category: String,
    /// Default material code.
    pub material: String,
    /// Price of one part in the default configuration. The brief's contract says
    /// `price_cents`; Shop as built answers `base_price_cents`, so both spellings are read.
    #[serde(alias = "base_price_cents")]
    pub price_cents: i64,
}

/// `GET /catalog/products`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductPage {
    /// Products of this page.
    pub items: Vec<Product>,
    /// Page number, from 1.
    pub page: u32,
    /// Page size Shop applied (it may cap the requested one).
    pub per_page: u32,
    /// Matching products on all pages.
    pub total: u64,
    /// Number of pages.
    pub total_pages: u32,
}

/// One entry of `GET /catalog/categories`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CategoryCount {
    /// Category name, usable as the `category` filter.
    pub category: String,
    /// Products in it.
    pub product_count: u64,
}

/// The editable parameters of a design.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Parameters {
    /// `box`, `cylinder`, or another shape; decides which dimensions exist.
    pub shape: String,
    /// Box width.
    #[serde(default)]
    pub width_mm: Option<f64>,
    /// Box depth.
    #[serde(default)]
    pub depth_mm: Option<f64>,
    /// Height of boxes and cylinders.
    #[serde(default)]
    pub height_mm: Option<f64>,
    /// Cylinder diameter.
    #[serde(default)]
    pub diameter_mm: Option<f64>,
    /// Scale factor applied to the dimensions.
    pub scale: f64,
    /// Material code.
    pub material: String,
    /// Colour name.
    pub colour: String,
    /// Engraved text; not personal by construction (we only send fixed phrases).
    #[serde(default)]
    pub engraving: Option<String>,
}

impl Parameters {
    /// The dimensions this shape has, with their current values where Shop reported one.
    pub fn dimensions(&self) -> Vec<(&'static str, f64)> {
        let named: &[(&'static str, Option<f64>)] = match self.shape.as_str() {
            "box" => &[
                ("width_mm", self.width_mm),
                ("depth_mm", self.depth_mm),
                ("height_mm", self.height_mm),
            ],
            "cylinder" => &[
                ("diameter_mm", self.diameter_mm),
                ("height_mm", self.height_mm),
            ],
            _ => &[],
        };
        named
            .iter()
            .filter_map(|(name, value)| value.map(|v| (*name, v)))
            .collect()
    }
}

/// A design, as `POST /designs` and `POST /designs/{id}/edits` return it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Design {
    /// Design id.
    pub design_id: Uuid,
    /// The product it started from.
    pub product_id: ProductId,
    /// Current parameters.
    pub parameters: Parameters,
    /// Increments with every accepted edit.
    pub revision: i64,
}

/// One edit operation of `POST /designs/{id}/edits`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EditOp {
    /// Sets one dimension in millimetres.
    SetDimension {
        /// `width_mm`, `depth_mm`, `height_mm` or `diameter_mm`.
        dimension: &'static str,
        /// New value.
        value: f64,
    },
    /// Scales the part.
    Scale {
        /// Scale factor.
        factor: f64,
    },
    /// Changes the material.
    SetMaterial {
        /// Material code.
        material: &'static str,
    },
    /// Changes the colour.
    SetColour {
        /// Colour name.
        colour: &'static str,
    },
    /// Sets the engraved text.
    SetEngraving {
        /// The text.
        text: String,
    },
}

/// Body of `POST /designs/{id}/edits`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditRequest<'a> {
    /// Operations applied together.
    pub operations: &'a [EditOp],
}

/// `POST /designs/{id}/versions`: a saved, immutable version.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SavedVersion {
    /// Version number, what an order refers to.
    pub version: i32,
    /// SHA-256 (hex) of the model file.
    pub sha256: String,
    /// Model file size.
    pub size_bytes: i64,
    /// Printed volume.
    pub volume_mm3: f64,
    /// Estimated print time of one part.
    pub estimated_print_seconds: i64,
    /// Price of one part.
    pub unit_price_cents: i64,
}

impl SavedVersion {
    /// What a saved version must satisfy beyond its field types; `Err` names the broken field.
    /// A bad checksum or an empty file here is how a lost or corrupt model (seed point 3)
    /// would first show.
    pub fn check(&self) -> Result<(), String> {
        if self.version < MIN_DESIGN_VERSION {
            return Err(format!(
                "version {} is below {MIN_DESIGN_VERSION}",
                self.version
            ));
        }
        if !is_sha256_hex(&self.sha256) {
            return Err(format!("sha256 is not {SHA256_HEX_CHARS} hex digits"));
        }
        if self.size_bytes <= 0 {
            return Err(format!("size_bytes {} is not positive", self.size_bytes));
        }
        if !(self.volume_mm3.is_finite() && self.volume_mm3 > 0.0) {
            return Err("volume_mm3 is not positive".into());
        }
        if self.estimated_print_seconds <= 0 {
            return Err("estimated_print_seconds is not positive".into());
        }
        if self.unit_price_cents <= 0 {
            return Err("unit_price_cents is not positive".into());
        }
        Ok(())
    }
}

/// The (synthetic) customer of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerBody {
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Phone number, when the customer gives one.
    pub phone: Option<String>,
}

/// Body of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRequest {
    /// The design ordered.
    pub design_id: Uuid,
    /// Its saved version.
    pub design_version: i32,
    /// Parts to print.
    pub quantity: i32,
    /// Delivery choice.
    pub shipping: Shipping,
    /// Who orders.
    pub customer: CustomerBody,
}

/// `POST /orders` and `GET /orders/{id}`, the fields this tool relies on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderSummary {
    /// Order id.
    pub order_id: Uuid,
    /// Current status.
    pub status: OrderStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parameters(shape: &str) -> Parameters {
        serde_json::from_value(json!({
            "shape": shape, "width_mm": 40.0, "depth_mm": 30.0, "height_mm": 20.0,
            "diameter_mm": null, "scale": 1.0, "material": "PLA", "colour": "red",
            "engraving": null
        }))
        .unwrap()
    }

    #[test]
    fn shapes_have_their_own_dimensions() {
        assert_eq!(
            parameters("box").dimensions(),
            vec![("width_mm", 40.0), ("depth_mm", 30.0), ("height_mm", 20.0)]
        );
        // A cylinder without a reported diameter offers only the height it does report.
        assert_eq!(
            parameters("cylinder").dimensions(),
            vec![("height_mm", 20.0)]
        );
        assert!(parameters("star").dimensions().is_empty());
    }

    #[test]
    fn edit_ops_serialise_as_the_contract_spells_them() {
        let ops = [
            EditOp::SetDimension {
                dimension: "width_mm",
                value: 40.0,
            },
            EditOp::Scale { factor: 1.2 },
            EditOp::SetMaterial { material: "PETG" },
        ];
        let body = serde_json::to_value(EditRequest { operations: &ops }).unwrap();
        assert_eq!(
            body,
            json!({"operations": [
                {"op": "set_dimension", "dimension": "width_mm", "value": 40.0},
                {"op": "scale", "factor": 1.2},
                {"op": "set_material", "material": "PETG"}
            ]})
        );
    }

    #[test]
    fn products_carry_their_price_under_either_name() {
        for price_field in ["price_cents", "base_price_cents"] {
            let product: Product = serde_json::from_value(json!({
                "id": "0190a1b2-0000-7000-8000-000000000001", "sku": "HK-1", "name": "Hook",
                "category": "garden", "material": "PLA", price_field: 450, "relevance": null
            }))
            .unwrap();
            assert_eq!(product.price_cents, 450, "{price_field}");
        }
    }

    #[test]
    fn product_ids_keep_their_form() {
        let n: ProductId = serde_json::from_value(json!(7)).unwrap();
        let s: ProductId = serde_json::from_value(json!("p-7")).unwrap();
        assert_eq!(serde_json::to_value(&n).unwrap(), json!(7));
        assert_eq!(serde_json::to_value(&s).unwrap(), json!("p-7"));
    }

    #[test]
    fn saved_versions_are_checked_field_by_field() {
        let good = SavedVersion {
            version: 1,
            sha256: "ab".repeat(32),
            size_bytes: 684,
            volume_mm3: 24000.0,
            estimated_print_seconds: 1800,
            unit_price_cents: 1250,
        };
        assert_eq!(good.check(), Ok(()));
        let short_hash = SavedVersion {
            sha256: "abc".into(),
            ..good.clone()
        };
        assert!(short_hash.check().unwrap_err().contains("sha256"));
        let empty = SavedVersion {
            size_bytes: 0,
            ..good
        };
        assert!(empty.check().unwrap_err().contains("size_bytes"));
    }
}
