//! Small inline SVG charts: lines over time, optionally with a shaded band (a p50–p95 range).
//! Drawn here so the console needs no script library; the figures are also given as text, so the
//! chart is never the only way to read them.

use super::html::esc;
use std::fmt::Write;

/// One line of a chart.
pub struct Line<'a> {
    /// Its name in the legend.
    pub name: &'a str,
    /// CSS class of its stroke (`c1`, `c2`, ...).
    pub class: &'a str,
    /// `(unix seconds, value)`, oldest first; `NaN` values are gaps.
    pub points: &'a [(f64, f64)],
}

/// A band between two series of the same times (e.g. p50 and p95).
pub struct Band<'a> {
    /// Its name in the legend.
    pub name: &'a str,
    /// Lower edge.
    pub lower: &'a [(f64, f64)],
    /// Upper edge.
    pub upper: &'a [(f64, f64)],
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 18.0;

/// The chart, `label` being its accessible name; `fmt` writes a y value.
pub fn render(
    label: &str,
    lines: &[Line<'_>],
    band: Option<&Band<'_>>,
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let all = lines
        .iter()
        .flat_map(|l| l.points.iter())
        .chain(
            band.into_iter()
                .flat_map(|b| b.lower.iter().chain(b.upper.iter())),
        )
        .filter(|(_, v)| v.is_finite());
    let (mut t0, mut t1, mut vmax) = (f64::INFINITY, f64::NEG_INFINITY, 0.0_f64);
    let mut any = false;
    for &(t, v) in all {
        any = true;
        t0 = t0.min(t);
        t1 = t1.max(t);
        vmax = vmax.max(v);
    }
    if !any {
        return format!(
            r#"<p class="empty">{}: no data in this window.</p>"#,
            esc(label)
        );
    }
    if vmax <= 0.0 {
        vmax = 1.0;
    }
    let span = (t1 - t0).max(1.0);
    let x = |t: f64| LEFT + (t - t0) / span * (WIDTH - LEFT - 4.0);
    let y = |v: f64| 4.0 + (1.0 - v / vmax) * (HEIGHT - BOTTOM - 4.0);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<figure class="chart"><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" preserveAspectRatio="none">"#,
        esc(label)
    );
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" y1="{b}" x2="{WIDTH}" y2="{b}"/><text x="{l}" y="12" text-anchor="end">{}</text><text x="{l}" y="{b}" text-anchor="end">0</text>"#,
        esc(&fmt(vmax)),
        b = HEIGHT - BOTTOM,
        l = LEFT - 4.0,
    );
    if let Some(band) = band {
        let upper: Vec<_> = band.upper.iter().filter(|(_, v)| v.is_finite()).collect();
        let lower: Vec<_> = band
            .lower
            .iter()
            .rev()
            .filter(|(_, v)| v.is_finite())
            .collect();
        if !upper.is_empty() && !lower.is_empty() {
            let points: String = upper
                .iter()
                .chain(lower.iter())
                .map(|(t, v)| format!("{:.1},{:.1} ", x(*t), y(*v)))
                .collect();
            let _ = write!(
                out,
                r#"<polygon class="band" points="{}"/>"#,
                points.trim_end()
            );
        }
    }
    for line in lines {
        // A gap (NaN) ends one polyline and starts the next.
        for run in line.points.split(|(_, v)| !v.is_finite()) {
            if run.is_empty() {
                continue;
            }
            let points: String = run
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1} ", x(*t), y(*v)))
                .collect();
            let _ = write!(
                out,
                r#"<polyline class="{}" points="{}"/>"#,
                esc(line.class),
                points.trim_end()
            );
        }
    }
    out.push_str("</svg><figcaption>");
    for line in lines {
        let _ = write!(
            out,
            r#"<span class="key {}">{}</span> "#,
            esc(line.class),
            esc(line.name)
        );
    }
    if let Some(band) = band {
        let _ = write!(out, r#"<span class="key band">{}</span> "#, esc(band.name));
    }
    let _ = write!(
        out,
        r#"<span class="muted">from {} to {}</span></figcaption></figure>"#,
        clock(t0),
        clock(t1)
    );
    out
}

/// A `<time>` for unix seconds (the page's script turns it into the viewer's time).
fn clock(unix: f64) -> String {
    super::html::time((unix * 1_000_000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: f64) -> String {
        format!("{v:.0} s")
    }

    #[test]
    fn an_empty_chart_says_so() {
        let html = render(
            "Lead time",
            &[Line {
                name: "avg",
                class: "c1",
                points: &[(1.0, f64::NAN)],
            }],
            None,
            &secs,
        );
        assert!(html.contains("no data"), "{html}");
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn lines_scale_to_the_largest_value_and_gaps_split_them() {
        let pts = [
            (0.0, 10.0),
            (60.0, 20.0),
            (120.0, f64::NAN),
            (180.0, 5.0),
            (240.0, 0.0),
        ];
        let lower = [(0.0, 5.0), (240.0, 1.0)];
        let upper = [(0.0, 40.0), (240.0, 30.0)];
        let band = Band {
            name: "p50–p95",
            lower: &lower,
            upper: &upper,
        };
        let html = render(
            "L<t>",
            &[Line {
                name: "avg",
                class: "c1",
                points: &pts,
            }],
            Some(&band),
            &secs,
        );
        assert!(html.contains(r#"aria-label="L&lt;t&gt;""#), "{html}");
        assert_eq!(
            html.matches("<polyline").count(),
            2,
            "the NaN splits the line"
        );
        assert!(
            html.contains(">40 s</text>"),
            "the top of the axis is the band's 40: {html}"
        );
        assert!(html.contains(r#"<polygon class="band""#));
        // The value 40 sits at the top (y = 4), the value 0 at the bottom axis (y = 142).
        assert!(html.contains(&format!("{LEFT:.1},4.0")), "{html}");
        assert!(
            html.contains(&format!("{:.1},142.0", WIDTH - 4.0)),
            "{html}"
        );
    }
}
