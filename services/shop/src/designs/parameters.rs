//! The parameters of a design: what the customer edits and what a saved version freezes.

use crate::catalog::product::Product;
use crate::model::material::Material;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Smallest accepted dimension, mm.
pub const MIN_DIMENSION_MM: f64 = 1.0;
/// Largest accepted dimension, mm (the printer may be smaller: that is checked at save).
pub const MAX_DIMENSION_MM: f64 = 1000.0;
/// Longest engraving, characters.
pub const MAX_ENGRAVING_CHARS: usize = 32;
/// Colour of a new design.
pub const DEFAULT_COLOUR: &str = "white";
/// The named colours we stock filament/resin in; anything else must be `#rrggbb`.
pub const PALETTE: [&str; 12] = [
    "white", "black", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink",
    "brown", "natural",
];

/// The parametric shape of a design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A rectangular box: width (X) x depth (Y) x height (Z).
    Box,
    /// An upright cylinder: diameter x height.
    Cylinder,
}

impl Shape {
    /// The dimensions this shape has.
    pub fn dimensions(self) -> &'static [Dimension] {
        match self {
            Shape::Box => &[Dimension::Width, Dimension::Depth, Dimension::Height],
            Shape::Cylinder => &[Dimension::Diameter, Dimension::Height],
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Box => "box",
            Shape::Cylinder => "cylinder",
        }
    }
}

/// One editable dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dimension {
    /// Box width (X).
    #[serde(rename = "width_mm")]
    Width,
    /// Box depth (Y).
    #[serde(rename = "depth_mm")]
    Depth,
    /// Height (Z), both shapes.
    #[serde(rename = "height_mm")]
    Height,
    /// Cylinder diameter.
    #[serde(rename = "diameter_mm")]
    Diameter,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 4] = [
        Dimension::Width,
        Dimension::Depth,
        Dimension::Height,
        Dimension::Diameter,
    ];

    /// The wire spelling (`width_mm`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Width => "width_mm",
            Dimension::Depth => "depth_mm",
            Dimension::Height => "height_mm",
            Dimension::Diameter => "diameter_mm",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A design's parameters. Dimensions are the printed size in mm (already scaled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignParameters {
    /// The shape (fixed by the product).
    pub shape: Shape,
    /// Box width, mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width_mm: Option<f64>,
    /// Box depth, mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_mm: Option<f64>,
    /// Height, mm.
    pub height_mm: f64,
    /// Cylinder diameter, mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diameter_mm: Option<f64>,
    /// Product of every accepted `scale` factor so far (1.0 = as designed); informational, the
    /// dimensions above already include it.
    pub scale: f64,
    /// Material.
    pub material: Material,
    /// A palette name or `#rrggbb` (lower case).
    pub colour: String,
    /// Text engraved on the part (empty = none). Does not change the mesh.
    pub engraving: String,
}

impl DesignParameters {
    /// The product's defaults. `None` when the product row is inconsistent (cannot happen with
    /// the catalog's CHECK constraints).
    pub fn from_product(p: &Product) -> Option<DesignParameters> {
        let shape = match p.shape.as_str() {
            "box" => Shape::Box,
            "cylinder" => Shape::Cylinder,
            _ => return None,
        };
        let params = DesignParameters {
            shape,
            width_mm: p.width_mm,
            depth_mm: p.depth_mm,
            height_mm: p.height_mm,
            diameter_mm: p.diameter_mm,
            scale: 1.0,
            material: p.material.parse().ok()?,
            colour: DEFAULT_COLOUR.to_owned(),
            engraving: String::new(),
        };
        let complete = shape.dimensions().iter().all(|d| params.get(*d).is_some());
        complete.then_some(params)
    }

    /// The value of `dim`, if this shape has it.
    pub fn get(&self, dim: Dimension) -> Option<f64> {
        match dim {
            Dimension::Width => self.width_mm,
            Dimension::Depth => self.depth_mm,
            Dimension::Height => Some(self.height_mm),
            Dimension::Diameter => self.diameter_mm,
        }
    }

    /// Sets `dim` (the caller has checked the shape has it).
    pub fn set(&mut self, dim: Dimension, value: f64) {
        match dim {
            Dimension::Width => self.width_mm = Some(value),
            Dimension::Depth => self.depth_mm = Some(value),
            Dimension::Height => self.height_mm = value,
            Dimension::Diameter => self.diameter_mm = Some(value),
        }
    }
}

/// Normalises a colour: a palette name (any case) or `#rrggbb`; `None` if neither.
pub fn normalise_colour(raw: &str) -> Option<String> {
    let c = raw.trim().to_ascii_lowercase();
    let is_hex = c
        .strip_prefix('#')
        .is_some_and(|h| h.len() == 6 && h.chars().all(|ch| ch.is_ascii_hexdigit()));
    (is_hex || PALETTE.contains(&c.as_str())).then_some(c)
}

/// Checks an engraving: at most [`MAX_ENGRAVING_CHARS`] printable characters (no control
/// characters, no line breaks or tabs).
pub fn check_engraving(text: &str) -> Result<(), String> {
    let count = text.chars().count();
    if count > MAX_ENGRAVING_CHARS {
        return Err(format!(
            "engraving has {count} characters; at most {MAX_ENGRAVING_CHARS} fit"
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| c.is_control() || (c.is_whitespace() && *c != ' '))
    {
        return Err(format!(
            "engraving contains the unprintable character U+{:04X}",
            bad as u32
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert_eq!(normalise_colour(" Red ").as_deref(), Some("red"));
        assert_eq!(normalise_colour("#A0b1C2").as_deref(), Some("#a0b1c2"));
        assert_eq!(normalise_colour("#a0b1c"), None);
        assert_eq!(normalise_colour("#a0b1cz"), None);
        assert_eq!(normalise_colour("chartreuse"), None);
    }

    #[test]
    fn engravings() {
        assert!(check_engraving("").is_ok());
        assert!(check_engraving("Für Oma, 2025!").is_ok());
        assert!(check_engraving(&"x".repeat(32)).is_ok());
        assert!(check_engraving(&"x".repeat(33)).is_err());
        assert!(check_engraving("two\nlines").is_err());
        assert!(check_engraving("bell\u{7}").is_err());
    }

    #[test]
    fn parameters_serialise_only_the_shapes_dimensions() {
        let p = DesignParameters {
            shape: Shape::Cylinder,
            width_mm: None,
            depth_mm: None,
            height_mm: 20.0,
            diameter_mm: Some(30.0),
            scale: 1.0,
            material: Material::Pla,
            colour: "white".into(),
            engraving: String::new(),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert!(v.get("width_mm").is_none());
        assert_eq!(v["diameter_mm"], 30.0);
        assert_eq!(v["material"], "PLA");
        let back: DesignParameters = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
    }
}
