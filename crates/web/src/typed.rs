//! Typed request parsing that still names the field at fault.
//!
//! Handlers describe a body or a query string as a `#[derive(Deserialize)]` type and parse it
//! here; a value of the wrong type or a missing field comes back as an [`InvalidField`] whose
//! `field` is the path to it in the request (`quantity`, `customer.email`, `operations[1]`), the
//! same spelling the `field` of an [`ApiError`](crate::ApiError) uses, instead of axum's
//! whole-body rejection text. Checks beyond types (ranges, formats) stay in each type's own
//! `validate()`.

use serde::Deserialize;
use serde_json::Value;
use serde_path_to_error::Segment;

/// A request value that does not fit the expected type, or a required one that is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidField {
    /// Path to the value in the request (`customer.email`, `operations[1].value`); `None`
    /// when the request as a whole has the wrong shape.
    pub field: Option<String>,
    /// What is wrong, starting with the field's path.
    pub message: String,
}

/// Parses `value` (a JSON body) as `T`. A body that is not a JSON object is refused with no
/// field: serde would otherwise read an array positionally into a struct.
pub fn from_json<'de, T: Deserialize<'de>>(value: &'de Value) -> Result<T, InvalidField> {
    if !value.is_object() {
        return Err(InvalidField {
            field: None,
            message: "the body must be a JSON object".to_owned(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| describe(e.path(), &e.inner().to_string()))
}

/// Parses a raw query string (`a=1&b=x`, percent-decoded here) as `T`.
pub fn from_query<T: for<'de> Deserialize<'de>>(query: &str) -> Result<T, InvalidField> {
    let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(pairs).map_err(|e| describe(e.path(), &e.inner().to_string()))
}

/// Turns serde's error at `path` into an [`InvalidField`]. serde reports a missing or repeated
/// field at the enclosing object, naming the field only in its message; the field is moved into
/// the path so it is named like every other problem.
fn describe(path: &serde_path_to_error::Path, message: &str) -> InvalidField {
    let mut field = render(path);
    let named = ["missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix)?.strip_suffix('`'));
    if let Some(name) = named {
        field = Some(match field {
            Some(parent) => format!("{parent}.{name}"),
            None => name.to_owned(),
        });
    }
    let message = match &field {
        None => message.to_owned(),
        // `null` for a value that is not optional reads as "missing" to a client too.
        Some(f)
            if message.starts_with("missing field")
                || message.starts_with("invalid type: null") =>
        {
            format!("{f} is required")
        }
        Some(f) => format!("{f}: {message}"),
    };
    InvalidField { field, message }
}

/// `customer.email`, `operations[1].value`; `None` for the request itself.
fn render(path: &serde_path_to_error::Path) -> Option<String> {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only deserialised: the tests look at the errors")]
    struct Body {
        quantity: i32,
        customer: Customer,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only deserialised: the tests look at the errors")]
    struct Customer {
        name: String,
        phone: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only deserialised: the tests look at the errors")]
    struct Item {
        value: f64,
    }

    fn field_of(v: Value) -> (Option<String>, String) {
        let e = from_json::<Body>(&v).unwrap_err();
        (e.field, e.message)
    }

    fn good() -> Value {
        json!({"quantity": 1, "customer": {"name": "Ada"}, "items": [{"value": 1}]})
    }

    #[test]
    fn each_problem_names_its_path() {
        assert!(from_json::<Body>(&good()).is_ok());
        let cases: [(&str, Value, &str); 4] = [
            ("quantity", json!("two"), "quantity"),
            ("quantity", json!(1e12), "quantity"),
            ("customer", json!(null), "customer"),
            (
                "items",
                json!([{"value": 1}, {"value": "x"}]),
                "items[1].value",
            ),
        ];
        for (key, value, path) in cases {
            let mut body = good();
            body[key] = value;
            assert_eq!(field_of(body).0.as_deref(), Some(path), "{key}");
        }
        let mut body = good();
        body["customer"].as_object_mut().unwrap().remove("name");
        assert_eq!(
            field_of(body),
            (
                Some("customer.name".to_owned()),
                "customer.name is required".to_owned()
            )
        );
        let mut body = good();
        body["customer"]["phone"] = json!(5);
        let (field, message) = field_of(body);
        assert_eq!(field.as_deref(), Some("customer.phone"));
        assert!(
            message.starts_with("customer.phone: invalid type"),
            "{message}"
        );
        assert_eq!(field_of(json!([1, 2])).0, None);
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Query {
        page: Option<u32>,
        q: Option<String>,
    }

    #[test]
    fn query_strings_are_decoded_and_named() {
        let q: Query = from_query("q=lamp%20shade&page=2&other=1").unwrap();
        assert_eq!(
            q,
            Query {
                page: Some(2),
                q: Some("lamp shade".into())
            }
        );
        assert_eq!(
            from_query::<Query>("page=x").unwrap_err().field.as_deref(),
            Some("page")
        );
        assert_eq!(
            from_query::<Query>("page=1&page=2")
                .unwrap_err()
                .field
                .as_deref(),
            Some("page")
        );
        assert_eq!(
            from_query::<Query>("").unwrap(),
            Query {
                page: None,
                q: None
            }
        );
    }
}
