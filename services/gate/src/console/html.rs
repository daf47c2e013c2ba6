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
h1{font-size:1.5rem;overflow-wrap:anywhere}td,p{overflow-wrap:anywhere}
a{color:#0b5cad}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f0a500}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;
border-bottom:1px solid #dde2e8;vertical-align:top}td.num{text-align:right;white-space:nowrap}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.5rem 0 1rem}
label{display:flex;flex-direction:column;font-size:.85rem}
.error{color:#b00020;font-weight:600}.gap{background:#fff4d6;padding:.5rem;margin:.5rem 0}
.bar{position:relative;height:1rem;background:#eef2f6;min-width:8rem}
.bar span{position:absolute;top:0;bottom:0;background:#3d7fc1;min-width:2px}
.bar span.err{background:#b00020}.muted{color:#5b6570}.empty{padding:1rem 0}
@media (max-width:600px){td.wide,th.wide{display:none}main{padding:.5rem}}
";

/// Shows every `<time>` in the viewer's time zone (UTC stays in the title, on hover).
const LOCAL_TIMES: &str = "for(const t of document.querySelectorAll('time[datetime]')){\
const d=new Date(t.getAttribute('datetime'));if(!isNaN(d))t.textContent=d.toLocaleString();}";

/// A whole page: header with the navigation and who is signed in, then `body`.
pub fn page(title: &str, who: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · printflow</title><style>{STYLE}</style></head><body>
<header><strong>printflow</strong><nav aria-label="Console"><a href="/traces">Traces</a></nav>
<span class="muted">{who}</span><form method="post" action="/auth/logout"><button>Sign out</button></form></header>
<main><h1>{title}</h1>{body}</main><script>{LOCAL_TIMES}</script></body></html>"#,
        title = esc(title),
        who = esc(who),
    );
    out
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
        let html = page("<T>", "<who>", "");
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
    }
}
