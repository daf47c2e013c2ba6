//! `POST /orders` bodies. The JSON is read into [`OrderRequest`] by serde, so a value of the
//! wrong type or a missing one names its field (`customer.email`, `quantity`); then
//! [`OrderRequest::validate`] checks the values. The print-spec limits (design version,
//! quantity) are the shared ones of [`printflow_contracts::print_spec`], the same CRM and MES
//! apply.

use super::OrderError;
use printflow_contracts::messages::Shipping;
use printflow_contracts::orders::CustomerInput;
use printflow_contracts::print_spec::{check_design_version, check_quantity};
use printflow_contracts::PrintSpecError;
use printflow_web::typed;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// The body of `POST /orders` as sent. Unknown fields are ignored, as they always were.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OrderRequest {
    /// The design (a UUID string).
    pub design_id: Uuid,
    /// Its saved version.
    pub design_version: i32,
    /// Parts to print.
    pub quantity: i32,
    /// Delivery: `standard`, `express` or `pickup`.
    pub shipping: Shipping,
    /// The customer; `phone` may be absent, `null` or empty.
    pub customer: CustomerInput,
}

/// A validated order request.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceOrder {
    /// The design.
    pub design_id: Uuid,
    /// Its saved version.
    pub design_version: i32,
    /// Parts, within the print-spec limits.
    pub quantity: i32,
    /// Delivery.
    pub shipping: Shipping,
    /// The customer (sent to CRM; never logged).
    pub customer: CustomerInput,
}

fn invalid(field: &str, message: impl Into<String>) -> OrderError {
    OrderError::Validation {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl From<PrintSpecError> for OrderError {
    fn from(err: PrintSpecError) -> Self {
        invalid(err.field, err.message)
    }
}

impl From<typed::InvalidField> for OrderError {
    fn from(err: typed::InvalidField) -> Self {
        match err.field {
            Some(field) => OrderError::Validation {
                field,
                message: err.message,
            },
            // Only a body that is not an object has no field at fault.
            None => OrderError::NotAnObject,
        }
    }
}

/// Parses and validates a `POST /orders` body.
pub fn parse(body: &Value) -> Result<PlaceOrder, OrderError> {
    typed::from_json::<OrderRequest>(body)?.validate()
}

impl OrderRequest {
    /// Checks the values (types were checked by serde); the customer's fields come back
    /// trimmed, an empty phone as none.
    pub fn validate(self) -> Result<PlaceOrder, OrderError> {
        check_design_version(self.design_version)?;
        check_quantity(self.quantity)?;
        Ok(PlaceOrder {
            design_id: self.design_id,
            design_version: self.design_version,
            quantity: self.quantity,
            shipping: self.shipping,
            // The value rules are CRM's, shared through `CustomerInput::normalised`.
            customer: self
                .customer
                .normalised()
                .map_err(|e| invalid(e.field, e.message))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "design_id": Uuid::nil(),
            "design_version": 1,
            "quantity": 2,
            "shipping": "express",
            "customer": {"name": " Ada ", "email": "ada@example.org", "phone": "+44 20 7946 0000"}
        })
    }

    fn field_of(body: Value) -> String {
        match parse(&body) {
            Err(OrderError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_body_parses() {
        let p = parse(&good()).unwrap();
        assert_eq!(p.quantity, 2);
        assert_eq!(p.shipping, Shipping::Express);
        assert_eq!(p.customer.name, "Ada");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("design_id", json!("nope"), "design_id"),
            ("design_version", json!(0), "design_version"),
            ("design_version", json!("1"), "design_version"),
            ("quantity", json!(0), "quantity"),
            ("quantity", json!(101), "quantity"),
            ("quantity", json!(1.5), "quantity"),
            ("quantity", json!(1e12), "quantity"),
            ("quantity", json!(null), "quantity"),
            ("design_version", json!(4_294_967_296_i64), "design_version"),
            ("design_id", json!(42), "design_id"),
            ("shipping", json!("drone"), "shipping"),
            ("customer", json!("Ada"), "customer"),
        ];
        for (key, value, field) in cases {
            let mut body = good();
            body[key] = value;
            assert_eq!(field_of(body), field, "{key}");
        }
        for (key, value) in [
            ("name", json!("")),
            ("name", json!("x".repeat(201))),
            ("email", json!("ada.example.org")),
            ("email", json!("ada@localhost")),
            ("email", json!("a da@example.org")),
            ("phone", json!("call me")),
            ("phone", json!(12345)),
        ] {
            let mut body = good();
            body["customer"][key] = value;
            assert_eq!(field_of(body), format!("customer.{key}"), "{key}");
        }
        let mut body = good();
        body.as_object_mut().unwrap().remove("quantity");
        assert_eq!(field_of(body), "quantity");
        assert!(matches!(parse(&json!([1])), Err(OrderError::NotAnObject)));
    }
}
