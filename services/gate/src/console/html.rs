//! The console's HTML: escaping, the page frame and small parts. Server-rendered, no script
//! needed to read a page (one small inline script shows times in the viewer's time zone), no
//! external resource: it works offline.

use std::fmt::Write;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `<time>` for microseconds since the epoch: UTC in the markup and on hover, the viewer's
/// local time once the page's script has run.
pub fn time(micros: i64) -> String {
    let utc = chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let iso = chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    format!(
        r#"<time datetime="{}" title="{}">{}</time>"#,
        esc(&iso),
        esc(&utc),
        esc(&utc)
    )
}

/// Milliseconds, for durations in microseconds.
pub fn millis(micros: i64) -> String {
    let ms = micros as f64 / 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

const STYLE: &str = "
:root{font-family:system-ui,sans-serif;color:#1b1f24;background:#fff}
body{margin:0}header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;
padding:.6rem 1rem;background:#1b2a3a;color:#fff}header a{color:#fff}
nav a{margin-right:1rem}main{padding:1rem;max-width:1200px}
h1{font-size:1.5rem;overflow-wrap:anywhere}p{overflow-wrap:anywhere}td{overflow-wrap:break-word}
a{color:#0b5cad}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f0a500}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;
border-bottom:1px solid #dde2e8;vertical-align:top}td.num{text-align:right;white-space:nowrap}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.5rem 0 1rem}
label{display:flex;flex-direction:column;font-size:.85rem}
.error{color:#b00020;font-weight:600}.gap{background:#fff4d6;padding:.5rem;margin:.5rem 0}
.bar{position:relative;height:1rem;background:#eef2f6;min-width:8rem}
.bar span{position:absolute;top:0;bottom:0;background:#3d7fc1;min-width:2px}
.bar span.err{background:#b00020}.muted{color:#5b6570}.empty{padding:1rem 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,30rem),1fr));gap:1rem}
section.card{border:1px solid #dde2e8;border-radius:6px;padding:.5rem .8rem;min-width:0;overflow-x:auto}
h3{font-size:1rem;margin:.8rem 0 .3rem}input[name=q]{max-width:100%}
section.card h2{font-size:1.1rem;margin:.3rem 0 .5rem}.big{font-size:1.6rem;font-weight:600}
.chart{margin:0}.chart svg{width:100%;height:10rem;display:block}
.chart text{font-size:11px;fill:#5b6570}.chart .axis{stroke:#9aa5b1}
.chart polyline{fill:none;stroke-width:2;vector-effect:non-scaling-stroke}
.chart .c1,.key.c1{stroke:#0b5cad;color:#0b5cad}.chart .c2,.key.c2{stroke:#b35c00;color:#b35c00}
.chart .band{fill:#0b5cad22;stroke:none}.key{font-weight:600;margin-right:.6rem}
.key.band{color:#4d7fb3}.state{font-weight:600;padding:0 .3rem;border-radius:3px;white-space:nowrap}
.state.ok{background:#dcf2e1;color:#1d6b30}.state.firing{background:#fde2e4;color:#b00020}
.state.pending{background:#fff4d6;color:#7a5300}.state.unknown{background:#eef2f6;color:#5b6570}
tr.over td{background:#fff4f4}.down{background:#eef2f6;padding:.5rem}.drill{background:#fff3cd;border:1px solid #e0b000;padding:.5rem}
#busy{display:none}body.busy #busy{display:inline}
td.op{padding-left:calc(.5rem + var(--d,0) * 1rem);overflow-wrap:anywhere}
@media (max-width:600px){td.wide,th.wide{display:none}main{padding:.5rem}
td.op{padding-left:calc(.2rem + min(var(--d,0) * .3rem, 4rem))}th,td{padding:.3rem .25rem}}
";

/// Shows every `<time>` in the viewer's time zone (UTC stays in the title, on hover).
const LOCAL_TIMES: &str = "for(const t of document.querySelectorAll('time[datetime]')){\
const d=new Date(t.getAttribute('datetime'));if(!isNaN(d))t.textContent=d.toLocaleString();}\
addEventListener('submit',()=>document.body.classList.add('busy'));\
addEventListener('pagehide',()=>document.body.classList.remove('busy'));";

/// The frame around every page: who is signed in and the pages they may open.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// Who is signed in, and through which view.
    pub who: String,
    /// `(href, label)` of each page the viewer may open, in menu order.
    pub links: Vec<(&'static str, &'static str)>,
}

/// A whole page: header with the navigation and who is signed in, then `body`.
pub fn page(title: &str, frame: &Frame, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    let nav = frame
        .links
        .iter()
        .map(|(href, label)| format!(r#"<a href="{href}">{label}</a>"#))
        .collect::<Vec<_>>()
        .join(" ");
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · printflow</title><style>{STYLE}</style></head><body>
<header><strong>printflow</strong><nav aria-label="Console">{nav}</nav>
<span class="muted">{who}</span><span id="busy" role="status">Loading…</span><form method="post" action="/auth/logout"><button>Sign out</button></form></header>
<main><h1>{title}</h1>{body}</main><script>{LOCAL_TIMES}</script></body></html>"#,
        title = esc(title),
        who = esc(&frame.who),
    );
    out
}

/// A duration in seconds as people read it: `850 ms`, `42.0 s`, `12 min`, `3.5 h`, `2.1 d`;
/// `–` when there is no value.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() {
        "–".to_owned()
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

/// A count (rounded; `–` when there is no value).
pub fn count(v: f64) -> String {
    if v.is_finite() {
        format!("{:.0}", v.round())
    } else {
        "–".to_owned()
    }
}

/// `text` as a link to `href` (both escaped).
pub fn link(href: &str, text: &str) -> String {
    format!(r#"<a href="{}">{}</a>"#, esc(href), esc(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_data_is_text() {
        assert_eq!(
            esc(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let frame = Frame {
            who: "<who>".into(),
            links: vec![("/traces", "Traces")],
        };
        let html = page("<T>", &frame, "");
        assert!(html.contains("&lt;T&gt;") && html.contains("&lt;who&gt;"));
        assert!(!html.contains("<T>"));
    }

    #[test]
    fn times_carry_utc_and_durations_read_as_milliseconds() {
        let t = time(1_764_606_918_123_000);
        assert!(t.contains(r#"datetime="2025-12-01T16:35:18.123Z""#), "{t}");
        assert!(t.contains(r#"title="2025-12-01 16:35:18 UTC""#), "{t}");
        assert_eq!(millis(1_500), "1.5 ms");
        assert_eq!(millis(250_000), "250 ms");
        assert_eq!(seconds(0.85), "850 ms");
        assert_eq!(seconds(42.0), "42.0 s");
        assert_eq!(seconds(720.0), "12 min");
        assert_eq!(seconds(12_600.0), "3.5 h");
        assert_eq!(seconds(181_440.0), "2.1 d");
        assert_eq!(seconds(f64::NAN), "–");
        assert_eq!(
            (count(2.6), count(f64::NAN)),
            ("3".to_owned(), "–".to_owned())
        );
    }
}
