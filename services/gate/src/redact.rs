//! Redaction at the gate: the second line behind the services' own rule that personal data never
//! enters telemetry (docs/telemetry.md). Attribute values under a deny-listed key, and string
//! values containing an e-mail address, a phone number or a payment card number, are masked
//! before a batch is stored; the caller gets the count by attribute key (a service that leaks
//! shows up in the metrics under the key to fix).
//!
//! The rules are data (`config/gate/redaction.toml`, read by [`Redactor::load`]); the matchers are
//! in `patterns`. What is looked at:
//!
//! - the attributes of resources, instrumentation scopes, spans, span events and span links;
//! - values nested in arrays and key-value lists, at any depth. A nested list's keys are matched
//!   as `outer.inner` (`http.request.header` = `{authorization: …}` matches the deny key
//!   `http.request.header.authorization`), and what is masked inside counts under the
//!   top-level attribute key (the one a Jaeger search and the metric show);
//! - a deny-listed key is masked whatever its value's type (the value becomes the mask string,
//!   one count); only string values are scanned for patterns, and a string that matches is
//!   masked whole (a partial mask could leave the rest of an address or number readable);
//! - `service.name` is never touched: the gate and Jaeger identify the writing service by it.
//!
//! A value already equal to the mask is left alone and not counted, so redacting twice (a
//! retried batch) counts nothing the second time.

mod patterns;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use patterns::Pattern;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// The one key never masked nor scanned, whatever the rules say.
const SERVICE_NAME: &str = "service.name";

/// The redaction rules, checked: ready to mask batches.
#[derive(Debug, Clone)]
pub struct Redactor {
    mask: String,
    deny: Vec<KeyPattern>,
    skip_scan: Vec<KeyPattern>,
    patterns: Vec<Pattern>,
}

/// The rules file as written; `Spanned` keeps each entry's place for the error message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    mask: Spanned<String>,
    deny_keys: Vec<Spanned<String>>,
    patterns: Vec<Spanned<String>>,
    // Optional: an absent list scans everything, the safe direction.
    #[serde(default)]
    skip_value_scan: Vec<Spanned<String>>,
}

/// An unusable rules file: what is wrong, and on which line when that is known.
#[derive(Debug)]
pub struct RedactionConfigError {
    line: Option<usize>,
    message: String,
}

impl RedactionConfigError {
    fn at(text: &str, offset: Option<usize>, message: impl Into<String>) -> RedactionConfigError {
        RedactionConfigError {
            // 1-based, like editors and the toml crate's own messages.
            line: offset.map(|offset| {
                let upto = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
                upto.iter().filter(|&&c| c == b'\n').count() + 1
            }),
            message: message.into(),
        }
    }
}

impl fmt::Display for RedactionConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for RedactionConfigError {}

/// A key rule: `exact.key`, `prefix.*`, `*suffix` or `*substring*`, matched ASCII
/// case-insensitively (keys are lower case by convention, but a service's typo must not leak).
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyPattern {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
}

impl KeyPattern {
    fn parse(text: &str) -> Result<KeyPattern, &'static str> {
        let (leading, rest) = text.strip_prefix('*').map_or((false, text), |r| (true, r));
        let (trailing, core) = rest.strip_suffix('*').map_or((false, rest), |c| (true, c));
        if core.is_empty() {
            // "" matches nothing useful; "*" and "**" would mask or skip every attribute.
            return Err("a key pattern needs text besides `*`");
        }
        if core.contains('*') {
            return Err("`*` may only open or close a key pattern");
        }
        let core = core.to_owned();
        Ok(match (leading, trailing) {
            (false, false) => KeyPattern::Exact(core),
            (false, true) => KeyPattern::Prefix(core),
            (true, false) => KeyPattern::Suffix(core),
            (true, true) => KeyPattern::Contains(core),
        })
    }

    fn matches(&self, key: &str) -> bool {
        let key = key.as_bytes();
        match self {
            KeyPattern::Exact(p) => key.eq_ignore_ascii_case(p.as_bytes()),
            KeyPattern::Prefix(p) => key
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
            KeyPattern::Suffix(p) => key
                .len()
                .checked_sub(p.len())
                .and_then(|start| key.get(start..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case(p.as_bytes())),
            KeyPattern::Contains(p) => key
                .windows(p.len())
                .any(|part| part.eq_ignore_ascii_case(p.as_bytes())),
        }
    }
}

impl Redactor {
    /// Reads and checks the rules (`config/gate/redaction.toml` documents the format): a TOML
    /// error, an unknown field, an empty mask, an unknown pattern name, a malformed key pattern
    /// or an entry listed twice is refused, with its line.
    pub fn from_toml(text: &str) -> Result<Redactor, RedactionConfigError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| {
            RedactionConfigError::at(text, e.span().map(|s| s.start), e.message().trim_end())
        })?;
        let error = |entry: &Spanned<String>, message: String| {
            RedactionConfigError::at(text, Some(entry.span().start), message)
        };
        if file.mask.get_ref().trim().is_empty() {
            return Err(error(
                &file.mask,
                "mask must not be empty or blank".to_owned(),
            ));
        }
        refuse_repeats(&file.deny_keys, "deny_keys", error)?;
        refuse_repeats(&file.patterns, "patterns", error)?;
        refuse_repeats(&file.skip_value_scan, "skip_value_scan", error)?;
        let keys = |list: &[Spanned<String>], field: &str| {
            list.iter()
                .map(|entry| {
                    KeyPattern::parse(entry.get_ref()).map_err(|why| {
                        error(entry, format!("{field}: {:?}: {why}", entry.get_ref()))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let deny = keys(&file.deny_keys, "deny_keys")?;
        let skip_scan = keys(&file.skip_value_scan, "skip_value_scan")?;
        let patterns = file
            .patterns
            .iter()
            .map(|entry| {
                Pattern::from_name(entry.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = Pattern::ALL.iter().map(|p| p.name()).collect();
                    let known = known.join(", ");
                    let name = entry.get_ref();
                    error(
                        entry,
                        format!("patterns: unknown pattern {name:?} (known: {known})"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Redactor {
            mask: file.mask.into_inner(),
            deny,
            skip_scan,
            patterns,
        })
    }

    /// [`Redactor::from_toml`] on the file at `path`; the error names the path.
    pub fn load(path: &Path) -> anyhow::Result<Redactor> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read the redaction rules {}: {e}", path.display())
        })?;
        Redactor::from_toml(&text)
            .map_err(|e| anyhow::anyhow!("invalid redaction rules {}: {e}", path.display()))
    }

    /// Masks every matching attribute value in `request` in place; returns how many values were
    /// masked, by top-level attribute key (empty when nothing matched). Allocates nothing for a
    /// batch without a match and without nested values.
    pub fn redact(&self, request: &mut ExportTraceServiceRequest) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        // The `outer.inner` key of a nested value, reused for the whole batch.
        let mut path = String::new();
        let mut walk = |attributes: &mut Vec<KeyValue>| {
            self.redact_attributes(attributes, &mut path, &mut counts);
        };
        for resource_spans in &mut request.resource_spans {
            if let Some(resource) = &mut resource_spans.resource {
                walk(&mut resource.attributes);
            }
            for scope_spans in &mut resource_spans.scope_spans {
                if let Some(scope) = &mut scope_spans.scope {
                    walk(&mut scope.attributes);
                }
                for span in &mut scope_spans.spans {
                    walk(&mut span.attributes);
                    for event in &mut span.events {
                        walk(&mut event.attributes);
                    }
                    for link in &mut span.links {
                        walk(&mut link.attributes);
                    }
                }
            }
        }
        counts
    }

    fn redact_attributes(
        &self,
        attributes: &mut [KeyValue],
        path: &mut String,
        counts: &mut BTreeMap<String, u64>,
    ) {
        for KeyValue { key, value, .. } in attributes {
            let Some(value) = value else { continue };
            if key.as_str() == SERVICE_NAME {
                continue;
            }
            let masked = if self.deny.iter().any(|p| p.matches(key)) {
                u64::from(self.mask_value(value))
            } else {
                let scan =
                    !self.patterns.is_empty() && !self.skip_scan.iter().any(|p| p.matches(key));
                match &mut value.value {
                    Some(Value::StringValue(s)) => u64::from(scan && self.mask_if_matching(s)),
                    Some(Value::ArrayValue(_) | Value::KvlistValue(_)) => {
                        path.clear();
                        path.push_str(key);
                        self.redact_nested(value, path, scan)
                    }
                    _ => 0,
                }
            };
            if masked > 0 {
                match counts.get_mut(key.as_str()) {
                    Some(count) => *count += masked,
                    None => {
                        counts.insert(key.clone(), masked);
                    }
                }
            }
        }
    }

    /// Masks inside a nested value whose key path is `path`; returns how many values it masked.
    /// Depth is bounded by the protobuf decoder's recursion limit.
    fn redact_nested(&self, value: &mut AnyValue, path: &mut String, scan: bool) -> u64 {
        match &mut value.value {
            Some(Value::StringValue(s)) => u64::from(scan && self.mask_if_matching(s)),
            Some(Value::ArrayValue(array)) => array
                .values
                .iter_mut()
                .map(|v| self.redact_nested(v, path, scan))
                .sum(),
            Some(Value::KvlistValue(list)) => {
                let mut masked = 0;
                for KeyValue { key, value, .. } in &mut list.values {
                    let Some(value) = value else { continue };
                    let outer = path.len();
                    path.push('.');
                    path.push_str(key);
                    masked += if self.deny.iter().any(|p| p.matches(path)) {
                        u64::from(self.mask_value(value))
                    } else {
                        let scan = scan && !self.skip_scan.iter().any(|p| p.matches(path));
                        self.redact_nested(value, path, scan)
                    };
                    path.truncate(outer);
                }
                masked
            }
            _ => 0,
        }
    }

    /// Replaces a deny-listed value, of any type, by the mask; false if it already was the mask.
    fn mask_value(&self, value: &mut AnyValue) -> bool {
        match &mut value.value {
            Some(Value::StringValue(s)) if *s == self.mask => false,
            // Reuses the string's buffer.
            Some(Value::StringValue(s)) => {
                s.clear();
                s.push_str(&self.mask);
                true
            }
            // An empty `AnyValue` holds nothing to hide.
            None => false,
            other => {
                *other = Some(Value::StringValue(self.mask.clone()));
                true
            }
        }
    }

    /// Masks `s` whole if any pattern is in it.
    fn mask_if_matching(&self, s: &mut String) -> bool {
        if *s == self.mask || !self.patterns.iter().any(|p| p.is_in(s)) {
            return false;
        }
        s.clear();
        s.push_str(&self.mask);
        true
    }
}

/// Refuses an entry listed twice in `field` (a sign of a merge gone wrong or a confused edit).
fn refuse_repeats(
    list: &[Spanned<String>],
    field: &str,
    error: impl Fn(&Spanned<String>, String) -> RedactionConfigError,
) -> Result<(), RedactionConfigError> {
    for (i, entry) in list.iter().enumerate() {
        if list.iter().take(i).any(|e| e.get_ref() == entry.get_ref()) {
            return Err(error(
                entry,
                format!("{field}: {:?} is listed twice", entry.get_ref()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    const RULES: &str = r#"
mask = "[REDACTED]"
deny_keys = ["customer.email", "http.request.header.authorization", "*password*", "user.*", "*token"]
patterns = ["email", "phone", "payment_card"]
skip_value_scan = ["*.reference"]
"#;

    fn any(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    fn string(s: &str) -> AnyValue {
        any(Value::StringValue(s.to_owned()))
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..Default::default()
        }
    }

    fn kvlist(entries: Vec<KeyValue>) -> AnyValue {
        any(Value::KvlistValue(KeyValueList { values: entries }))
    }

    fn array(values: Vec<AnyValue>) -> AnyValue {
        any(Value::ArrayValue(ArrayValue { values }))
    }

    fn value_of<'a>(attributes: &'a [KeyValue], key: &str) -> &'a AnyValue {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .unwrap()
    }

    fn masked() -> AnyValue {
        string("[REDACTED]")
    }

    fn batch() -> ExportTraceServiceRequest {
        let span = Span {
            name: "order.create".into(),
            attributes: vec![
                kv("order.id", string("0193a1c2-7b4e-7cc1-9e1f-3a2b4c5d6e7f")),
                kv("customer.email", string("ada@example.com")),
                kv("user.phone_verified", any(Value::BoolValue(true))),
                kv(
                    "exception.message",
                    string("customer ada@example.com exists"),
                ),
                kv(
                    "db.query.text",
                    string("SELECT * FROM orders WHERE id = $1"),
                ),
                kv("payment.reference", string("4111111111111111")),
                kv("notes", string("4111111111111111")),
                kv(
                    "order.quantity",
                    any(Value::IntValue(4_111_111_111_111_111)),
                ),
                kv(
                    "contacts",
                    array(vec![
                        string("+44 20 7946 0958"),
                        string("2026-12-01T16:35:18.123Z"),
                        string("555-123-4567"),
                    ]),
                ),
                kv(
                    "http.request.header",
                    kvlist(vec![
                        kv("authorization", array(vec![string("Bearer eyJhbGciOi")])),
                        kv("accept", string("application/x-protobuf")),
                        kv("x-forwarded-for", string("bob@example.org")),
                        kv(
                            "nested",
                            kvlist(vec![kv("db_password", any(Value::IntValue(1234)))]),
                        ),
                    ]),
                ),
            ],
            events: vec![Event {
                name: "order.create.conflict".into(),
                attributes: vec![
                    kv("order.create.conflicting_field", string("customer.email")),
                    kv("reason", string("card 5555-5555-5555-4444 declined")),
                ],
                ..Default::default()
            }],
            links: vec![Link {
                attributes: vec![
                    kv("link.note", string("from carol@example.net")),
                    kv("access_token", string("abc")),
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", string("crm-api")),
                        kv("service.version", string("0.1.0")),
                        kv("host.owner", string("ops@example.com")),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "crm".into(),
                        attributes: vec![kv("scope.contact", string("+1 (555) 123-4567"))],
                        ..Default::default()
                    }),
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn masks_everywhere_and_counts_by_top_level_key() {
        let redactor = Redactor::from_toml(RULES).unwrap();
        let mut request = batch();
        let counts = redactor.redact(&mut request);
        let expected: BTreeMap<String, u64> = [
            ("access_token", 1),
            ("contacts", 2),
            ("customer.email", 1),
            ("exception.message", 1),
            ("host.owner", 1),
            ("http.request.header", 3),
            ("link.note", 1),
            ("notes", 1),
            ("reason", 1),
            ("scope.contact", 1),
            ("user.phone_verified", 1),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_owned(), n))
        .collect();
        assert_eq!(counts, expected);

        let resource_spans = &request.resource_spans[0];
        let resource = &resource_spans.resource.as_ref().unwrap().attributes;
        assert_eq!(*value_of(resource, "service.name"), string("crm-api"));
        assert_eq!(*value_of(resource, "service.version"), string("0.1.0"));
        assert_eq!(*value_of(resource, "host.owner"), masked());
        let scope = &resource_spans.scope_spans[0];
        let scope_attributes = &scope.scope.as_ref().unwrap().attributes;
        assert_eq!(*value_of(scope_attributes, "scope.contact"), masked());

        let span = &scope.spans[0];
        let attrs = &span.attributes;
        assert_eq!(
            *value_of(attrs, "order.id"),
            string("0193a1c2-7b4e-7cc1-9e1f-3a2b4c5d6e7f")
        );
        assert_eq!(*value_of(attrs, "customer.email"), masked());
        // Deny-listed keys are masked whatever the type.
        assert_eq!(*value_of(attrs, "user.phone_verified"), masked());
        assert_eq!(*value_of(attrs, "exception.message"), masked());
        assert_eq!(
            *value_of(attrs, "db.query.text"),
            string("SELECT * FROM orders WHERE id = $1")
        );
        // Not value-scanned.
        assert_eq!(
            *value_of(attrs, "payment.reference"),
            string("4111111111111111")
        );
        assert_eq!(*value_of(attrs, "notes"), masked());
        // Only strings are scanned.
        assert_eq!(
            *value_of(attrs, "order.quantity"),
            any(Value::IntValue(4_111_111_111_111_111))
        );
        assert_eq!(
            *value_of(attrs, "contacts"),
            array(vec![masked(), string("2026-12-01T16:35:18.123Z"), masked()])
        );
        assert_eq!(
            *value_of(attrs, "http.request.header"),
            kvlist(vec![
                kv("authorization", masked()),
                kv("accept", string("application/x-protobuf")),
                kv("x-forwarded-for", masked()),
                kv("nested", kvlist(vec![kv("db_password", masked())])),
            ])
        );
        let event = &span.events[0].attributes;
        assert_eq!(
            *value_of(event, "order.create.conflicting_field"),
            string("customer.email")
        );
        assert_eq!(*value_of(event, "reason"), masked());
        let link = &span.links[0].attributes;
        assert_eq!(*value_of(link, "link.note"), masked());
        assert_eq!(*value_of(link, "access_token"), masked());

        // A retried batch: nothing more to mask, nothing counted.
        let once = request.clone();
        assert!(redactor.redact(&mut request).is_empty());
        assert_eq!(request, once);
    }

    #[test]
    fn service_name_is_never_touched() {
        let redactor = Redactor::from_toml(
            "mask = \"x\"\ndeny_keys = [\"service.*\", \"*name*\"]\npatterns = [\"email\"]",
        )
        .unwrap();
        let mut request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", string("a@example.com")),
                        kv("service.namespace", string("printflow")),
                    ],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        };
        let counts = redactor.redact(&mut request);
        assert_eq!(
            counts,
            BTreeMap::from([("service.namespace".to_owned(), 1)])
        );
        let resource = &request.resource_spans[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert_eq!(*value_of(resource, "service.name"), string("a@example.com"));
    }

    #[test]
    fn nothing_matching_changes_nothing() {
        let redactor = Redactor::from_toml(RULES).unwrap();
        let mut request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        attributes: vec![
                            kv("url.full", string("http://127.0.0.1:8081/api/orders/1")),
                            kv(
                                "messaging.rabbitmq.destination.routing_key",
                                string("order.created"),
                            ),
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let before = request.clone();
        assert!(redactor.redact(&mut request).is_empty());
        assert_eq!(request, before);
    }

    #[test]
    fn key_patterns_are_exact_prefix_suffix_or_substring() {
        let p = |s: &str| KeyPattern::parse(s).unwrap();
        assert!(p("customer.email").matches("customer.email"));
        assert!(p("customer.email").matches("Customer.Email"));
        assert!(!p("customer.email").matches("customer.email_verified"));
        assert!(p("user.*").matches("user.full_name"));
        assert!(!p("user.*").matches("enduser.id"));
        assert!(p("*token").matches("oauth.refresh_token"));
        assert!(!p("*token").matches("token.kind"));
        assert!(p("*password*").matches("db.PASSWORD_hash"));
        assert!(!p("*password*").matches("db.pass"));
        for bad in ["", "*", "**", "a*b", "*a*b*"] {
            assert!(KeyPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_rules_are_refused_with_what_and_where() {
        let err = |text: &str| Redactor::from_toml(text).unwrap_err().to_string();
        let base = "mask = \"[REDACTED]\"\ndeny_keys = []\n";
        assert_eq!(
            err(&format!("{base}patterns = [\"email\",\n  \"ssn\"]")),
            "line 4: patterns: unknown pattern \"ssn\" (known: email, phone, payment_card)"
        );
        assert_eq!(
            err("mask = \"\"\ndeny_keys = []\npatterns = []"),
            "line 1: mask must not be empty or blank"
        );
        assert_eq!(
            err(&format!("{base}patterns = []\nskip_value_scan = [\"a*b\"]")),
            "line 4: skip_value_scan: \"a*b\": `*` may only open or close a key pattern"
        );
        assert_eq!(
            err("mask = \"x\"\ndeny_keys = [\"a\", \"a\"]\npatterns = []"),
            "line 2: deny_keys: \"a\" is listed twice"
        );
        assert!(err(&format!("{base}pattern = []")).contains("unknown field `pattern`"));
        assert!(err(base).contains("missing field `patterns`"));
        assert!(err(&format!("{base}patterns = [")).starts_with("line 3: "));
    }

    #[test]
    fn load_names_the_file() {
        let missing = std::env::temp_dir().join(format!("redaction-{}.toml", uuid::Uuid::new_v4()));
        let message = format!("{:#}", Redactor::load(&missing).unwrap_err());
        assert!(
            message.contains(&missing.display().to_string()),
            "{message}"
        );

        let bad = std::env::temp_dir().join(format!("redaction-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&bad, "mask = \"\"\ndeny_keys = []\npatterns = []\n").unwrap();
        let message = format!("{:#}", Redactor::load(&bad).unwrap_err());
        std::fs::remove_file(&bad).unwrap();
        assert!(message.contains(&bad.display().to_string()), "{message}");
        assert!(
            message.ends_with("line 1: mask must not be empty or blank"),
            "{message}"
        );
    }

    #[test]
    fn the_shipped_rules_load_and_mask_what_they_should() {
        let redactor =
            Redactor::from_toml(include_str!("../../../config/gate/redaction.toml")).unwrap();
        assert_eq!(redactor.patterns, Pattern::ALL);
        let mut request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", string("crm-api"))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        attributes: vec![
                            kv("customer.name", string("Ada Lovelace")),
                            kv("customer.phone", string("0171 2345")),
                            kv(
                                "customer.id",
                                string("0193a1c2-7b4e-7cc1-9e1f-3a2b4c5d6e7f"),
                            ),
                            kv("enduser.id", string("f47ac10b-58cc-4372-a567-0e02b2c3d479")),
                            kv("http.request.header.authorization", string("Bearer x")),
                            kv("catalog.search.query", string("mug for ada@example.com")),
                            kv(
                                "design.model.sha256",
                                string("4111111111111111e3b0c44298fc1c149afbf4c8996fb924"),
                            ),
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let counts = redactor.redact(&mut request);
        let keys: Vec<&str> = counts.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "catalog.search.query",
                "customer.name",
                "customer.phone",
                "http.request.header.authorization"
            ]
        );
    }
}
