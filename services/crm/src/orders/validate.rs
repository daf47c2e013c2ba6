//! Checks on `POST /orders` bodies. Pure functions, so every rule is unit-tested without a
//! database; the first failing rule names its field. The print spec (design version, model
//! checksum and size, print time, material, quantity) is checked by the one
//! [`PrintSpec::validate`](printflow_contracts::PrintSpec::validate) every party uses; the
//! customer and the price are CRM's own rules.

use printflow_contracts::orders::CreateOrderRequest;
use printflow_contracts::PrintSpecError;
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

impl From<PrintSpecError> for FieldError {
    fn from(err: PrintSpecError) -> Self {
        FieldError::new(err.field, err.message)
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        ApiError::validation(err.field, err.message)
    }
}

/// Validates `req` and returns it normalised: the customer as
/// [`CustomerInput::normalised`](printflow_contracts::orders::CustomerInput::normalised) leaves it,
/// the print spec as its [`validate`](printflow_contracts::PrintSpec::validate) leaves it.
pub fn validate_order(mut req: CreateOrderRequest) -> Result<CreateOrderRequest, FieldError> {
    req.customer = req
        .customer
        .normalised()
        .map_err(|e| FieldError::new(e.field, e.message))?;
    req.spec = req.spec.validate()?;
    if req.total_price_cents <= 0 {
        return Err(FieldError::new(
            "total_price_cents",
            format!("must be positive (got {})", req.total_price_cents),
        ));
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use printflow_contracts::messages::Shipping;
    use printflow_contracts::orders::CustomerInput;
    use printflow_contracts::print_spec::{PrintSpec, MAX_QUANTITY};
    use uuid::Uuid;

    fn valid() -> CreateOrderRequest {
        CreateOrderRequest {
            order_id: Uuid::now_v7(),
            customer: CustomerInput {
                name: "  Ada Lovelace ".into(),
                email: "Ada@Example.org".into(),
                phone: Some("  ".into()),
            },
            spec: PrintSpec {
                design_id: Uuid::now_v7(),
                design_version: 1,
                model_sha256: "AB".repeat(32),
                model_size_bytes: 1,
                estimated_print_seconds: 1,
                material: "pla".into(),
                quantity: 1,
            },
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
        assert_eq!(out.spec.model_sha256, "ab".repeat(32));
        assert_eq!(out.spec.material, "PLA");
    }

    #[test]
    fn quantity_bounds() {
        for (q, ok) in [
            (0, false),
            (1, true),
            (MAX_QUANTITY, true),
            (MAX_QUANTITY + 1, false),
            (-3, false),
        ] {
            let mut r = valid();
            r.spec.quantity = q;
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
    fn print_spec_fields_and_price_are_named() {
        let mut r = valid();
        r.spec.model_sha256 = "g".repeat(64);
        assert_eq!(field_of(r), "model_sha256");
        let mut r = valid();
        r.spec.model_sha256 = "a".repeat(63);
        assert_eq!(field_of(r), "model_sha256");
        let mut r = valid();
        r.spec.model_size_bytes = 0;
        assert_eq!(field_of(r), "model_size_bytes");
        let mut r = valid();
        r.spec.estimated_print_seconds = -1;
        assert_eq!(field_of(r), "estimated_print_seconds");
        let mut r = valid();
        r.total_price_cents = 0;
        assert_eq!(field_of(r), "total_price_cents");
        let mut r = valid();
        r.spec.design_version = 0;
        assert_eq!(field_of(r), "design_version");
        let mut r = valid();
        r.spec.material = " ".into();
        assert_eq!(field_of(r), "material");
    }
}
