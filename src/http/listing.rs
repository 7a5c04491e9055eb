//! The HTML page listing a directory.
//!
//! This module owns the look of a directory index and nothing else: the
//! caller reads the directory (and decides which entries to hide) and hands
//! over a list of [`Entry`]s; [`render`] returns a complete HTML5 page. Every
//! name is HTML-escaped for the text and percent-encoded for the link, and
//! links are relative (`a%20b/`), so the page works behind any path prefix.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::SystemTime;

use super::date::listing_time;
use super::path::encode_segment;

/// One file or subdirectory of a listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name, without any `/`. Names that are not UTF-8 must be
    /// converted (or skipped) by the caller.
    pub name: String,
    /// True for a directory; its link gets a trailing `/`.
    pub is_dir: bool,
    /// The size in bytes; not shown for directories.
    pub size: u64,
    /// The modification time, if known.
    pub modified: Option<SystemTime>,
}

/// The style sheet: the system font in a narrow column, subtle striping and
/// hover, sizes right-aligned in a monospace font, light and dark schemes.
const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1f2328;--muted:#656d76;--bg:#fff;\
--stripe:#f6f8fa;--hover:#eaeef2;--line:#d0d7de;--link:#0969da}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;\
--bg:#0d1117;--stripe:#161b22;--hover:#1f2630;--line:#30363d;--link:#4493f8}}\
body{margin:0;background:var(--bg);color:var(--fg);\
font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\
main{max-width:960px;margin:0 auto;padding:2rem 1rem}\
h1{font-size:1.25rem;font-weight:600;margin:0 0 1rem;word-break:break-all}\
table{width:100%;border-collapse:collapse}\
th{text-align:left;font-weight:600;color:var(--muted);\
border-bottom:1px solid var(--line);padding:.4rem .6rem}\
td{padding:.3rem .6rem;border-bottom:1px solid var(--line)}\
tbody tr:nth-child(even){background:var(--stripe)}\
tbody tr:hover{background:var(--hover)}\
td:first-child{word-break:break-all}\
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}\
.size,.time{white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;\
font-size:.85rem;color:var(--muted)}\
.size{text-align:right}\
";

/// Renders the listing page for the directory shown as `display_path`
/// (decoded, such as `/docs/`).
///
/// Rows come in this order: `../` (left out when `at_root`), then the
/// directories, then the files. Each group is sorted by the bytes of the
/// UTF-8 name, which is simple and stable, though not how a person would
/// sort accented or mixed-case names.
///
/// # Examples
///
/// ```
/// use asynchat::http::listing::{Entry, render};
///
/// let page = render("/docs/", false, vec![Entry {
///     name: "a b.txt".into(), is_dir: false, size: 1536, modified: None,
/// }]);
/// assert!(page.contains("<title>Index of /docs/</title>"));
/// assert!(page.contains(r#"<a href="a%20b.txt">a b.txt</a>"#));
/// assert!(page.contains("1.5 KiB"));
/// ```
pub fn render(display_path: &str, at_root: bool, entries: Vec<Entry>) -> String {
    render_head(display_path, at_root) + &render_rows(entries, 0)
}

/// The start of a listing page, which depends on the path it is shown at:
/// the title, the heading, the table's head and, but at the root, `../`.
pub fn render_head(display_path: &str, at_root: bool) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Index of ",
    );
    push_escaped(&mut out, display_path);
    out.push_str("</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<main>\n<h1>Index of ");
    push_escaped(&mut out, display_path);
    out.push_str(
        "</h1>\n<table>\n<thead><tr><th>Name</th><th class=\"size\">Size</th>\
         <th>Modified</th></tr></thead>\n<tbody>\n",
    );
    if !at_root {
        out.push_str(
            "<tr><td><a href=\"../\">../</a></td><td class=\"size\">-</td>\
             <td class=\"time\"></td></tr>\n",
        );
    }
    out
}

/// The rest of a listing page, which depends only on the directory: a row
/// for each entry, sorted, then, when `omitted` entries were left out (the
/// listing's work has a bound), a line that says how many, and the end of
/// the page. Links are relative, so the same rows serve every path the
/// directory is reached by.
pub fn render_rows(mut entries: Vec<Entry>, omitted: usize) -> String {
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    let mut out = String::with_capacity(256 + entries.len() * 160);
    for entry in &entries {
        push_row(&mut out, entry);
    }
    out.push_str("</tbody>\n</table>\n");
    if omitted > 0 {
        let _ = writeln!(
            out,
            "<p class=\"omitted\">and {omitted} more not listed: a listing stops after \
             {} ms of work.</p>",
            LISTING_BUDGET.as_millis()
        );
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// How long reading one directory for its listing may take before the
/// entries not yet read are counted rather than shown: the loop serves no
/// one else meanwhile.
pub const LISTING_BUDGET: std::time::Duration = std::time::Duration::from_millis(50);

/// Appends one table row for `entry`.
fn push_row(out: &mut String, entry: &Entry) {
    let slash = if entry.is_dir { "/" } else { "" };
    out.push_str("<tr><td><a href=\"");
    // The encoded name is plain ASCII without `&`, `<`, `>`, `"` or `'`, so
    // it needs no HTML escaping.
    out.push_str(&encode_segment(&entry.name));
    out.push_str(slash);
    out.push_str("\">");
    push_escaped(out, &entry.name);
    out.push_str(slash);
    out.push_str("</a></td><td class=\"size\">");
    if entry.is_dir {
        out.push('-');
    } else {
        out.push_str(&human_size(entry.size));
    }
    out.push_str("</td><td class=\"time\">");
    if let Some(t) = entry.modified {
        out.push_str(&listing_time(t));
    }
    out.push_str("</td></tr>\n");
}

/// `s` with `&`, `<`, `>`, `"` and `'` replaced by character references,
/// safe both as HTML text and inside a quoted attribute. Borrowed when there
/// is nothing to replace.
///
/// # Examples
///
/// ```
/// use asynchat::http::listing::escape_html;
///
/// assert_eq!(escape_html("a<b> & 'c'"), "a&lt;b&gt; &amp; &#39;c&#39;");
/// assert!(matches!(escape_html("plain"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn escape_html(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    push_escaped(&mut out, s);
    Cow::Owned(out)
}

/// Appends `s` with `&`, `<`, `>`, `"` and `'` replaced by character
/// references, which makes it safe both as text and inside a quoted
/// attribute.
fn push_escaped(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// A size for people, with 1024-based units: `512 B`, `1.5 KiB`, `3.0 MiB`,
/// `4.0 GiB`.
///
/// Below 1024 the exact byte count is shown; above it, one decimal, rounded
/// to nearest, and a value that would round up to 1024.0 moves to the next
/// unit (so `1048575` is `1.0 MiB`, not `1024.0 KiB`).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Integer arithmetic, in tenths of a unit, avoids floating-point
    // rounding surprises near the boundaries.
    let n = u128::from(n);
    let mut unit = 0;
    while unit + 1 < UNITS.len() && n >= 1024u128.pow(unit as u32 + 2) {
        unit += 1;
    }
    let tenths = |unit: usize| {
        let divisor = 1024u128.pow(unit as u32 + 1);
        (n * 10 + divisor / 2) / divisor
    };
    let mut t = tenths(unit);
    if t >= 10_240 && unit + 1 < UNITS.len() {
        unit += 1;
        t = tenths(unit);
    }
    format!("{}.{} {}", t / 10, t % 10, UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn human_size_table() {
        const CASES: &[(u64, &str)] = &[
            (0, "0 B"),
            (1, "1 B"),
            (512, "512 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1075, "1.0 KiB"),
            (1076, "1.1 KiB"),
            (1536, "1.5 KiB"),
            (10_240, "10.0 KiB"),
            (1_048_524, "1023.9 KiB"),
            (1_048_525, "1.0 MiB"),
            (1_048_575, "1.0 MiB"),
            (1_048_576, "1.0 MiB"),
            (3 * 1_048_576, "3.0 MiB"),
            (3_500_000, "3.3 MiB"),
            (4 * 1_073_741_824, "4.0 GiB"),
            (5_000_000_000, "4.7 GiB"),
            (1_099_511_627_776, "1.0 TiB"),
            (1_125_899_906_842_624, "1.0 PiB"),
            (1_152_921_504_606_846_976, "1.0 EiB"),
            (u64::MAX, "16.0 EiB"),
        ];
        for &(n, want) in CASES {
            assert_eq!(human_size(n), want, "human_size({n})");
        }
    }

    #[test]
    fn escape_table() {
        const CASES: &[(&str, &str)] = &[
            ("", ""),
            ("plain", "plain"),
            ("<script>&\"'.txt", "&lt;script&gt;&amp;&quot;&#39;.txt"),
            ("&amp;", "&amp;amp;"),
            ("café <b>", "café &lt;b&gt;"),
            ("a'b\"c", "a&#39;b&quot;c"),
        ];
        for &(s, want) in CASES {
            let mut out = String::new();
            push_escaped(&mut out, s);
            assert_eq!(out, want, "push_escaped({s:?})");
            assert_eq!(escape_html(s), want, "escape_html({s:?})");
            assert_eq!(
                matches!(escape_html(s), Cow::Borrowed(_)),
                s == want,
                "{s:?}"
            );
        }
    }

    fn file(name: &str, size: u64) -> Entry {
        Entry {
            name: name.to_owned(),
            is_dir: false,
            size,
            modified: None,
        }
    }

    fn dir(name: &str) -> Entry {
        Entry {
            name: name.to_owned(),
            is_dir: true,
            size: 4096,
            modified: None,
        }
    }

    /// The link targets of a page, in order.
    fn hrefs(page: &str) -> Vec<&str> {
        page.split("<a href=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect()
    }

    #[test]
    fn rows_are_ordered_dirs_then_files_by_name() {
        let entries = vec![
            file("b.txt", 1),
            dir("zeta"),
            file("B.txt", 1),
            dir("alpha"),
            file("a.txt", 1),
            dir("Beta"),
            file("é.txt", 1),
        ];
        const CASES: &[(bool, &[&str])] = &[
            (
                false,
                &[
                    "../",
                    "Beta/",
                    "alpha/",
                    "zeta/",
                    "B.txt",
                    "a.txt",
                    "b.txt",
                    "%C3%A9.txt",
                ],
            ),
            (
                true,
                &[
                    "Beta/",
                    "alpha/",
                    "zeta/",
                    "B.txt",
                    "a.txt",
                    "b.txt",
                    "%C3%A9.txt",
                ],
            ),
        ];
        for &(at_root, want) in CASES {
            let page = render("/x/", at_root, entries.clone());
            assert_eq!(hrefs(&page), want, "at_root = {at_root}");
        }
    }

    #[test]
    fn rows_table() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let cases: &[(Entry, &str)] = &[
            (
                file("a b#c?.txt", 1536),
                "<tr><td><a href=\"a%20b%23c%3F.txt\">a b#c?.txt</a></td>\
                 <td class=\"size\">1.5 KiB</td><td class=\"time\"></td></tr>\n",
            ),
            (
                file("<script>&\"'.txt", 512),
                "<tr><td><a href=\"%3Cscript%3E%26%22%27.txt\">\
                 &lt;script&gt;&amp;&quot;&#39;.txt</a></td>\
                 <td class=\"size\">512 B</td><td class=\"time\"></td></tr>\n",
            ),
            (
                Entry {
                    modified: Some(t),
                    ..dir("my docs")
                },
                "<tr><td><a href=\"my%20docs/\">my docs/</a></td>\
                 <td class=\"size\">-</td><td class=\"time\">1994-11-06 08:49</td></tr>\n",
            ),
            (
                file("javascript:alert(1)", 0),
                "<tr><td><a href=\"javascript%3Aalert(1)\">javascript:alert(1)</a></td>\
                 <td class=\"size\">0 B</td><td class=\"time\"></td></tr>\n",
            ),
            (
                Entry {
                    modified: Some(t),
                    ..file("café.html", 3 * 1_048_576)
                },
                "<tr><td><a href=\"caf%C3%A9.html\">café.html</a></td>\
                 <td class=\"size\">3.0 MiB</td><td class=\"time\">1994-11-06 08:49</td></tr>\n",
            ),
        ];
        for (entry, want) in cases {
            let mut out = String::new();
            push_row(&mut out, entry);
            assert_eq!(out, *want, "{entry:?}");
            assert!(render("/", true, vec![entry.clone()]).contains(want));
        }
    }

    #[test]
    fn page_is_a_complete_html5_document() {
        let page = render("/docs/<x>&/", false, vec![file("a", 1)]);
        for want in [
            "<!doctype html>",
            "<meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>Index of /docs/&lt;x&gt;&amp;/</title>",
            "<h1>Index of /docs/&lt;x&gt;&amp;/</h1>",
            "<th>Name</th><th class=\"size\">Size</th><th>Modified</th>",
            "prefers-color-scheme:dark",
            "</html>\n",
        ] {
            assert!(page.contains(want), "missing {want:?}");
        }
        assert!(page.starts_with("<!doctype html>"));
        assert!(!page.contains("<x>"));
    }

    #[test]
    fn empty_directory_has_only_the_parent_link() {
        const CASES: &[(bool, &[&str])] = &[(false, &["../"]), (true, &[])];
        for &(at_root, want) in CASES {
            let page = render("/", at_root, Vec::new());
            assert_eq!(hrefs(&page), want, "at_root = {at_root}");
        }
    }
}
