//! HTTP/1.1 request heads (RFC 9112 section 2): parsed with `httparse`,
//! bounded in size, with the connection's keep-alive decision. Pure.

use http::{HeaderMap, Method};

/// Why a request head could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// More bytes than allowed before the end of the head.
    #[error("request head larger than {0} bytes")]
    TooLarge(usize),
    /// Not HTTP/1.x.
    #[error("malformed request head: {0}")]
    Malformed(String),
}

/// A parsed request head and whether the connection may stay open.
#[derive(Debug)]
pub struct Head {
    /// The method.
    pub method: Method,
    /// The request target.
    pub target: String,
    /// The header fields.
    pub headers: HeaderMap,
    /// Bytes the head took.
    pub len: usize,
    /// Keep the connection open after the response.
    pub keep_alive: bool,
    /// The request announces a body (which is not read: the connection closes).
    pub has_body: bool,
}

/// Parses a request head from `buf`; `Ok(None)` when more bytes are needed.
pub fn parse_head(buf: &[u8], limit: usize) -> Result<Option<Head>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut fields);
    let status = req
        .parse(buf)
        .map_err(|e| HeadError::Malformed(e.to_string()))?;
    let len = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial if buf.len() > limit => return Err(HeadError::TooLarge(limit)),
        httparse::Status::Partial => return Ok(None),
    };
    if len > limit {
        return Err(HeadError::TooLarge(limit));
    }
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|e| HeadError::Malformed(e.to_string()))?;
    let mut headers = HeaderMap::new();
    for f in req.headers.iter() {
        let name = http::HeaderName::from_bytes(f.name.as_bytes())
            .map_err(|e| HeadError::Malformed(e.to_string()))?;
        let value = http::HeaderValue::from_bytes(f.value)
            .map_err(|e| HeadError::Malformed(e.to_string()))?;
        headers.append(name, value);
    }
    let version = req.version.unwrap_or(1);
    let conn = headers
        .get(http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase())
        .unwrap_or_default();
    let keep_alive = if version == 0 {
        conn.contains("keep-alive")
    } else {
        !conn.contains("close")
    };
    let has_body = headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    Ok(Some(Head {
        method,
        target: req.path.unwrap_or("/").to_string(),
        headers,
        len,
        keep_alive,
        has_body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads() {
        let h = parse_head(b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", 1000)
            .unwrap()
            .unwrap();
        assert_eq!(h.target, "/a?b");
        assert!(h.keep_alive && !h.has_body);
        let h = parse_head(b"HEAD / HTTP/1.0\r\n\r\n", 1000)
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let h = parse_head(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            1000,
        )
        .unwrap()
        .unwrap();
        assert!(h.has_body && !h.keep_alive);
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n", 1000)
            .unwrap()
            .is_none());
        // A run of token characters could still be a (long) method: it is
        // "too large", not malformed, once it passes the limit.
        assert_eq!(
            parse_head(&[b'a'; 2000], 1000).unwrap_err(),
            HeadError::TooLarge(1000)
        );
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "y".repeat(2000));
        assert_eq!(
            parse_head(long.as_bytes(), 1000).unwrap_err(),
            HeadError::TooLarge(1000)
        );
        assert!(matches!(
            parse_head(b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", 100),
            Err(HeadError::Malformed(_))
        ));
    }
}
