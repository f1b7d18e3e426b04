//! `hq-interop`: HTTP/0.9 over QUIC, as the QUIC interop runner's clients
//! speak it. The client opens a bidirectional stream, sends
//! `GET /path\r\n` (the line ending is sometimes a bare `\n` or missing)
//! and finishes its side; the server answers with the file's bytes and
//! finishes. No headers, no status: a missing file is a reset stream.

/// The request line could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HqError {
    /// Longer than the limit before the line ended.
    #[error("request line longer than {0} bytes")]
    TooLong(usize),
    /// Not `GET <path>`.
    #[error("not an HTTP/0.9 request line: {0:?}")]
    Malformed(String),
}

/// The longest request line accepted.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;

/// The path of an HTTP/0.9 request (`GET /a/b.txt`), or why not.
pub fn parse_request(bytes: &[u8]) -> Result<String, HqError> {
    if bytes.len() > MAX_REQUEST_LINE {
        return Err(HqError::TooLong(MAX_REQUEST_LINE));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| HqError::Malformed(String::from_utf8_lossy(bytes).into_owned()))?;
    let line = text.split(['\r', '\n']).next().unwrap_or("").trim();
    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(target), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(HqError::Malformed(line.to_string()));
    };
    if method != "GET" || !target.starts_with('/') || target.chars().any(char::is_control) {
        return Err(HqError::Malformed(line.to_string()));
    }
    Ok(target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(parse_request(b"GET /a.txt\r\n").unwrap(), "/a.txt");
        assert_eq!(parse_request(b"GET /a/b\n").unwrap(), "/a/b");
        assert_eq!(parse_request(b"GET /x").unwrap(), "/x");
        for bad in [
            &b"POST /a\r\n"[..],
            b"GET\r\n",
            b"GET a\r\n",
            b"GET /a HTTP/1.1 extra\r\n",
            b"",
            b"\xff\xfe",
        ] {
            assert!(parse_request(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_request(&vec![b'a'; MAX_REQUEST_LINE + 1]),
            Err(HqError::TooLong(MAX_REQUEST_LINE))
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_request(&b);
        }
    }
}
