//! The trace-access policy (`config/gate/policy.toml`): which spans, and which of their
//! attributes, each realm role may see. [`Policy::from_toml`] validates the whole file up front
//! (a mistake is refused, never guessed around); [`Policy::view_for`] then gives a caller's
//! [`View`], which [`crate::filter`] applies to Jaeger's answers.

use anyhow::Context as _;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use toml::Spanned;

/// Most rules a policy may hold: the filter keeps the rules that show a span as the bits of a
/// [`RuleMask`]. One rule per role, so this is far above any realm's count of roles.
const MAX_RULES: usize = 64;

/// A set of a [`View`]'s rules: bit `i` stands for the view's `i`-th rule.
pub(crate) type RuleMask = u64;

/// The validated policy: one rule per role.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
}

/// What one role may see.
#[derive(Debug, Clone)]
struct Rule {
    role: String,
    services: Services,
    /// The patterns of the classes in `hide`: an attribute matching one is removed.
    hidden: Vec<Pattern>,
    messaging_parents: bool,
}

/// The services whose spans a rule shows.
#[derive(Debug, Clone)]
enum Services {
    /// Every span, also one whose service is unknown.
    All,
    Only(BTreeSet<String>),
}

impl Services {
    fn contains(&self, service: Option<&str>) -> bool {
        match (self, service) {
            (Services::All, _) => true,
            (Services::Only(names), Some(service)) => names.contains(service),
            (Services::Only(_), None) => false,
        }
    }
}

/// An attribute key pattern of a class.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    /// The text before the trailing `*`.
    Prefix(String),
}

impl Pattern {
    fn parse(text: &str) -> Result<Pattern, &'static str> {
        if text.is_empty() {
            return Err("is empty");
        }
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.contains('*') {
            Err("has a `*` before its end")
        } else if prefix {
            Ok(Pattern::Prefix(body.to_owned()))
        } else {
            Ok(Pattern::Exact(body.to_owned()))
        }
    }

    fn matches(&self, key: &str) -> bool {
        match self {
            Pattern::Exact(exact) => key == exact,
            Pattern::Prefix(prefix) => key.starts_with(prefix.as_str()),
        }
    }
}

/// Why a policy file was refused: where (a line, a rule, unless the file as a whole) and what is
/// wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    place: String,
    problem: String,
}

impl PolicyError {
    fn new(place: impl Into<String>, problem: impl Into<String>) -> PolicyError {
        PolicyError {
            place: place.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.place.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.place, self.problem)
        }
    }
}

impl std::error::Error for PolicyError {}

/// The file as written, before validation. Unknown keys are refused: a misspelt `hide` would
/// otherwise show everything it meant to remove.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    classes: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    role: Option<Spanned<String>>,
    /// `"*"` or a list of names; checked by hand for errors that say what to write.
    services: Option<Spanned<toml::Value>>,
    #[serde(default)]
    hide: Vec<Spanned<String>>,
    #[serde(default)]
    messaging_parents: bool,
}

/// The line (from 1) of the byte `offset` of `text`.
fn line(text: &str, offset: usize) -> usize {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    before.iter().filter(|b| **b == b'\n').count() + 1
}

/// Where in the file a problem is: `line L, rule N (role "r")`, the line the most precise one
/// known (the rule's header, or the value at fault).
fn place(text: &str, offset: usize, rule: usize, role: Option<&str>) -> String {
    let line = line(text, offset);
    match role {
        Some(role) => format!("line {line}, rule {} (role {role:?})", rule + 1),
        None => format!("line {line}, rule {}", rule + 1),
    }
}

impl Policy {
    /// Parses and validates a policy file's text.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let detail = e.to_string();
            PolicyError::new(
                "",
                format!("not a valid policy file: {}", detail.trim_end()),
            )
        })?;
        let classes = classes(text, &raw.classes)?;
        if raw.rules.len() > MAX_RULES {
            return Err(PolicyError::new(
                "",
                format!(
                    "{} rules, at most {MAX_RULES} are supported (one per role)",
                    raw.rules.len()
                ),
            ));
        }
        let mut rules: Vec<Rule> = Vec::new();
        let mut first_rule: BTreeMap<String, String> = BTreeMap::new();
        for (index, spanned) in raw.rules.iter().enumerate() {
            let raw_rule = spanned.get_ref();
            let role = raw_rule.role.as_ref().ok_or_else(|| {
                PolicyError::new(
                    place(text, spanned.span().start, index, None),
                    "has no `role` (the realm role it is for)",
                )
            })?;
            let name = role.get_ref().as_str();
            let at = |offset: usize| place(text, offset, index, Some(name));
            if name.is_empty() || name.trim() != name {
                return Err(PolicyError::new(
                    place(text, role.span().start, index, None),
                    format!("role {name:?} is not a role name"),
                ));
            }
            if let Some(first) = first_rule.insert(name.to_owned(), at(spanned.span().start)) {
                return Err(PolicyError::new(
                    at(role.span().start),
                    format!("the role has a rule already ({first}); write one rule per role"),
                ));
            }
            let services = match &raw_rule.services {
                Some(value) => services(value.get_ref())
                    .map_err(|e| PolicyError::new(at(value.span().start), e))?,
                None => {
                    return Err(PolicyError::new(
                        at(spanned.span().start),
                        "has no `services` (\"*\" or a list of service names)",
                    ))
                }
            };
            let mut hidden = Vec::new();
            for class in &raw_rule.hide {
                let patterns = classes.get(class.get_ref().as_str()).ok_or_else(|| {
                    let known: Vec<&str> = classes.keys().copied().collect();
                    let known = if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    };
                    PolicyError::new(
                        at(class.span().start),
                        format!(
                            "`hide` names the class {:?}, which [classes] does not define \
                             (defined: {known})",
                            class.get_ref()
                        ),
                    )
                })?;
                hidden.extend(patterns.iter().cloned());
            }
            rules.push(Rule {
                role: name.to_owned(),
                services,
                hidden,
                messaging_parents: raw_rule.messaging_parents,
            });
        }
        Ok(Policy { rules })
    }

    /// Reads and validates the policy file at `path`.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Policy> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the trace-access policy {}", path.display()))?;
        Policy::from_toml(&text)
            .with_context(|| format!("in the trace-access policy {}", path.display()))
    }

    /// The view for a caller holding these realm role names; None = no trace access (403).
    pub fn view_for<'a>(&self, roles: impl IntoIterator<Item = &'a str>) -> Option<View> {
        let roles: BTreeSet<&str> = roles.into_iter().collect();
        let mut rules: Vec<Rule> = self
            .rules
            .iter()
            .filter(|r| roles.contains(r.role.as_str()))
            .cloned()
            .collect();
        rules.sort_by(|a, b| a.role.cmp(&b.role));
        (!rules.is_empty()).then_some(View { rules })
    }
}

/// The `[classes]` table: each class's patterns, parsed.
fn classes<'a>(
    text: &str,
    raw: &'a BTreeMap<String, Vec<Spanned<String>>>,
) -> Result<BTreeMap<&'a str, Vec<Pattern>>, PolicyError> {
    raw.iter()
        .map(|(name, patterns)| {
            let parsed = patterns
                .iter()
                .map(|pattern| {
                    Pattern::parse(pattern.get_ref()).map_err(|why| {
                        PolicyError::new(
                            format!("line {}, class {name:?}", line(text, pattern.span().start)),
                            format!(
                                "pattern {:?} {why} (write an exact key, or a prefix ending in `*`)",
                                pattern.get_ref()
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<Pattern>, PolicyError>>()?;
            Ok((name.as_str(), parsed))
        })
        .collect()
}

/// A rule's `services`: `"*"` or a non-empty list of service names. The error says what to write.
fn services(value: &toml::Value) -> Result<Services, String> {
    match value {
        toml::Value::String(all) if all == "*" => Ok(Services::All),
        toml::Value::Array(items) if items.is_empty() => Err(
            "`services` is an empty list, which shows nothing; to deny the role remove its rule"
                .to_owned(),
        ),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| match item.as_str() {
                Some(name) if !name.trim().is_empty() && name != "*" => Ok(name.to_owned()),
                _ => Err(format!(
                    "`services` lists {}, which is not a service name \
                     (for every service write services = \"*\")",
                    described(item)
                )),
            })
            .collect::<Result<BTreeSet<String>, String>>()
            .map(Services::Only),
        other => Err(format!(
            "`services` is {}; write \"*\" for every service or a list of service names",
            described(other)
        )),
    }
}

/// A TOML value as an error message shows it (the crate's `Display` is not compiled in).
fn described(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => format!("a {}", other.type_str()),
    }
}

/// What one caller may see: the rules of the roles they hold.
#[derive(Debug, Clone)]
pub struct View {
    /// Sorted by role, so that [`View::label`] and rule masks do not depend on the token's order.
    rules: Vec<Rule>,
}

impl View {
    /// Whether this view shows everything unchanged (lets the handler skip filtering).
    pub fn sees_everything(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.services, Services::All) && r.hidden.is_empty())
    }

    /// Whether spans of `service` are shown by service (used for /api/services, operations, SPM
    /// metrics, dependencies). Messaging parents of another service do NOT make that service
    /// listed.
    pub fn lists_service(&self, service: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.services.contains(Some(service)))
    }

    /// The roles whose rules make up this view, sorted, joined with "+", e.g. "production" or
    /// "sre+support" (for the audit log).
    pub fn label(&self) -> String {
        let roles: Vec<&str> = self.rules.iter().map(|r| r.role.as_str()).collect();
        roles.join("+")
    }

    /// The rules that show spans of `service` by their service (`None`: unknown service).
    pub(crate) fn service_rules(&self, service: Option<&str>) -> RuleMask {
        self.mask(|r| r.services.contains(service))
    }

    /// The rules that also show the messaging parents of the spans they show.
    pub(crate) fn messaging_parent_rules(&self) -> RuleMask {
        self.mask(|r| r.messaging_parents)
    }

    /// Whether an attribute `key` is removed from a span (or process, resource) that exactly the
    /// rules in `shown_by` show: only when every one of them hides it (the union of the views).
    /// `service.name` never is: a shown span says whose it is.
    pub(crate) fn hides(&self, shown_by: RuleMask, key: &str) -> bool {
        shown_by != 0
            && key != "service.name"
            && key != "serviceName"
            && self
                .each(shown_by)
                .all(|r| r.hidden.iter().any(|p| p.matches(key)))
    }

    /// Whether every rule in `shown_by` hides some class: if one hides none, no attribute can be
    /// hidden and attribute lists are left exactly as they are, whatever their shape.
    pub(crate) fn hides_anything(&self, shown_by: RuleMask) -> bool {
        shown_by != 0 && self.each(shown_by).all(|r| !r.hidden.is_empty())
    }

    fn mask(&self, pick: impl Fn(&Rule) -> bool) -> RuleMask {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| pick(r))
            .fold(0, |mask, (i, _)| mask | (1 << i))
    }

    fn each(&self, mask: RuleMask) -> impl Iterator<Item = &Rule> {
        self.rules
            .iter()
            .enumerate()
            .filter(move |(i, _)| mask & (1 << i) != 0)
            .map(|(_, r)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = include_str!("../../../config/gate/policy.toml");

    fn view(policy: &Policy, roles: &[&str]) -> Option<View> {
        policy.view_for(roles.iter().copied())
    }

    /// Whether every span of `service` shown by `view` loses `key`.
    fn hides(view: &View, service: &str, key: &str) -> bool {
        view.hides(view.service_rules(Some(service)), key)
    }

    #[test]
    fn the_real_policy_gives_each_role_its_view() {
        let policy = Policy::from_toml(REAL).unwrap();
        for role in ["sre", "admin"] {
            let v = view(&policy, &[role]).unwrap();
            assert!(v.sees_everything(), "{role}");
            assert_eq!(v.label(), role);
        }

        let support = view(&policy, &["support"]).unwrap();
        assert!(!support.sees_everything());
        for service in ["shop-api", "crm-api", "mes-api", "some-new-api"] {
            assert!(support.lists_service(service));
        }
        for key in ["db.statement", "server.address", "host.name", "process.pid"] {
            assert!(hides(&support, "crm-api", key), "{key}");
        }
        for key in [
            "service.name",
            "http.route",
            "url.template",
            "peer.service",
            "error.type",
        ] {
            assert!(!hides(&support, "crm-api", key), "{key}");
        }
        assert_eq!(
            support.service_rules(None),
            1,
            "support sees spans of unknown services"
        );

        let production = view(&policy, &["production"]).unwrap();
        assert!(!production.sees_everything());
        assert!(production.lists_service("mes-api"));
        assert!(!production.lists_service("crm-api"));
        assert!(!production.lists_service("shop-api"));
        assert_eq!(production.messaging_parent_rules(), 1);
        assert_eq!(production.service_rules(None), 0);
        assert!(production.hides_anything(1));
        // Least privilege: production's spans (mes-api's, and the messaging spans that lead
        // to them, which its rule shows as a messaging parent) lose the internals.
        let parents = production.messaging_parent_rules();
        for key in [
            "db.statement",
            "server.address",
            "host.name",
            "process.pid",
            "messaging.header.traceparent",
        ] {
            assert!(hides(&production, "mes-api", key), "{key}");
            assert!(production.hides(parents, key), "{key}");
        }
        for key in [
            "service.name",
            "messaging.system",
            "messaging.destination.name",
            "http.route",
            "peer.service",
        ] {
            assert!(!hides(&production, "mes-api", key), "{key}");
            assert!(!production.hides(parents, key), "{key}");
        }

        for roles in [
            &["customer"][..],
            &["order-intake"],
            &["telemetry-writer"],
            &["unknown"],
            &[],
        ] {
            assert!(view(&policy, roles).is_none(), "{roles:?}");
        }

        let both = view(&policy, &["support", "production", "customer"]).unwrap();
        assert_eq!(both.label(), "production+support");
        for service in ["shop-api", "crm-api", "mes-api"] {
            assert!(both.lists_service(service));
        }
        assert!(!both.sees_everything());
        // mes-api spans are shown by both rules, and both remove the internals from them.
        assert_eq!(both.service_rules(Some("mes-api")), 0b11);
        assert!(hides(&both, "mes-api", "db.statement"));
        assert!(hides(&both, "crm-api", "db.statement"));
        assert!(!hides(&both, "mes-api", "http.route"));

        let riley = view(&policy, &["metrics-reader", "sre", "support"]).unwrap();
        assert!(riley.sees_everything());
        assert_eq!(riley.label(), "sre+support");
        let everything = view(&policy, &["production", "sre"]).unwrap();
        assert!(everything.sees_everything());
        assert_eq!(everything.label(), "production+sre");
    }

    #[test]
    fn an_attribute_goes_only_when_every_rule_showing_it_hides_it() {
        // `floor` is production's rule without `hide`: a rule that hides nothing.
        let policy = Policy::from_toml(
            "[classes]\ninternal = [\"db.statement\"]\n\
             [[rule]]\nrole = \"support\"\nservices = \"*\"\nhide = [\"internal\"]\n\
             [[rule]]\nrole = \"floor\"\nservices = [\"mes-api\"]\nmessaging_parents = true\n",
        )
        .unwrap();
        let floor = view(&policy, &["floor"]).unwrap();
        assert!(!floor.sees_everything(), "it shows mes-api only");
        assert!(!floor.hides_anything(1));
        assert!(!hides(&floor, "mes-api", "db.statement"));

        let both = view(&policy, &["support", "floor"]).unwrap();
        assert_eq!(both.label(), "floor+support");
        assert!(!both.sees_everything());
        // mes-api spans are shown by both rules, and floor removes nothing from them.
        assert_eq!(both.service_rules(Some("mes-api")), 0b11);
        assert!(!both.hides_anything(0b11));
        assert!(!hides(&both, "mes-api", "db.statement"));
        assert!(both.hides_anything(0b10));
        assert!(hides(&both, "crm-api", "db.statement"));
        assert!(!hides(&both, "crm-api", "http.route"));
    }

    #[test]
    fn service_name_is_never_hidden() {
        let policy = Policy::from_toml(
            "[classes]\nall = [\"*\"]\n[[rule]]\nrole = \"x\"\nservices = \"*\"\nhide = [\"all\"]\n",
        )
        .unwrap();
        let v = view(&policy, &["x"]).unwrap();
        assert!(v.hides(1, "anything"));
        assert!(!v.hides(1, "service.name"));
        assert!(!v.hides(1, "serviceName"));
        assert!(
            !v.hides(0, "anything"),
            "no rule shows it: nothing to decide"
        );
    }

    #[test]
    fn patterns_are_exact_keys_or_prefixes() {
        assert!(Pattern::parse("host.*").unwrap().matches("host.name"));
        assert!(!Pattern::parse("host.*").unwrap().matches("hostname"));
        assert!(Pattern::parse("ip").unwrap().matches("ip"));
        assert!(!Pattern::parse("ip").unwrap().matches("ip.v4"));
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("a*b").is_err());
        assert!(Pattern::parse("*a*").is_err());
    }

    fn refused(text: &str) -> String {
        Policy::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn mistakes_are_refused_saying_what_and_where() {
        let head = "[classes]\ninternal = [\"db.statement\"]\n";
        let rule = |body: &str| format!("{head}[[rule]]\n{body}");
        assert_eq!(
            refused(&rule(
                "role = \"support\"\nservices = \"*\"\nhide = [\"internal\", \"secret\"]\n"
            )),
            "line 6, rule 1 (role \"support\"): `hide` names the class \"secret\", \
             which [classes] does not define (defined: internal)"
        );
        assert_eq!(
            refused(&rule(
                "role = \"a\"\nservices = \"*\"\n[[rule]]\nservices = \"*\"\n"
            )),
            "line 6, rule 2: has no `role` (the realm role it is for)"
        );
        assert_eq!(
            refused(&rule(
                "role = \"sre\"\nservices = \"*\"\n[[rule]]\nrole = \"sre\"\nservices = [\"a\"]\n"
            )),
            "line 7, rule 2 (role \"sre\"): the role has a rule already \
             (line 3, rule 1 (role \"sre\")); write one rule per role"
        );
        assert_eq!(
            refused(&rule("role = \"production\"\nservices = []\n")),
            "line 5, rule 1 (role \"production\"): `services` is an empty list, which shows \
             nothing; to deny the role remove its rule"
        );
        let e = refused(&rule("role = \"p\"\n"));
        assert!(
            e.starts_with("line 3, rule 1 (role \"p\"): has no `services`"),
            "{e}"
        );
        let e = refused(&rule("role = \"p\"\nservices = \"mes-api\"\n"));
        assert!(e.contains("`services` is \"mes-api\"; write \"*\""), "{e}");
        let e = refused(&rule("role = \"p\"\nservices = [\"mes-api\", 3]\n"));
        assert!(e.contains("`services` lists 3"), "{e}");
        let e = refused(&rule("role = \" p\"\nservices = \"*\"\n"));
        assert!(
            e.starts_with("line 4, rule 1: role \" p\" is not a role name"),
            "{e}"
        );
        let e = refused("[classes]\nbad = [\"host.*.name\"]\n");
        assert!(
            e.starts_with("line 2, class \"bad\": pattern \"host.*.name\" has a `*`"),
            "{e}"
        );

        // A misspelt key must not silently drop what it meant (here: hiding).
        let e = refused(&rule(
            "role = \"s\"\nservices = \"*\"\nhidden = [\"internal\"]\n",
        ));
        assert!(
            e.contains("line 6") && e.contains("unknown field `hidden`"),
            "{e}"
        );
        assert!(refused("not toml =").starts_with("not a valid policy file: TOML parse error"));
    }

    #[test]
    fn load_names_the_file() {
        let missing = std::path::Path::new("/nonexistent/policy.toml");
        let e = format!("{:#}", Policy::load(missing).unwrap_err());
        assert!(e.contains("/nonexistent/policy.toml"), "{e}");
    }
}
