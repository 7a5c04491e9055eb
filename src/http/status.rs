//! Status codes: their reason phrases and the status line every response
//! starts with, rendered at compile time from one table.

/// The `Server` field of every response.
pub const SERVER: &str = concat!("asynchat-httpd/", env!("CARGO_PKG_VERSION"));

macro_rules! statuses {
    ($($code:literal $reason:literal,)*) => {
        /// The reason phrase of a status code this server sends.
        pub fn reason(status: u16) -> &'static str {
            match status {
                $($code => $reason,)*
                _ => "Unknown",
            }
        }

        /// The status line, the `Server` field and `Date: ` (the channel
        /// appends the date), as static bytes: no response renders them.
        pub fn status_line(status: u16) -> &'static [u8] {
            match status {
                $($code => concat!(
                    "HTTP/1.1 ", stringify!($code), " ", $reason,
                    "\r\nServer: asynchat-httpd/", env!("CARGO_PKG_VERSION"), "\r\nDate: "
                ).as_bytes(),)*
                _ => concat!(
                    "HTTP/1.1 500 Internal Server Error\r\nServer: asynchat-httpd/",
                    env!("CARGO_PKG_VERSION"), "\r\nDate: "
                ).as_bytes(),
            }
        }
    };
}

statuses! {
    100 "Continue",
    200 "OK",
    201 "Created",
    204 "No Content",
    206 "Partial Content",
    301 "Moved Permanently",
    303 "See Other",
    304 "Not Modified",
    400 "Bad Request",
    401 "Unauthorized",
    403 "Forbidden",
    404 "Not Found",
    405 "Method Not Allowed",
    408 "Request Timeout",
    409 "Conflict",
    412 "Precondition Failed",
    413 "Content Too Large",
    414 "URI Too Long",
    415 "Unsupported Media Type",
    416 "Range Not Satisfiable",
    431 "Request Header Fields Too Large",
    500 "Internal Server Error",
    501 "Not Implemented",
    503 "Service Unavailable",
    505 "HTTP Version Not Supported",
    507 "Insufficient Storage",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_match_reasons() {
        for code in [100, 200, 206, 301, 304, 400, 404, 416, 431, 505] {
            let line = std::str::from_utf8(status_line(code)).unwrap();
            assert!(
                line.starts_with(&format!("HTTP/1.1 {code} {}\r\n", reason(code))),
                "{line}"
            );
            assert!(
                line.ends_with(&format!("\r\nServer: {SERVER}\r\nDate: ")),
                "{line}"
            );
        }
        assert!(status_line(599).starts_with(b"HTTP/1.1 500 "));
        assert_eq!(reason(599), "Unknown");
    }
}
