//! Checks on `POST /orders` bodies. Pure functions, so every rule is unit-tested without a
//! database; the first failing rule names its field.

use printflow_contracts::orders::CreateOrderRequest;
use printflow_web::ApiError;

/// A request field with an unacceptable value (answered 422 with `field`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field at fault, dotted for nested fields (`customer.email`).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error for `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        ApiError::validation(err.field, err.message)
    }
}

/// Most parts one order may print.
pub const MAX_QUANTITY: i32 = 100;
/// Longest material code.
pub const MAX_MATERIAL_CHARS: usize = 50;

/// Validates `req` and returns it normalised: the customer as
/// [`CustomerInput::normalised`](printflow_contracts::orders::CustomerInput::normalised) leaves it,
/// material trimmed, the SHA-256 lower-cased.
pub fn validate_order(mut req: CreateOrderRequest) -> Result<CreateOrderRequest, FieldError> {
    req.customer = req
        .customer
        .normalised()
        .map_err(|e| FieldError::new(e.field, e.message))?;
    if req.design_version < 1 {
        return Err(FieldError::new(
            "design_version",
            format!("must be at least 1 (got {})", req.design_version),
        ));
    }
    req.model_sha256 = req.model_sha256.trim().to_ascii_lowercase();
    if req.model_sha256.len() != 64 || !req.model_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FieldError::new(
            "model_sha256",
            "must be 64 hexadecimal characters (a SHA-256 digest)",
        ));
    }
    positive("model_size_bytes", req.model_size_bytes)?;
    positive("estimated_print_seconds", req.estimated_print_seconds)?;
    req.material = req.material.trim().to_owned();
    let material_chars = req.material.chars().count();
    if material_chars == 0
        || material_chars > MAX_MATERIAL_CHARS
        || req.material.chars().any(char::is_control)
    {
        return Err(FieldError::new(
            "material",
            format!("must be 1..={MAX_MATERIAL_CHARS} printable characters"),
        ));
    }
    if !(1..=MAX_QUANTITY).contains(&req.quantity) {
        return Err(FieldError::new(
            "quantity",
            format!(
                "must be between 1 and {MAX_QUANTITY} (got {})",
                req.quantity
            ),
        ));
    }
    positive("total_price_cents", req.total_price_cents)?;
    Ok(req)
}

fn positive(field: &'static str, value: i64) -> Result<(), FieldError> {
    if value > 0 {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must be positive (got {value})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use printflow_contracts::messages::Shipping;
    use printflow_contracts::orders::CustomerInput;
    use uuid::Uuid;

    fn valid() -> CreateOrderRequest {
        CreateOrderRequest {
            order_id: Uuid::now_v7(),
            customer: CustomerInput {
                name: "  Ada Lovelace ".into(),
                email: "Ada@Example.org".into(),
                phone: Some("  ".into()),
            },
            design_id: Uuid::now_v7(),
            design_version: 1,
            model_sha256: "AB".repeat(32),
            model_size_bytes: 1,
            estimated_print_seconds: 1,
            material: "PLA".into(),
            quantity: 1,
            shipping: Shipping::Standard,
            total_price_cents: 1,
        }
    }

    fn field_of(req: CreateOrderRequest) -> &'static str {
        validate_order(req).unwrap_err().field
    }

    #[test]
    fn a_valid_request_is_normalised() {
        let out = validate_order(valid()).unwrap();
        assert_eq!(out.customer.name, "Ada Lovelace");
        assert_eq!(out.customer.email, "Ada@Example.org");
        assert_eq!(out.customer.phone, None);
        assert_eq!(out.model_sha256, "ab".repeat(32));
    }

    #[test]
    fn quantity_bounds() {
        for (q, ok) in [
            (0, false),
            (1, true),
            (100, true),
            (101, false),
            (-3, false),
        ] {
            let mut r = valid();
            r.quantity = q;
            assert_eq!(validate_order(r).is_ok(), ok, "quantity {q}");
        }
    }

    /// The customer rules themselves are tested with `CustomerInput::normalised`; here only
    /// that each reaches the request's validation with its field.
    #[test]
    fn customer_rules_apply() {
        let mut r = valid();
        r.customer.name = "   ".into();
        assert_eq!(field_of(r), "customer.name");
        let mut r = valid();
        r.customer.email = "a@b".into();
        assert_eq!(field_of(r), "customer.email");
        let mut r = valid();
        r.customer.phone = Some("call me".into());
        assert_eq!(field_of(r), "customer.phone");
    }

    #[test]
    fn sha_sizes_prices_and_version() {
        let mut r = valid();
        r.model_sha256 = "g".repeat(64);
        assert_eq!(field_of(r), "model_sha256");
        let mut r = valid();
        r.model_sha256 = "a".repeat(63);
        assert_eq!(field_of(r), "model_sha256");
        let mut r = valid();
        r.model_size_bytes = 0;
        assert_eq!(field_of(r), "model_size_bytes");
        let mut r = valid();
        r.estimated_print_seconds = -1;
        assert_eq!(field_of(r), "estimated_print_seconds");
        let mut r = valid();
        r.total_price_cents = 0;
        assert_eq!(field_of(r), "total_price_cents");
        let mut r = valid();
        r.design_version = 0;
        assert_eq!(field_of(r), "design_version");
        let mut r = valid();
        r.material = " ".into();
        assert_eq!(field_of(r), "material");
    }
}
