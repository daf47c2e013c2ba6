//! Checks a running service's `GET /openapi.json` against the routes it serves: the document is
//! OpenAPI 3.0 (it deserialises into the `openapiv3` model and every `$ref` resolves), it lists
//! exactly the service's routes plus the ones every service shares, each listed operation is
//! routed and documents what it answered, it requires a bearer token unless it says it is public
//! (and a request without one is refused 401 exactly where it should be), its 4xx answers are the shared `Error` shape, its path
//! parameters are declared, and the other methods on a listed path are not routed.
//!
//! Whether the documented *constraints* are the enforced ones is the API conformance fuzzer's
//! job (`scripts/conformance.sh`), which sends generated requests to the real services.

use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

/// Routes every service serves besides its own: the health routes and `GET /metrics` (from
/// `printflow_web`) and the document itself.
pub const COMMON_ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The drill-fault routes (`printflow_faults`) of every service that declares faults.
pub const FAULT_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/faults"),
    ("PUT", "/admin/faults/{name}"),
    ("DELETE", "/admin/faults/{name}"),
];

/// Methods a path item may hold (OpenAPI 3.0, without `trace`, which no router serves).
const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

/// The (METHOD, path) pairs the document lists.
pub fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("`paths` is an object") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Every `$ref` in `doc` that does not point at something in it.
pub fn dangling_refs(doc: &Value) -> Vec<String> {
    fn walk(node: &Value, doc: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let target = r.strip_prefix('#').and_then(|ptr| doc.pointer(ptr));
                    if target.is_none() {
                        out.push(r.clone());
                    }
                }
                map.values().for_each(|v| walk(v, doc, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, doc, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, doc, &mut out);
    out
}

/// Fetches `{base}/openapi.json` and asserts everything the module documentation lists.
/// `routes` are the service's own (METHOD, path) pairs, path parameters in `{braces}`; they
/// are filled with a fresh UUID (`{id}`, `{order_id}`) or `1` (anything else) when probing.
pub async fn assert_documents_routes(base: &str, routes: &[(&str, &str)]) {
    // Redirects are answers of their own (a login's 303), not something to follow.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let resp = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(resp.status(), 200, "GET /openapi.json");
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = resp.json().await.expect("openapi.json is JSON");

    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.0."), "openapi version {version:?}");
    if let Err(e) = serde_json::from_value::<openapiv3::OpenAPI>(doc.clone()) {
        panic!("openapi.json is not an OpenAPI 3.0 document: {e}");
    }
    assert_eq!(dangling_refs(&doc), Vec::<String>::new(), "dangling $refs");
    assert!(
        doc.pointer("/components/schemas/Error").is_some(),
        "no Error schema"
    );

    let served: BTreeSet<(String, String)> = routes
        .iter()
        .chain(COMMON_ROUTES)
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented_operations(&doc),
        served,
        "openapi.json and the served routes differ"
    );

    for (path, item) in doc["paths"].as_object().unwrap() {
        let url = format!("{base}{}", fill(path));
        for method in ["get", "post", "put", "patch", "delete"] {
            let resp = http
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    &url,
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            match item.get(method) {
                Some(op) => {
                    assert_ne!(status, 405, "{method} {path} documented but not routed");
                    assert_ne!(
                        body["code"], "route_not_found",
                        "{method} {path} documented but not routed"
                    );
                    check_operation(&doc, path, item, method, op);
                    check_security(&doc, path, method, op, status);
                    assert!(
                        op["responses"].get(status.to_string()).is_some(),
                        "{method} {path} answered undocumented {status}: {body}"
                    );
                }
                // Without a token a secured path answers 401 to every method (the guard runs
                // before the method is looked at: nothing about the route leaks).
                None if path_is_secured(item) => {
                    assert_eq!(status, 401, "{method} {path}: secured path without a token")
                }
                None => assert_eq!(status, 405, "{method} {path} routed but not documented"),
            }
        }
    }
}

/// The document's security: a bearer scheme, required by default; an operation either opts out
/// (`security: []`, and then it answered the token-less probe without a 401) or lists the realm
/// roles it accepts in `x-roles`, documents 401 and 403, and answered the token-less probe 401.
fn check_security(doc: &Value, path: &str, method: &str, op: &Value, status: u16) {
    assert_eq!(
        doc.pointer("/components/securitySchemes/bearerAuth/scheme"),
        Some(&Value::from("bearer")),
        "no bearerAuth security scheme"
    );
    assert_eq!(
        doc["security"],
        serde_json::json!([{"bearerAuth": []}]),
        "the document must require bearerAuth by default (deny by default)"
    );
    let public = op.get("security") == Some(&serde_json::json!([]));
    if public {
        assert_ne!(
            status, 401,
            "{method} {path} is documented public but wants a token"
        );
        return;
    }
    assert_eq!(
        status, 401,
        "{method} {path} answered {status} without a token"
    );
    let roles = op["x-roles"].as_array();
    assert!(
        roles.is_some_and(|r| !r.is_empty()),
        "{method} {path}: no x-roles"
    );
    for code in ["401", "403"] {
        assert!(
            op["responses"].get(code).is_some(),
            "{method} {path}: {code} not documented"
        );
    }
}

/// Whether every operation on the path needs a token.
fn path_is_secured(item: &Value) -> bool {
    METHODS
        .iter()
        .filter_map(|m| item.get(*m))
        .all(|op| op.get("security") != Some(&serde_json::json!([])))
}

/// One operation's own rules: a summary, a success answer, every 4xx answer in the shared
/// `Error` shape, and the path parameters of `path`'s template declared (on the operation or
/// its path item).
fn check_operation(doc: &Value, path: &str, item: &Value, method: &str, op: &Value) {
    assert!(op["summary"].is_string(), "{method} {path}: no summary");
    let responses = op["responses"].as_object().expect("responses");
    assert!(
        responses
            .keys()
            .any(|k| k.starts_with('2') || k.starts_with('3')),
        "{method} {path}: no success or redirect response"
    );
    for (code, resp) in responses {
        if code.starts_with('4') {
            let resp = resolve(doc, resp);
            assert_eq!(
                resp["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
                "{method} {path} {code}"
            );
        }
    }
    let mut declared: Vec<&str> = [&item["parameters"], &op["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(|p| resolve(doc, p))
        .filter(|p| p["in"] == "path")
        .map(|p| p["name"].as_str().expect("parameter name"))
        .collect();
    declared.sort_unstable();
    let mut in_template: Vec<&str> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect();
    in_template.sort_unstable();
    assert_eq!(declared, in_template, "{method} {path}: path parameters");
}

/// `node`, or what its `$ref` points at.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {r}")),
        None => node,
    }
}

/// `path` with its parameters filled in.
fn fill(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some((before, after)) = rest.split_once('{') {
        let (name, tail) = after.split_once('}').expect("closing brace");
        out.push_str(before);
        if (name == "id" && !path.starts_with("/printers")) || name.ends_with("_id") {
            out.push_str(&uuid::Uuid::new_v4().to_string());
        } else {
            out.push('1');
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_operations_and_dangling_refs() {
        let doc = json!({
            "paths": {"/a/{id}": {"get": {"$ref": "#/components/schemas/X"}, "parameters": []}},
            "components": {"schemas": {"Y": {"$ref": "#/components/schemas/Y"}}}
        });
        let ops = documented_operations(&doc);
        assert_eq!(ops.len(), 1);
        assert!(ops.contains(&("GET".to_owned(), "/a/{id}".to_owned())));
        assert_eq!(dangling_refs(&doc), vec!["#/components/schemas/X"]);
    }

    #[test]
    fn fills_path_parameters() {
        assert_eq!(fill("/printers/{id}/pause"), "/printers/1/pause");
        let filled = fill("/designs/{id}/versions/{version}");
        assert!(filled.ends_with("/versions/1"), "{filled}");
        assert!(!filled.contains('{'), "{filled}");
        assert!(fill("/orders/{order_id}/job").ends_with("/job"));
    }
}
