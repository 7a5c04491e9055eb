//! The links of an HTML page: the values of its `href` and `src`
//! attributes, in document order, as a pure function over the text.
//!
//! A scanner written here rather than an HTML parser crate: a crawler of
//! static sites needs two attributes, and the parsers that follow the HTML
//! standard (html5ever and the crates on it) bring a tree builder and
//! dozens of dependencies for them. The scanner knows the parts of HTML
//! that hide or change an attribute: comments, quoted and unquoted
//! values, case, character references, and the raw text of `<script>` and
//! `<style>`, where a `<a href>` in a string is not a link. A tag with
//! `rel="nofollow"` gives no links (a listing's links to its other sort
//! orders say so: a mirror wants each directory once). It does not apply
//! `<base href>`. Its table is in `tests/crawl.rs`.

/// The attributes whose values are links.
const LINK_ATTRIBUTES: [&str; 2] = ["href", "src"];

/// The `href` and `src` values of every tag in `html` but those marked
/// `rel="nofollow"`, references decoded.
pub fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        if let Some(comment) = rest.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let name_len = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_len].to_ascii_lowercase();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue; // `</p>`, `<!DOCTYPE>`, a lone `<`
        }
        rest = &rest[name_len..];
        rest = attributes(rest, &mut out);
        if name == "script" || name == "style" {
            // Raw text: nothing in it is a tag until its end tag.
            let close = format!("</{name}");
            rest = match find_ignoring_case(rest, &close) {
                Some(i) => &rest[i..],
                None => "",
            };
        }
    }
    out
}

/// Reads a tag's attributes up to its `>`, keeping link values unless the
/// tag says `rel="nofollow"`; returns what follows the tag.
fn attributes<'a>(mut rest: &'a str, out: &mut Vec<String>) -> &'a str {
    let mut found = Vec::new();
    let mut nofollow = false;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() || rest.starts_with('>') {
            if !nofollow {
                out.append(&mut found);
            }
            return rest.strip_prefix('>').unwrap_or(rest);
        }
        let name_len = rest
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(rest.len())
            .max(1);
        let name = rest[..name_len].to_ascii_lowercase();
        rest = rest[name_len..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        let Some(after_eq) = rest.strip_prefix('=') else {
            continue; // an attribute without a value
        };
        rest = after_eq.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let (value, after) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &rest[1..];
                match body.find(q) {
                    Some(end) => (&body[..end], &body[end + 1..]),
                    None => (body, ""),
                }
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        if LINK_ATTRIBUTES.contains(&name.as_str()) {
            found.push(decode_references(value));
        } else if name == "rel" {
            nofollow |= decode_references(value)
                .split_ascii_whitespace()
                .any(|token| token.eq_ignore_ascii_case("nofollow"));
        }
        rest = after;
    }
}

fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Decodes the character references that appear in URLs: the five named
/// ones and numeric ones. Anything else is left as it is.
pub fn decode_references(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let n = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        name.strip_prefix('#').and_then(|d| d.parse().ok())
                    };
                    n.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
