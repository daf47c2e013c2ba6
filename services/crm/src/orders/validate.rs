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

/// Longest customer name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest phone number as typed.
pub const MAX_PHONE_CHARS: usize = 32;

/// Validates `req` and returns it normalised: names, e-mail and phone trimmed, an empty phone
/// dropped, the print spec normalised by its
/// [`validate`](printflow_contracts::PrintSpec::validate).
pub fn validate_order(mut req: CreateOrderRequest) -> Result<CreateOrderRequest, FieldError> {
    req.customer.name = req.customer.name.trim().to_owned();
    let name_chars = req.customer.name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "customer.name",
            format!("must be 1..={MAX_NAME_CHARS} characters (got {name_chars})"),
        ));
    }
    if req.customer.name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "customer.name",
            "must not contain control characters",
        ));
    }
    req.customer.email = req.customer.email.trim().to_owned();
    check_email(&req.customer.email)?;
    req.customer.phone = req
        .customer
        .phone
        .take()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());
    if let Some(phone) = &req.customer.phone {
        check_phone(phone)?;
    }
    req.spec = req.spec.validate()?;
    if req.total_price_cents <= 0 {
        return Err(FieldError::new(
            "total_price_cents",
            format!("must be positive (got {})", req.total_price_cents),
        ));
    }
    Ok(req)
}

/// A plausible address: `local@domain.tld`, no spaces, one `@`. Deliverability is not our call.
fn check_email(email: &str) -> Result<(), FieldError> {
    let bad =
        |why: &str| FieldError::new("customer.email", format!("is not an e-mail address: {why}"));
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        return Err(bad("must be 1..=254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain spaces"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(bad("missing `@`"));
    };
    if local.is_empty() || domain.contains('@') {
        return Err(bad("expected exactly one `@` after a non-empty name"));
    }
    let labels_ok = domain.split('.').all(|label| !label.is_empty());
    if !domain.contains('.') || !labels_ok {
        return Err(bad("the domain must look like `example.com`"));
    }
    Ok(())
}

/// Digits with the usual separators (`+49 (30) 123-456`).
fn check_phone(phone: &str) -> Result<(), FieldError> {
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | ' ' | '.');
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if phone.chars().count() > MAX_PHONE_CHARS || !phone.chars().all(allowed) || digits < 3 {
        return Err(FieldError::new(
            "customer.phone",
            format!("must be at most {MAX_PHONE_CHARS} characters of digits, spaces and + - ( ) ."),
        ));
    }
    Ok(())
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
                email: " Ada@Example.org ".into(),
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

    #[test]
    fn name_bounds() {
        let mut r = valid();
        r.customer.name = "   ".into();
        assert_eq!(field_of(r), "customer.name");
        let mut r = valid();
        r.customer.name = "x".repeat(201);
        assert_eq!(field_of(r), "customer.name");
        let mut r = valid();
        r.customer.name = "é".repeat(200);
        assert!(
            validate_order(r).is_ok(),
            "200 characters (not bytes) are fine"
        );
    }

    #[test]
    fn email_shapes() {
        for bad in [
            "",
            "plain",
            "@example.org",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            "a@.org",
            "a@b..org",
        ] {
            let mut r = valid();
            r.customer.email = bad.into();
            assert_eq!(field_of(r), "customer.email", "{bad:?}");
        }
        let mut r = valid();
        r.customer.email = "first.last+tag@sub.example.co.uk".into();
        assert!(validate_order(r).is_ok());
    }

    #[test]
    fn phone_shapes() {
        let mut r = valid();
        r.customer.phone = Some("+49 (30) 123-456".into());
        assert!(validate_order(r).is_ok());
        for bad in ["call me", "12", &"1".repeat(33)] {
            let mut r = valid();
            r.customer.phone = Some(bad.to_string());
            assert_eq!(field_of(r), "customer.phone", "{bad:?}");
        }
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
