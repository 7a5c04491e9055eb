//! The listing of a directory: an HTML page for people, JSON for scripts,
//! in the order asked for.
//!
//! This module owns the look of a directory index and nothing else: the
//! caller reads the directory (and decides which entries to hide) and hands
//! over a list of [`Entry`]s and a [`View`] (which format, which order, from
//! the query and `Accept`); [`render`] returns the whole listing. Every name
//! is escaped for where it goes (HTML text, a JSON string) and
//! percent-encoded for its link, and links are relative (`a%20b/`), so the
//! listing works behind any path prefix.
//!
//! The JSON listing is one object:
//!
//! ```json
//! {"path":"/docs/","entries":[
//! {"name":"a b.txt","type":"file","size":1536,"modified":"1994-11-06T08:49:37Z","href":"a%20b.txt"},
//! {"name":"img","type":"directory","size":null,"modified":"1994-11-06T08:49:37Z","href":"img/"},
//! {"name":"latest","type":"symlink","target":"file","size":9,"modified":"1994-11-06T08:49:37Z","href":"latest"}
//! ],"omitted":0,"omitted_exact":true}
//! ```
//!
//! `type` is `file`, `directory` or `symlink`; a symlink's `target` says
//! which of the first two it leads to, and its size and time are the
//! target's. A directory's `size` is `null`. `href` is relative to the
//! listing's URL. `omitted` counts the entries a listing that ran out of
//! time ([`Config::listing_budget`](crate::http::Config::listing_budget),
//! [`LISTING_BUDGET`] by default) did not show; `omitted_exact` is `false`
//! when `omitted` is only a lower bound (see [`Omitted`]: counting has a
//! bound too, [`COUNT_MAX`]).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::time::SystemTime;

use super::date::{listing_time, rfc3339};
use super::encoding::{Weight, qvalue};
use super::ows;
use super::path::encode_segment;

/// One file or subdirectory of a listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name, without any `/`. Names that are not UTF-8 must be
    /// converted (or skipped) by the caller.
    pub name: String,
    /// True for a directory (or a link to one); its link gets a trailing
    /// `/`.
    pub is_dir: bool,
    /// True for a symbolic link (whose size and time are its target's).
    pub is_link: bool,
    /// The size in bytes; not shown for directories.
    pub size: u64,
    /// The modification time, if known.
    pub modified: Option<SystemTime>,
}

/// How a listing is shown: in which format, in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct View {
    /// HTML or JSON.
    pub format: Format,
    /// The column the rows are sorted by.
    pub sort: Sort,
    /// Ascending or descending.
    pub order: Order,
}

/// The format of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// A page for people.
    #[default]
    Html,
    /// An object for scripts (see the [module documentation](self)).
    Json,
}

/// What a listing's rows are sorted by; directories always come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sort {
    /// The name, as people compare names ([`natural_cmp`]).
    #[default]
    Name,
    /// The size (directories, which have none, by name).
    Size,
    /// The modification time.
    Modified,
}

/// Which way a listing is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Smallest, oldest or first in the alphabet first.
    #[default]
    Asc,
    /// The other way round.
    Desc,
}

impl Sort {
    /// The word for it in a query: `name`, `size`, `mtime`.
    pub fn word(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Size => "size",
            Sort::Modified => "mtime",
        }
    }
}

impl Order {
    /// The word for it in a query: `asc`, `desc`.
    pub fn word(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }

    fn flipped(self) -> Order {
        match self {
            Order::Asc => Order::Desc,
            Order::Desc => Order::Asc,
        }
    }
}

impl View {
    /// The view a request asks for: `format`, `sort` and `order` from the
    /// query (`?format=json&sort=size&order=desc`, values without regard to
    /// case, other parameters ignored, the last of a repeated one wins),
    /// and, when the query names no format, JSON for an `Accept` that
    /// prefers `application/json` to `text/html` ([`prefers_json`]).
    ///
    /// # Errors
    ///
    /// The words for a 400 when a parameter has a value this server does
    /// not know: a script that asks for `sort=colour` learns so at once
    /// rather than reading rows in an order it did not ask for.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchat::http::listing::{Format, Order, Sort, View};
    ///
    /// let v = View::parse(Some("sort=size&order=desc"), None).unwrap();
    /// assert_eq!((v.format, v.sort, v.order), (Format::Html, Sort::Size, Order::Desc));
    /// let v = View::parse(None, Some("application/json")).unwrap();
    /// assert_eq!(v.format, Format::Json);
    /// assert!(View::parse(Some("sort=colour"), None).is_err());
    /// ```
    pub fn parse(query: Option<&str>, accept: Option<&str>) -> Result<View, &'static str> {
        let mut view = View::default();
        let mut format = None;
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // A query may escape any byte (`sort=%73ize`): decoded first.
            let decode = |s| percent_encoding::percent_decode_str(s).decode_utf8_lossy();
            let (key, value) = (decode(key), decode(value));
            let is = |word: &str| value.eq_ignore_ascii_case(word);
            match &*key {
                "format" => {
                    format = Some(match () {
                        () if is("html") => Format::Html,
                        () if is("json") => Format::Json,
                        () => return Err("format must be html or json"),
                    });
                }
                "sort" => {
                    view.sort = match () {
                        () if is("name") => Sort::Name,
                        () if is("size") => Sort::Size,
                        () if is("mtime") => Sort::Modified,
                        () => return Err("sort must be name, size or mtime"),
                    };
                }
                "order" => {
                    view.order = match () {
                        () if is("asc") => Order::Asc,
                        () if is("desc") => Order::Desc,
                        () => return Err("order must be asc or desc"),
                    };
                }
                _ => {}
            }
        }
        view.format = format.unwrap_or(if prefers_json(accept) {
            Format::Json
        } else {
            Format::Html
        });
        Ok(view)
    }
}

/// True when an `Accept` value prefers `application/json` to `text/html`:
/// JSON has a weight above zero, and above HTML's, or the same weight
/// named more exactly (`application/json, */*` is JSON; `*/*` alone, as
/// curl sends, and a browser's `text/html,...` are HTML). Weights as RFC
/// 9110 §12.5.1 says, the most specific range that matches a type giving
/// its weight.
pub fn prefers_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    // (weight, how exactly the range named the type: 2 exact, 1 `type/*`,
    // 0 `*/*`), for the most specific range matching each.
    let mut json: Option<(Weight, u8)> = None;
    let mut html: Option<(Weight, u8)> = None;
    for element in accept.split(',').map(ows::trim).filter(|e| !e.is_empty()) {
        let mut parts = element.split(';');
        let range = ows::trim(parts.next().unwrap_or(""));
        let mut q = Some(1000);
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && ows::trim(name).eq_ignore_ascii_case("q")
            {
                q = qvalue(ows::trim(value));
            }
        }
        let Some(q) = q else { continue };
        let specificity = |full: &str, major: &str| {
            if range.eq_ignore_ascii_case(full) {
                Some(2)
            } else if range.len() == major.len() + 2
                && range[..major.len()].eq_ignore_ascii_case(major)
                && range.ends_with("/*")
            {
                Some(1)
            } else {
                (range == "*/*").then_some(0)
            }
        };
        for (best, full, major) in [
            (&mut json, "application/json", "application"),
            (&mut html, "text/html", "text"),
        ] {
            if let Some(s) = specificity(full, major)
                && best.is_none_or(|(_, b)| s > b)
            {
                *best = Some((q, s));
            }
        }
    }
    match (json, html) {
        // `*/*` alone names neither.
        (Some((j, js)), h) if j > 0 && js > 0 => {
            h.is_none_or(|(hq, hs)| j > hq || (j == hq && js > hs))
        }
        _ => false,
    }
}

/// Compares names as people do: without regard to case, and numbers by
/// their value, so `file2` comes before `file10` and `File1` beside
/// `file1`. Names equal that way are ordered by their bytes, so the order
/// is total and the same on every run.
///
/// # Examples
///
/// ```
/// use std::cmp::Ordering;
/// use asynchat::http::listing::natural_cmp;
///
/// assert_eq!(natural_cmp("file2", "file10"), Ordering::Less);
/// assert_eq!(natural_cmp("B.txt", "a.txt"), Ordering::Greater);
/// assert_eq!(natural_cmp("a", "A"), Ordering::Greater); // by bytes, at last
/// ```
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    while let (Some(cx), Some(cy)) = (x.chars().next(), y.chars().next()) {
        let order = if cx.is_ascii_digit() && cy.is_ascii_digit() {
            let (nx, rx) = split_digits(x);
            let (ny, ry) = split_digits(y);
            (x, y) = (rx, ry);
            // By value: without leading zeros, the longer is larger; then
            // digit by digit.
            let (vx, vy) = (nx.trim_start_matches('0'), ny.trim_start_matches('0'));
            vx.len().cmp(&vy.len()).then_with(|| vx.cmp(vy))
        } else {
            (x, y) = (&x[cx.len_utf8()..], &y[cy.len_utf8()..]);
            if cx.is_ascii() && cy.is_ascii() {
                // What `to_lowercase` gives for ASCII, without its iterator.
                cx.to_ascii_lowercase().cmp(&cy.to_ascii_lowercase())
            } else {
                cx.to_lowercase().cmp(cy.to_lowercase())
            }
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    // One ran out first, or both: the shorter first. Then, for names alike
    // but for case or leading zeros, their bytes.
    (!x.is_empty()).cmp(&!y.is_empty()).then_with(|| a.cmp(b))
}

/// The leading ASCII digits of `s`, and the rest.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Sorts `entries` for `view`: directories first, then by the view's
/// column and order, names breaking ties ([`natural_cmp`]).
pub fn sort(entries: &mut [&Entry], view: View) {
    entries.sort_by(|a, b| {
        let within = match view.sort {
            Sort::Name => Ordering::Equal,
            Sort::Size if a.is_dir && b.is_dir => Ordering::Equal,
            Sort::Size => a.size.cmp(&b.size),
            Sort::Modified => a.modified.cmp(&b.modified),
        }
        .then_with(|| natural_cmp(&a.name, &b.name));
        let within = match view.order {
            Order::Asc => within,
            Order::Desc => within.reverse(),
        };
        b.is_dir.cmp(&a.is_dir).then(within)
    });
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
.upload{margin:0 0 1rem}\
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

/// Renders the listing of the directory shown as `display_path` (decoded,
/// such as `/docs/`) as `view` asks.
///
/// The page's rows come in this order: `../` (left out when `at_root`),
/// then the directories, then the files, each group sorted as [`sort`]
/// says. The column headers link to the other orders, and mark the one
/// shown.
///
/// # Examples
///
/// ```
/// use asynchat::http::listing::{Entry, View, render};
///
/// let entry = Entry {
///     name: "a b.txt".into(), is_dir: false, is_link: false, size: 1536, modified: None,
/// };
/// let page = render("/docs/", false, vec![entry], View::default());
/// assert!(page.contains("<title>Index of /docs/</title>"));
/// assert!(page.contains(r#"<a href="a%20b.txt">a b.txt</a>"#));
/// assert!(page.contains("1.5 KiB"));
/// ```
pub fn render(display_path: &str, at_root: bool, entries: Vec<Entry>, view: View) -> String {
    render_head(display_path, at_root, view, false)
        + &render_rows(&DirRead::new(entries, Omitted::NONE), view)
}

/// The start of a listing, which depends on the path it is shown at: for
/// the page, the title, the heading, the table's head and, but at the
/// root, `../`; for JSON, the path.
pub fn render_head(display_path: &str, at_root: bool, view: View, upload: bool) -> String {
    let mut out = String::with_capacity(2048);
    if view.format == Format::Json {
        out.push_str("{\"path\":");
        push_json_string(&mut out, display_path);
        out.push_str(",\"entries\":[\n");
        return out;
    }
    out.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Index of ",
    );
    push_escaped(&mut out, display_path);
    out.push_str("</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<main>\n<h1>Index of ");
    push_escaped(&mut out, display_path);
    out.push_str("</h1>\n");
    if upload {
        // Posted to the listing's own URL; the answer is 303 back here.
        out.push_str(
            "<form class=\"upload\" method=\"post\" enctype=\"multipart/form-data\">\
             <input type=\"file\" name=\"file\" multiple required> \
             <button>Upload</button></form>\n",
        );
    }
    out.push_str("<table>\n<thead><tr>");
    for (sort, label, class) in [
        (Sort::Name, "Name", ""),
        (Sort::Size, "Size", " class=\"size\""),
        (Sort::Modified, "Modified", ""),
    ] {
        push_header(&mut out, view, sort, label, class);
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    if !at_root {
        out.push_str(
            "<tr><td><a href=\"../\">../</a></td><td class=\"size\">-</td>\
             <td class=\"time\"></td></tr>\n",
        );
    }
    out
}

/// Appends the column header for `sort`: a link to the listing sorted by
/// it (the other way round when it is the sort shown), marked for people
/// (an arrow) and for screen readers (`aria-sort`) when it is shown. The
/// link is `rel="nofollow"`: a crawler wants each directory once, not in
/// every order.
fn push_header(out: &mut String, view: View, sort: Sort, label: &str, class: &str) {
    let active = view.sort == sort;
    let order = if active {
        view.order.flipped()
    } else {
        Order::Asc
    };
    let _ = write!(out, "<th{class}");
    if active {
        let aria = match view.order {
            Order::Asc => "ascending",
            Order::Desc => "descending",
        };
        let _ = write!(out, " aria-sort=\"{aria}\"");
    }
    let _ = write!(
        out,
        "><a href=\"?sort={}&amp;order={}\" rel=\"nofollow\">{label}</a>",
        sort.word(),
        order.word()
    );
    if active {
        out.push_str(match view.order {
            Order::Asc => " \u{25b2}",
            Order::Desc => " \u{25bc}",
        });
    }
    out.push_str("</th>");
}

/// The rest of a listing, which depends only on the directory and the
/// view: each entry of `read`, sorted ([`DirRead::ordered`]), then, when
/// entries were left out (the listing's work has a bound), how many, and
/// the end.
/// Links are relative, so the same rows serve every path the directory is
/// reached by.
pub fn render_rows(read: &DirRead, view: View) -> String {
    let (entries, mut omitted) = (read.ordered(view), read.omitted);
    let mut out = String::with_capacity((256 + entries.len() * 160).min(PAGE_MAX + 4096));
    // Past PAGE_MAX the rows left are counted, not shown: the bytes of a
    // page a client asked for and does not read are what its connection
    // holds, so they are bounded as the output queue is.
    let mut shown = 0;
    if view.format == Format::Json {
        for (i, entry) in entries.iter().enumerate() {
            if out.len() >= PAGE_MAX {
                break;
            }
            if i > 0 {
                out.push_str(",\n");
            }
            push_json_entry(&mut out, entry);
            shown += 1;
        }
        omitted.names += entries.len() - shown;
        let _ = writeln!(
            out,
            "\n],\"omitted\":{},\"omitted_exact\":{}}}",
            omitted.names, omitted.exact
        );
        return out;
    }
    for entry in &entries {
        if out.len() >= PAGE_MAX {
            break;
        }
        push_row(&mut out, entry);
        shown += 1;
    }
    omitted.names += entries.len() - shown;
    out.push_str("</tbody>\n</table>\n");
    // A count that stopped at its bound says so even when every name it
    // saw was one a listing does not show.
    if omitted.names > 0 || !omitted.exact {
        let n = omitted.names;
        let count = match (omitted.exact, n) {
            (true, n) => format!("{n} more"),
            (false, 0) => "possibly others".to_string(),
            (false, 1) => "at least 1 other".to_string(),
            (false, n) => format!("at least {n} others"),
        };
        let _ = writeln!(
            out,
            "<p class=\"omitted\">and {count} not listed: a listing stops when \
             reading the directory runs out of time or its rows pass {} MiB.</p>",
            PAGE_MAX >> 20
        );
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The most bytes of rows one listing page holds (about 10,000 rows of
/// ordinary names); the rows past it are counted as left out.
pub const PAGE_MAX: usize = 2 << 20;

/// How long reading one directory for its listing may take before the
/// entries not yet read are counted rather than shown: the loop serves no
/// one else meanwhile. The default of [`Config::listing_budget`].
///
/// [`Config::listing_budget`]: crate::http::Config::listing_budget
pub const LISTING_BUDGET: std::time::Duration = std::time::Duration::from_millis(50);

/// The most names counted, unread, after a listing ran out of time: a
/// directory of a million names (hard links cost their maker nothing) must
/// not take a second to count. Some milliseconds of `getdents`.
pub const COUNT_MAX: usize = 10_000;

/// The entries a listing left out when it ran out of time
/// ([`Config::listing_budget`](crate::http::Config::listing_budget)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Omitted {
    /// How many were counted: the entries left unread that a listing
    /// would show, files and directories with names it shows.
    pub names: usize,
    /// All of them were, and `names` is how many a listing would add.
    /// Otherwise it is a lower bound: counting stops at an error reading
    /// the directory, or after the entry it stopped at and [`COUNT_MAX`]
    /// more, and a symlink (whose target was not looked at) or an entry of
    /// a type the file system does not say is not counted.
    pub exact: bool,
}

/// What one reading of a directory found: the entries to show, sorted by
/// name once ([`natural_cmp`], the costly comparison), and what was left
/// out. Every view of the directory (format, column, order) is rendered
/// from one reading, each sorted from the name order by a cheap stable
/// sort on its column alone ([`DirRead::ordered`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirRead {
    entries: Vec<Entry>,
    /// The entries left out.
    pub omitted: Omitted,
}

impl DirRead {
    /// A reading of `entries`, in any order, with `omitted` left out.
    pub fn new(mut entries: Vec<Entry>, omitted: Omitted) -> DirRead {
        entries.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        DirRead { entries, omitted }
    }

    /// The entries, by name.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries in the order of `view`, as [`sort`] orders them: names
    /// break every tie, so a stable sort of the name order (reversed for a
    /// descending view) by directories first and the view's column gives
    /// the same order without comparing a name again.
    pub fn ordered(&self, view: View) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = match view.order {
            Order::Asc => self.entries.iter().collect(),
            Order::Desc => self.entries.iter().rev().collect(),
        };
        let column = |a: &Entry, b: &Entry| match view.sort {
            Sort::Name => Ordering::Equal,
            Sort::Size if a.is_dir && b.is_dir => Ordering::Equal,
            Sort::Size => a.size.cmp(&b.size),
            Sort::Modified => a.modified.cmp(&b.modified),
        };
        out.sort_by(|a, b| {
            let within = match view.order {
                Order::Asc => column(a, b),
                Order::Desc => column(a, b).reverse(),
            };
            b.is_dir.cmp(&a.is_dir).then(within)
        });
        out
    }

    /// About how many bytes the reading holds, for a cache's bound.
    pub fn bytes(&self) -> usize {
        let per_entry = std::mem::size_of::<Entry>();
        self.entries.iter().map(|e| per_entry + e.name.len()).sum()
    }
}

impl Omitted {
    /// None left out.
    pub const NONE: Omitted = Omitted {
        names: 0,
        exact: true,
    };
}

/// The relative link to `entry`: its name percent-encoded, which is plain
/// ASCII without `&`, `<`, `>`, `"`, `'` or `\`, so it needs no escaping in
/// HTML or JSON; `/` after a directory.
fn href(entry: &Entry) -> String {
    let mut href = encode_segment(&entry.name);
    if entry.is_dir {
        href.push('/');
    }
    href
}

/// Appends one table row for `entry`.
fn push_row(out: &mut String, entry: &Entry) {
    let slash = if entry.is_dir { "/" } else { "" };
    out.push_str("<tr><td><a href=\"");
    out.push_str(&href(entry));
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

/// Appends one JSON object for `entry` (see the [module
/// documentation](self)).
fn push_json_entry(out: &mut String, entry: &Entry) {
    let kind = if entry.is_dir { "directory" } else { "file" };
    out.push_str("{\"name\":");
    push_json_string(out, &entry.name);
    if entry.is_link {
        let _ = write!(out, ",\"type\":\"symlink\",\"target\":\"{kind}\"");
    } else {
        let _ = write!(out, ",\"type\":\"{kind}\"");
    }
    if entry.is_dir {
        out.push_str(",\"size\":null");
    } else {
        let _ = write!(out, ",\"size\":{}", entry.size);
    }
    match entry.modified {
        Some(t) => {
            let _ = write!(out, ",\"modified\":\"{}\"", rfc3339(t));
        }
        None => out.push_str(",\"modified\":null"),
    }
    let _ = write!(out, ",\"href\":\"{}\"}}", href(entry));
}

/// Appends `s` as a JSON string (RFC 8259 §7): quoted, with `"`, `\` and
/// the control characters escaped. Everything else, any UTF-8, goes as it
/// is.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
            is_link: false,
            size,
            modified: None,
        }
    }

    fn dir(name: &str) -> Entry {
        Entry {
            name: name.to_owned(),
            is_dir: true,
            is_link: false,
            size: 4096,
            modified: None,
        }
    }

    /// The link targets of a page's rows, in order (not the column
    /// headers' `?sort=` links).
    fn hrefs(page: &str) -> Vec<&str> {
        page.split("<a href=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .filter(|href| !href.starts_with('?'))
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
            file("file10", 1),
            file("file2", 1),
        ];
        const CASES: &[(bool, &[&str])] = &[
            (
                false,
                &[
                    "../",
                    "alpha/",
                    "Beta/",
                    "zeta/",
                    "a.txt",
                    "B.txt",
                    "b.txt",
                    "file2",
                    "file10",
                    "%C3%A9.txt",
                ],
            ),
            (
                true,
                &[
                    "alpha/",
                    "Beta/",
                    "zeta/",
                    "a.txt",
                    "B.txt",
                    "b.txt",
                    "file2",
                    "file10",
                    "%C3%A9.txt",
                ],
            ),
        ];
        for &(at_root, want) in CASES {
            let page = render("/x/", at_root, entries.clone(), View::default());
            assert_eq!(hrefs(&page), want, "at_root = {at_root}");
        }
    }

    #[test]
    fn natural_cmp_table() {
        use Ordering::{Equal, Greater, Less};
        const CASES: &[(&str, &str, Ordering)] = &[
            ("file2", "file10", Less),
            ("file10", "file2", Greater),
            ("file02", "file2", Less), // equal values: by bytes
            ("file2", "file02", Greater),
            ("a", "B", Less),
            ("B", "a", Greater),
            ("A", "a", Less),
            ("a", "a", Equal),
            ("", "a", Less),
            ("a", "", Greater),
            ("a", "ab", Less),
            ("x9", "x10y", Less),
            ("x10", "x10y", Less),
            ("1.10", "1.9", Greater),
            ("v1.2.10", "v1.2.9", Greater),
            ("img12.png", "img10.png", Greater),
            ("99999999999999999999999", "100000000000000000000000", Less),
            ("007", "7", Less),
            ("Émile", "émile", Less),
            ("émile", "zoe", Greater), // code points after the ASCII letters
            ("a b", "a-b", Less),
        ];
        for &(a, b, want) in CASES {
            assert_eq!(natural_cmp(a, b), want, "{a:?} vs {b:?}");
        }
    }

    proptest::proptest! {
        /// Every view's order made from the one name order is the order
        /// [`sort`] gives: the shortcut changes no listing.
        #[test]
        fn ordered_views_are_sorted_views(
            rows in proptest::collection::vec(
                ("[aA0-9_é]{0,4}", proptest::bool::ANY, 0u64..4, proptest::option::of(0u64..4)),
                0..40,
            ),
        ) {
            let mut names = std::collections::HashSet::new();
            let entries: Vec<Entry> = rows
                .into_iter()
                .filter(|(name, ..)| names.insert(name.clone()))
                .map(|(name, is_dir, size, secs)| Entry {
                    modified: secs.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
                    is_dir,
                    ..file(&name, size)
                })
                .collect();
            let read = DirRead::new(entries.clone(), Omitted::NONE);
            for format in [Format::Html, Format::Json] {
                for sort_by in [Sort::Name, Sort::Size, Sort::Modified] {
                    for order in [Order::Asc, Order::Desc] {
                        let view = View { format, sort: sort_by, order };
                        let mut want: Vec<&Entry> = entries.iter().collect();
                        sort(&mut want, view);
                        proptest::prop_assert_eq!(read.ordered(view), want, "{:?}", view);
                    }
                }
            }
        }

        /// `natural_cmp` is a total order (what `sort_by` needs): it
        /// agrees with itself reversed, is transitive, and calls only
        /// equal strings equal.
        #[test]
        fn natural_cmp_is_a_total_order(
            a in "[aAbB0-9._é -]{0,6}",
            b in "[aAbB0-9._é -]{0,6}",
            c in "[aAbB0-9._é -]{0,6}",
        ) {
            proptest::prop_assert_eq!(natural_cmp(&a, &b), natural_cmp(&b, &a).reverse());
            proptest::prop_assert_eq!(natural_cmp(&a, &b) == Ordering::Equal, a == b);
            let mut v = [a.as_str(), b.as_str(), c.as_str()];
            v.sort_by(|x, y| natural_cmp(x, y));
            proptest::prop_assert!(natural_cmp(v[0], v[2]) != Ordering::Greater, "{v:?}");
            proptest::prop_assert!(natural_cmp(v[0], v[1]) != Ordering::Greater, "{v:?}");
            proptest::prop_assert!(natural_cmp(v[1], v[2]) != Ordering::Greater, "{v:?}");
        }
    }

    /// A page holds at most `PAGE_MAX` bytes of rows; the rest are counted
    /// with what the reading left out, in HTML and in JSON.
    #[test]
    fn a_page_stops_at_its_bound_and_counts_the_rest() {
        let long = "n".repeat(200);
        let entries: Vec<Entry> = (0..20_000)
            .map(|i| file(&format!("{long}{i:05}"), i))
            .collect();
        let read = DirRead::new(
            entries,
            Omitted {
                names: 7,
                exact: true,
            },
        );
        for format in [Format::Html, Format::Json] {
            let view = View {
                format,
                ..View::default()
            };
            let page = render_rows(&read, view);
            assert!(page.len() < PAGE_MAX + 4096, "{format:?}: {}", page.len());
            // Each row names the file twice: its text and its link.
            let shown = page.matches(&long).count() / 2;
            assert!(shown > 1000 && shown < 20_000, "{format:?}: {shown}");
            let omitted = 20_000 - shown + 7;
            let said = match format {
                Format::Html => format!("and {omitted} more not listed"),
                Format::Json => format!("\"omitted\":{omitted},"),
            };
            assert!(page.contains(&said), "{format:?}: {said}");
        }
    }

    #[test]
    fn sort_table() {
        let t = |secs| Some(UNIX_EPOCH + Duration::from_secs(secs));
        let entries = [
            Entry {
                modified: t(30),
                ..file("b", 10)
            },
            Entry {
                modified: t(10),
                ..file("a10", 300)
            },
            Entry {
                modified: t(20),
                ..file("a2", 20)
            },
            Entry {
                modified: t(5),
                ..dir("z")
            },
            Entry {
                modified: t(50),
                ..dir("y")
            },
        ];
        let names = |view: View| {
            let mut v: Vec<&Entry> = entries.iter().collect();
            sort(&mut v, view);
            v.into_iter().map(|e| e.name.as_str()).collect::<Vec<_>>()
        };
        let view = |sort, order| View {
            format: Format::Html,
            sort,
            order,
        };
        const CASES: &[(Sort, Order, &[&str])] = &[
            (Sort::Name, Order::Asc, &["y", "z", "a2", "a10", "b"]),
            (Sort::Name, Order::Desc, &["z", "y", "b", "a10", "a2"]),
            // Directories have no size: by name among themselves.
            (Sort::Size, Order::Asc, &["y", "z", "b", "a2", "a10"]),
            (Sort::Size, Order::Desc, &["z", "y", "a10", "a2", "b"]),
            (Sort::Modified, Order::Asc, &["z", "y", "a10", "a2", "b"]),
            (Sort::Modified, Order::Desc, &["y", "z", "b", "a2", "a10"]),
        ];
        for &(s, o, want) in CASES {
            assert_eq!(names(view(s, o)), want, "{s:?} {o:?}");
        }
    }

    #[test]
    fn view_table() {
        use Format::{Html, Json};
        use Order::{Asc, Desc};
        use Sort::{Modified, Name, Size};
        type Case = (
            Option<&'static str>,
            Option<&'static str>,
            Result<(Format, Sort, Order), &'static str>,
        );
        const CASES: &[Case] = &[
            (None, None, Ok((Html, Name, Asc))),
            (Some(""), None, Ok((Html, Name, Asc))),
            (Some("format=json"), None, Ok((Json, Name, Asc))),
            (
                Some("format=JSON&sort=MTIME&order=Desc"),
                None,
                Ok((Json, Modified, Desc)),
            ),
            (Some("sort=size"), None, Ok((Html, Size, Asc))),
            (
                Some("%73ort=%73ize&order=de%73c"),
                None,
                Ok((Html, Size, Desc)),
            ),
            (
                Some("sort=%zz"),
                None,
                Err("sort must be name, size or mtime"),
            ),
            (Some("sort=size&sort=name"), None, Ok((Html, Name, Asc))),
            (Some("v=3&sort=size&x"), None, Ok((Html, Size, Asc))),
            (
                Some("sort=colour"),
                None,
                Err("sort must be name, size or mtime"),
            ),
            (Some("sort="), None, Err("sort must be name, size or mtime")),
            (Some("order=up"), None, Err("order must be asc or desc")),
            (Some("format=xml"), None, Err("format must be html or json")),
            // The query's format wins over Accept.
            (
                Some("format=html"),
                Some("application/json"),
                Ok((Html, Name, Asc)),
            ),
            (None, Some("application/json"), Ok((Json, Name, Asc))),
            (
                Some("sort=size"),
                Some("application/json"),
                Ok((Json, Size, Asc)),
            ),
        ];
        for &(query, accept, want) in CASES {
            let got = View::parse(query, accept).map(|v| (v.format, v.sort, v.order));
            assert_eq!(got, want, "{query:?} {accept:?}");
        }
    }

    #[test]
    fn prefers_json_table() {
        const CASES: &[(Option<&str>, bool)] = &[
            (None, false),
            (Some(""), false),
            (Some("*/*"), false), // curl
            (
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                false,
            ), // a browser
            (Some("application/json"), true),
            (Some("APPLICATION/JSON"), true),
            (Some("application/json, text/plain, */*"), true), // axios
            (Some("application/*"), true),
            (Some("application/json;q=0"), false),
            (Some("application/json;q=0.5, text/html"), false),
            (Some("application/json, text/html;q=0.9"), true),
            (Some("text/html, application/json"), false), // a tie: the page
            (Some("application/json;q=0.5, */*;q=0.1"), true),
            (Some("text/*, application/json"), true), // exact beats type/*
            (Some("application/json;charset=utf-8;q=1"), true),
            (Some("application/json;q=x"), false), // a bad weight: ignored
            (Some("application/jsonx"), false),
        ];
        for &(accept, want) in CASES {
            assert_eq!(prefers_json(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn json_listing_is_json() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let hostile = "q\"uo\\te\n\t\u{1}<é>&'.txt";
        let entries = vec![
            Entry {
                modified: Some(t),
                ..file(hostile, 12)
            },
            Entry {
                modified: Some(t),
                ..dir("sub dir")
            },
            Entry {
                is_link: true,
                ..file("latest", 3)
            },
            Entry {
                is_link: true,
                ..dir("up")
            },
        ];
        let view = View {
            format: Format::Json,
            ..View::default()
        };
        {
            let text = render("/d\"ir/é/", false, entries.clone(), view);
            let doc: serde_json::Value = serde_json::from_str(&text).expect(&text);
            assert_eq!(doc["path"], "/d\"ir/é/");
            assert_eq!(doc["omitted"], 0);
            assert_eq!(doc["omitted_exact"], true);
            let list = doc["entries"].as_array().unwrap();
            let names: Vec<_> = list.iter().map(|e| e["name"].as_str().unwrap()).collect();
            assert_eq!(names, ["sub dir", "up", "latest", hostile]);
            assert_eq!(list[0]["type"], "directory");
            assert_eq!(list[0]["size"], serde_json::Value::Null);
            assert_eq!(list[0]["href"], "sub%20dir/");
            assert_eq!(list[0]["modified"], "1994-11-06T08:49:37Z");
            assert_eq!(list[1]["type"], "symlink");
            assert_eq!(list[1]["target"], "directory");
            assert_eq!(list[2]["type"], "symlink");
            assert_eq!(list[2]["target"], "file");
            assert_eq!(list[2]["size"], 3);
            assert_eq!(list[2]["modified"], serde_json::Value::Null);
            assert_eq!(list[3]["type"], "file");
            assert_eq!(list[3]["size"], 12);
            assert_eq!(list[3]["href"], encode_segment(hostile));
        }
        let omitted = Omitted {
            names: 7,
            exact: false,
        };
        let text = render_head("/", true, view, false)
            + &render_rows(&DirRead::new(Vec::new(), omitted), view);
        let doc: serde_json::Value = serde_json::from_str(&text).expect(&text);
        assert_eq!(doc["entries"], serde_json::json!([]));
        assert_eq!(doc["omitted"], 7);
        assert_eq!(doc["omitted_exact"], false);
        let html = render_rows(&DirRead::new(Vec::new(), omitted), View::default());
        assert!(html.contains("and at least 7 others not listed"), "{html}");
        // The note in every case, and none when nothing is left out.
        for (names, exact, note) in [
            (3, true, Some("and 3 more not listed")),
            (1, true, Some("and 1 more not listed")),
            (1, false, Some("and at least 1 other not listed")),
            (0, false, Some("and possibly others not listed")),
            (0, true, None),
        ] {
            let read = DirRead::new(Vec::new(), Omitted { names, exact });
            let html = render_rows(&read, View::default());
            match note {
                Some(note) => assert!(html.contains(note), "{names} {exact}: {html}"),
                None => assert!(!html.contains("not listed"), "{html}"),
            }
        }
    }

    #[test]
    fn the_active_sort_is_marked_and_its_link_flips() {
        let view = View {
            format: Format::Html,
            sort: Sort::Size,
            order: Order::Desc,
        };
        let page = render("/", true, vec![file("a", 1)], view);
        assert!(
            page.contains(
                "<th><a href=\"?sort=name&amp;order=asc\" rel=\"nofollow\">Name</a></th>\
                 <th class=\"size\" aria-sort=\"descending\">\
                 <a href=\"?sort=size&amp;order=asc\" rel=\"nofollow\">Size</a> \u{25bc}</th>\
                 <th><a href=\"?sort=mtime&amp;order=asc\" rel=\"nofollow\">Modified</a></th>"
            ),
            "{page}"
        );
        assert_eq!(page.matches("aria-sort").count(), 1);
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
            assert!(render("/", true, vec![entry.clone()], View::default()).contains(want));
        }
    }

    #[test]
    fn page_is_a_complete_html5_document() {
        let page = render("/docs/<x>&/", false, vec![file("a", 1)], View::default());
        for want in [
            "<!doctype html>",
            "<meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>Index of /docs/&lt;x&gt;&amp;/</title>",
            "<h1>Index of /docs/&lt;x&gt;&amp;/</h1>",
            "<th aria-sort=\"ascending\"><a href=\"?sort=name&amp;order=desc\" rel=\"nofollow\">Name</a> \u{25b2}</th>\
             <th class=\"size\"><a href=\"?sort=size&amp;order=asc\" rel=\"nofollow\">Size</a></th>\
             <th><a href=\"?sort=mtime&amp;order=asc\" rel=\"nofollow\">Modified</a></th>",
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
            let page = render("/", at_root, Vec::new(), View::default());
            assert_eq!(hrefs(&page), want, "at_root = {at_root}");
        }
    }
}
