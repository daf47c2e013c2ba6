//! Reading an OpenMetrics text answer back: what the services' tests use to check `GET /metrics`
//! (and what a tool can use without a Prometheus server). Only the subset this crate's encoder
//! writes: `# TYPE` / `# HELP` lines, samples `name{labels} value`, and exemplars
//! `# {labels} value`.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Series name as exposed (`…_total`, `…_bucket`, …).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
    /// The exemplar's labels, if the line has one.
    pub exemplar: Option<BTreeMap<String, String>>,
}

/// A parsed scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    /// Metric family names and types from the `# TYPE` lines.
    pub types: BTreeMap<String, String>,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

/// A line this parser does not understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot parse metrics line: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

impl Scrape {
    /// Parses OpenMetrics text.
    pub fn parse(text: &str) -> Result<Scrape, ParseError> {
        let mut scrape = Scrape::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .ok_or_else(|| ParseError(line.to_owned()))?;
                scrape.types.insert(name.to_owned(), kind.to_owned());
            } else if line.starts_with('#') || line.trim().is_empty() {
                continue;
            } else {
                scrape.samples.push(sample(line)?);
            }
        }
        Ok(scrape)
    }

    /// The value of the series `name` whose labels are exactly `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.find(name, labels).map(|s| s.value)
    }

    /// The sample of the series `name` whose labels are exactly `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
    }

    /// Every sample of `name` that has (at least) `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

fn sample(line: &str) -> Result<Sample, ParseError> {
    let err = || ParseError(line.to_owned());
    let at = line.find(['{', ' ']).ok_or_else(err)?;
    let (name, tail) = line.split_at_checked(at).ok_or_else(err)?;
    let (label_map, rest) = if tail.starts_with('{') {
        labels(tail).ok_or_else(err)?
    } else {
        (BTreeMap::new(), tail)
    };
    let series = (name.to_owned(), label_map);
    let rest = rest.trim_start();
    let (value, exemplar_part) = match rest.split_once(" # ") {
        Some((v, e)) => (v, Some(e)),
        None => (rest, None),
    };
    // A timestamp may follow the value.
    let value = value.split(' ').next().ok_or_else(err)?;
    let value = parse_value(value).ok_or_else(err)?;
    let exemplar = match exemplar_part {
        Some(e) => Some(labels(e.trim_start()).ok_or_else(err)?.0),
        None => None,
    };
    Ok(Sample {
        name: series.0,
        labels: series.1,
        value,
        exemplar,
    })
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

/// Parses `{k="v",…}` at the start of `text`; the labels and what follows the `}`.
fn labels(text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut out = BTreeMap::new();
    let body = text.strip_prefix('{')?;
    let mut chars = body.char_indices().peekable();
    loop {
        match chars.peek() {
            Some((i, '}')) => return Some((out, body.get(i + 1..)?)),
            Some((_, ',')) | Some((_, ' ')) => {
                chars.next();
            }
            Some(_) => {
                let mut key = String::new();
                for (_, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    key.push(c);
                }
                if chars.next()?.1 != '"' {
                    return None;
                }
                let mut value = String::new();
                loop {
                    match chars.next()?.1 {
                        '"' => break,
                        '\\' => match chars.next()?.1 {
                            'n' => value.push('\n'),
                            other => value.push(other),
                        },
                        c => value.push(c),
                    }
                }
                out.insert(key, value);
            }
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_labels_and_exemplars_are_read() {
        let text = "# HELP x_seconds Time.\n# TYPE x_seconds histogram\n\
            x_seconds_bucket{le=\"0.1\",route=\"/a/{id}\",q=\"say \\\"hi\\\", ok\"} 2 # {trace_id=\"abc\"} 0.05\n\
            x_seconds_count{route=\"/a/{id}\"} 2\n\
            plain_total 3\n\
            # EOF\n";
        let scrape = Scrape::parse(text).unwrap();
        assert_eq!(scrape.types["x_seconds"], "histogram");
        let bucket = scrape
            .find(
                "x_seconds_bucket",
                &[("le", "0.1"), ("route", "/a/{id}"), ("q", "say \"hi\", ok")],
            )
            .unwrap();
        assert_eq!(bucket.value, 2.0);
        assert_eq!(bucket.exemplar.as_ref().unwrap()["trace_id"], "abc");
        assert_eq!(
            scrape.value("x_seconds_count", &[("route", "/a/{id}")]),
            Some(2.0)
        );
        assert_eq!(scrape.value("plain_total", &[]), Some(3.0));
        assert_eq!(scrape.value("plain_total", &[("a", "b")]), None);
        assert_eq!(
            scrape
                .matching("x_seconds_bucket", &[("le", "0.1")])
                .count(),
            1
        );
        assert!(Scrape::parse("broken{a=\"x 1\n").is_err());
    }
}
