//! Where the console's numbers come from besides Jaeger: Prometheus (instant and range queries,
//! the rules' alert states), Alertmanager (the alerts people are told about) and CRM (orders and
//! their history, read with the viewer's own token so CRM applies its own role checks).
//!
//! A source that does not answer is a [`Down`] for the part of the page that needed it, never an
//! error page: the rest of the page still shows.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The console's other sources. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Client with the call deadline.
    pub http: reqwest::Client,
    /// Prometheus' base URL (also the base of the links to its graph page).
    pub prometheus: String,
    /// Alertmanager's base URL (also the base of the links to its alert list).
    pub alertmanager: String,
    /// CRM's base URL.
    pub crm: String,
}

/// A source that did not answer usefully; says which one and why, for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down(pub String);

impl fmt::Display for Down {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value (`NaN` when Prometheus says so, e.g. a quantile of no observations).
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, or `""`.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// One series of a range query: `(unix seconds, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its points, oldest first.
    pub points: Vec<(f64, f64)>,
}

/// An alert of Prometheus' rules (`/api/v1/alerts`): pending or firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleAlert {
    /// `alertname` and the other labels.
    pub labels: BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: String,
}

/// An alert Alertmanager holds as active (not silenced, not inhibited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveAlert {
    /// `alertname`, `severity` and the other labels.
    pub labels: BTreeMap<String, String>,
    /// Its `summary` annotation, if any.
    pub summary: Option<String>,
    /// When it started firing (RFC 3339).
    pub starts_at: String,
}

/// A CRM answer: its status and JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct CrmAnswer {
    /// HTTP status.
    pub status: reqwest::StatusCode,
    /// The body.
    pub body: Value,
}

#[derive(Deserialize)]
struct PromAnswer {
    status: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    error: Option<String>,
}

impl Sources {
    /// A link to Prometheus' graph page for `expr` (table view), where a number comes from.
    pub fn graph_link(&self, expr: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("g0.expr", expr)
            .append_pair("g0.tab", "1")
            .finish();
        format!("{}/classic/graph?{query}", self.prometheus)
    }

    /// A link to Alertmanager's alert list filtered to `alertname`.
    pub fn alert_link(&self, alertname: &str) -> String {
        let filter: String =
            form_urlencoded::byte_serialize(format!("{{alertname=\"{alertname}\"}}").as_bytes())
                .collect();
        format!("{}/#/alerts?filter={filter}", self.alertmanager)
    }

    async fn prometheus_get(&self, path: &str, params: &[(&str, String)]) -> Result<Value, Down> {
        let down = |why: String| Down(format!("Prometheus did not answer: {why}"));
        let resp = self
            .http
            .get(format!("{}{path}", self.prometheus))
            .query(params)
            .send()
            .await
            .map_err(|e| down(e.without_url().to_string()))?;
        let status = resp.status();
        let answer: PromAnswer = resp
            .json()
            .await
            .map_err(|_| down(format!("status {status}, not its JSON")))?;
        if answer.status != "success" {
            return Err(Down(format!(
                "Prometheus refused the query: {}",
                answer.error.unwrap_or_default()
            )));
        }
        Ok(answer.data)
    }

    /// The instant vector `expr` evaluates to now.
    pub async fn instant(&self, expr: &str) -> Result<Vec<Sample>, Down> {
        let data = self
            .prometheus_get("/api/v1/query", &[("query", expr.to_owned())])
            .await?;
        Ok(data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Sample {
                labels: labels(&r["metric"]),
                value: number(&r["value"][1]),
            })
            .collect())
    }

    /// `expr` over `[end - span, end]` in steps of `step` seconds.
    pub async fn range(
        &self,
        expr: &str,
        end: f64,
        span: f64,
        step: f64,
    ) -> Result<Vec<Series>, Down> {
        let data = self
            .prometheus_get(
                "/api/v1/query_range",
                &[
                    ("query", expr.to_owned()),
                    ("start", format!("{:.0}", end - span)),
                    ("end", format!("{end:.0}")),
                    ("step", format!("{step:.0}")),
                ],
            )
            .await?;
        Ok(data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Series {
                labels: labels(&r["metric"]),
                points: r["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| Some((p[0].as_f64()?, number(&p[1]))))
                    .collect(),
            })
            .collect())
    }

    /// The pending and firing alerts of Prometheus' rules.
    pub async fn rule_alerts(&self) -> Result<Vec<RuleAlert>, Down> {
        let data = self.prometheus_get("/api/v1/alerts", &[]).await?;
        Ok(data["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| RuleAlert {
                labels: labels(&a["labels"]),
                state: a["state"].as_str().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    /// The alerts Alertmanager holds as active, oldest first.
    pub async fn active_alerts(&self) -> Result<Vec<ActiveAlert>, Down> {
        let down = |why: String| Down(format!("Alertmanager did not answer: {why}"));
        let resp = self
            .http
            .get(format!("{}/api/v2/alerts", self.alertmanager))
            .query(&[
                ("active", "true"),
                ("silenced", "false"),
                ("inhibited", "false"),
            ])
            .send()
            .await
            .map_err(|e| down(e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(down(format!("status {status}")));
        }
        let body: Value = resp
            .json()
            .await
            .map_err(|_| down("not its JSON".to_owned()))?;
        let mut alerts: Vec<ActiveAlert> = body
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| ActiveAlert {
                labels: labels(&a["labels"]),
                summary: a["annotations"]["summary"].as_str().map(str::to_owned),
                starts_at: a["startsAt"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        alerts.sort_by(|a, b| a.starts_at.cmp(&b.starts_at));
        Ok(alerts)
    }

    /// `GET {crm}{path_and_query}` with the viewer's `authorization` header.
    pub async fn crm(&self, authorization: &str, path_and_query: &str) -> Result<CrmAnswer, Down> {
        let down = |why: String| Down(format!("CRM did not answer: {why}"));
        let resp = self
            .http
            .get(format!("{}{path_and_query}", self.crm))
            .header(reqwest::header::AUTHORIZATION, authorization)
            .send()
            .await
            .map_err(|e| down(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(down(format!("status {status}")));
        }
        let body = resp.json().await.unwrap_or(Value::Null);
        Ok(CrmAnswer { status, body })
    }
}

fn labels(metric: &Value) -> BTreeMap<String, String> {
    metric
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// Prometheus writes sample values as strings (`"1.5"`, `"NaN"`, `"+Inf"`).
fn number(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_f64())
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sources() -> Sources {
        Sources {
            http: reqwest::Client::new(),
            prometheus: "http://p:9090".into(),
            alertmanager: "http://a:9093".into(),
            crm: "http://c:8081".into(),
        }
    }

    #[test]
    fn links_carry_the_query_encoded() {
        let s = sources();
        assert_eq!(
            s.graph_link(r#"sum(x{a="b c"})"#),
            "http://p:9090/classic/graph?g0.expr=sum%28x%7Ba%3D%22b+c%22%7D%29&g0.tab=1"
        );
        assert_eq!(
            s.alert_link("DeadLetterQueueNotEmpty"),
            "http://a:9093/#/alerts?filter=%7Balertname%3D%22DeadLetterQueueNotEmpty%22%7D"
        );
    }

    #[test]
    fn sample_values_parse_like_prometheus_writes_them() {
        assert_eq!(number(&json!("1.5")), 1.5);
        assert!(number(&json!("NaN")).is_nan());
        assert_eq!(number(&json!("+Inf")), f64::INFINITY);
        assert!(number(&json!(null)).is_nan());
        assert_eq!(
            labels(&json!({"status": "NEW", "n": 1})),
            BTreeMap::from([("status".to_owned(), "NEW".to_owned())])
        );
    }
}
