//! Validation of `POST /orders` bodies. The body is read as JSON and checked field by field, so
//! every problem names its field (`customer.email`, `quantity`) instead of a serde message.

use super::OrderError;
use printflow_contracts::messages::Shipping;
use printflow_contracts::orders::CustomerInput;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Most parts in one order.
pub const MAX_QUANTITY: i64 = 100;

/// A validated order request.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceOrder {
    /// The design.
    pub design_id: Uuid,
    /// Its saved version.
    pub design_version: i32,
    /// Parts, 1..=100.
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

fn required<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<&'a Value, OrderError> {
    obj.get(field)
        .filter(|v| !v.is_null())
        .ok_or_else(|| invalid(path, format!("{path} is required")))
}

fn string<'a>(obj: &'a Map<String, Value>, field: &str, path: &str) -> Result<&'a str, OrderError> {
    required(obj, field, path)?
        .as_str()
        .ok_or_else(|| invalid(path, format!("{path} must be a string")))
}

fn integer(obj: &Map<String, Value>, field: &str) -> Result<i64, OrderError> {
    required(obj, field, field)?
        .as_i64()
        .ok_or_else(|| invalid(field, format!("{field} must be a whole number")))
}

/// Validates a `POST /orders` body.
pub fn parse(body: &Value) -> Result<PlaceOrder, OrderError> {
    let obj = body.as_object().ok_or(OrderError::NotAnObject)?;
    let design_id = string(obj, "design_id", "design_id")?;
    let design_id = Uuid::parse_str(design_id).map_err(|_| {
        invalid(
            "design_id",
            format!("design_id `{design_id}` is not a UUID"),
        )
    })?;
    let design_version = integer(obj, "design_version")?;
    let design_version = i32::try_from(design_version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            invalid(
                "design_version",
                "design_version must be a saved version number (1 or more)",
            )
        })?;
    let quantity = integer(obj, "quantity")?;
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(invalid(
            "quantity",
            format!("quantity must be between 1 and {MAX_QUANTITY}"),
        ));
    }
    let shipping = match string(obj, "shipping", "shipping")? {
        "standard" => Shipping::Standard,
        "express" => Shipping::Express,
        "pickup" => Shipping::Pickup,
        other => {
            return Err(invalid(
                "shipping",
                format!("unknown shipping `{other}`; allowed: standard, express, pickup"),
            ))
        }
    };
    let customer = required(obj, "customer", "customer")?
        .as_object()
        .ok_or_else(|| invalid("customer", "customer must be an object"))?;
    // Type checks here (each names its field); the value rules are CRM's, shared through
    // `CustomerInput::normalised`.
    let phone = match customer.get("phone") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(invalid("customer.phone", "customer.phone must be a string")),
    };
    let customer = CustomerInput {
        name: string(customer, "name", "customer.name")?.to_owned(),
        email: string(customer, "email", "customer.email")?.to_owned(),
        phone,
    }
    .normalised()
    .map_err(|e| invalid(e.field, e.message))?;
    Ok(PlaceOrder {
        design_id,
        design_version,
        quantity: quantity as i32,
        shipping,
        customer,
    })
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
