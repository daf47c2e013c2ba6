//! The rules for the customer part of an order (name, e-mail, phone), written once: Shop checks
//! them before it calls CRM, CRM checks them again as the system of record, and both
//! `openapi.json` documents state them as `pattern`s that accept exactly what
//! [`CustomerInput::normalised`] accepts (the API conformance fuzzer holds them to that).
//!
//! "Blank" below is Unicode White_Space (what `str::trim` removes); "control" is category Cc
//! (`char::is_control`).

use crate::orders::CustomerInput;

/// Longest name, in characters, as sent (surrounding blanks included).
pub const MAX_NAME_CHARS: usize = 200;
/// Longest e-mail address, in characters (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest phone number, in characters, as sent.
pub const MAX_PHONE_CHARS: usize = 32;
/// Fewest digits in a phone number.
pub const MIN_PHONE_DIGITS: usize = 3;

/// A customer field with an unacceptable value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CustomerFieldError {
    /// The field at fault: `customer.name`, `customer.email` or `customer.phone`.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn error(field: &'static str, message: impl Into<String>) -> CustomerFieldError {
    CustomerFieldError {
        field,
        message: message.into(),
    }
}

impl CustomerInput {
    /// Checks every field and returns the customer normalised: name and phone trimmed, a blank
    /// phone dropped. The rules:
    /// - name: 1..=200 characters, no control character, not blank;
    /// - e-mail: at most 254 characters, `local@domain.tld` in ASCII: a local part of at most
    ///   64 characters, dot-separated words of letters, digits and ``!#$%&'*+/=?^_`{|}~-``; a
    ///   domain of two or more labels (letters, digits, inner hyphens; at most 63 each);
    /// - phone (optional): at most 32 characters of digits, spaces and `+ - ( ) .`, with at
    ///   least 3 digits unless it is all spaces (then it counts as absent).
    pub fn normalised(mut self) -> Result<CustomerInput, CustomerFieldError> {
        self.name = check_name(&self.name)?.to_owned();
        check_email(&self.email)?;
        self.phone = match self.phone.take() {
            None => None,
            Some(phone) => check_phone(&phone)?.map(str::to_owned),
        };
        Ok(self)
    }
}

fn check_name(name: &str) -> Result<&str, CustomerFieldError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(error(
            "customer.name",
            format!("customer.name must have 1 to {MAX_NAME_CHARS} characters (got {chars})"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(error(
            "customer.name",
            "customer.name must not contain control characters",
        ));
    }
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(error("customer.name", "customer.name must not be blank"));
    }
    Ok(trimmed)
}

/// The characters of an unquoted local part (RFC 5322 `atext`).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// A host name label: letters, digits and inner hyphens, at most 63 characters.
fn is_label(label: &str) -> bool {
    (1..=MAX_LABEL_CHARS).contains(&label.len())
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// Longest local part (before the `@`), RFC 5321.
const MAX_LOCAL_CHARS: usize = 64;
/// Longest domain label, RFC 1035.
const MAX_LABEL_CHARS: usize = 63;

/// The shape of an address as browsers check `<input type=email>` and as JSON Schema's `email`
/// format reads it (ASCII, unquoted): dot-separated words of `atext` (at most 64 characters), one
/// `@`, a host name of two or more labels. Deliverability is not our call.
fn check_email(email: &str) -> Result<(), CustomerFieldError> {
    let bad = |why: &str| {
        error(
            "customer.email",
            format!("customer.email is not an e-mail address: {why}"),
        )
    };
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        return Err(bad("must have 1 to 254 characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(bad("missing `@`"));
    };
    if local.len() > MAX_LOCAL_CHARS
        || !local
            .split('.')
            .all(|word| !word.is_empty() && word.chars().all(is_atext))
    {
        return Err(bad(
            "the part before `@` must be at most 64 letters, digits, dots (not first, last or \
             doubled) and !#$%&'*+/=?^_`{|}~-",
        ));
    }
    if !domain.contains('.') || !domain.split('.').all(is_label) {
        return Err(bad(
            "the domain must look like `example.com`: two or more labels of letters, digits \
             and inner hyphens",
        ));
    }
    Ok(())
}

/// `Ok(None)` for an all-spaces phone (treated as absent).
fn check_phone(phone: &str) -> Result<Option<&str>, CustomerFieldError> {
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | ' ' | '.');
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let trimmed = phone.trim_matches(' ');
    if phone.chars().count() > MAX_PHONE_CHARS
        || !phone.chars().all(allowed)
        || (!trimmed.is_empty() && digits < MIN_PHONE_DIGITS)
    {
        return Err(error(
            "customer.phone",
            format!(
                "customer.phone must be at most {MAX_PHONE_CHARS} characters of digits, spaces \
                 and + - ( ) . with at least {MIN_PHONE_DIGITS} digits"
            ),
        ));
    }
    Ok(Some(trimmed).filter(|p| !p.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(name: &str, email: &str, phone: Option<&str>) -> CustomerInput {
        CustomerInput {
            name: name.into(),
            email: email.into(),
            phone: phone.map(Into::into),
        }
    }

    fn field_of(c: CustomerInput) -> &'static str {
        c.normalised().unwrap_err().field
    }

    #[test]
    fn a_valid_customer_is_normalised() {
        let out = customer("  Ada Lovelace ", "Ada@Example.org", Some("  ")).normalised();
        assert_eq!(
            out.unwrap(),
            customer("Ada Lovelace", "Ada@Example.org", None)
        );
        let out = customer("Ada", "a@b.co", Some(" +49 (30) 123-456 ")).normalised();
        assert_eq!(out.unwrap().phone.as_deref(), Some("+49 (30) 123-456"));
    }

    #[test]
    fn names() {
        for bad in ["", "   ", "\u{2003}", "Ada\u{7}", "Ada\n", "\tAda"] {
            assert_eq!(
                field_of(customer(bad, "a@b.co", None)),
                "customer.name",
                "{bad:?}"
            );
        }
        assert_eq!(
            field_of(customer(&"x".repeat(201), "a@b.co", None)),
            "customer.name"
        );
        assert!(
            customer(&"é".repeat(200), "a@b.co", None)
                .normalised()
                .is_ok(),
            "200 characters (not bytes) are fine"
        );
    }

    #[test]
    fn emails() {
        for bad in [
            "",
            "plain",
            "@example.org",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            " a@b.org",
            "a@.org",
            "a@b..org",
            "a@b.org.",
            "a\u{1}@b.org",
            "ü@example.de",
            "a@bü.de",
            "a..b@x.y",
            ".a@x.y",
            "a@-x.y",
            "a@x_y.z",
            "\"a b\"@x.y",
            "a@[1.2.3.4]",
        ] {
            assert_eq!(
                field_of(customer("Ada", bad, None)),
                "customer.email",
                "{bad:?}"
            );
        }
        let long = format!("{}@example.org", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert_eq!(field_of(customer("Ada", &long, None)), "customer.email");
        let long_local = format!("{}@x.y", "a".repeat(65));
        assert_eq!(
            field_of(customer("Ada", &long_local, None)),
            "customer.email"
        );
        let long_label = format!("a@{}.c", "b".repeat(64));
        assert_eq!(
            field_of(customer("Ada", &long_label, None)),
            "customer.email"
        );
        for good in [
            "first.last+tag@sub.example.co.uk",
            "!#$%&'*+-/=?^_`{|}~@x.y",
            "a@b.123",
            "a@x--y.z",
            "A@B.COM",
        ] {
            assert!(customer("Ada", good, None).normalised().is_ok(), "{good:?}");
        }
    }

    #[test]
    fn phones() {
        for bad in ["call me", "12", "+-", "\t123", &"1".repeat(33)] {
            assert_eq!(
                field_of(customer("Ada", "a@b.co", Some(bad))),
                "customer.phone",
                "{bad:?}"
            );
        }
        for (raw, kept) in [("", None), ("  ", None), ("123", Some("123"))] {
            let out = customer("Ada", "a@b.co", Some(raw)).normalised().unwrap();
            assert_eq!(out.phone.as_deref(), kept, "{raw:?}");
        }
    }
}
