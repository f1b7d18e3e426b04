//! `https://` URLs as the clients, the browser and the command line take them.

use super::ClientError;

/// Splits `https://host:port/path` into (host, port, path).
pub fn parse_url(url: &str) -> Result<(String, u16, String), ClientError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| ClientError::Url(url.into(), e.to_string()))?;
    if uri.scheme_str() != Some("https") {
        return Err(ClientError::Url(url.into(), "only https:// URLs".into()));
    }
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Url(url.into(), "no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(443);
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    Ok((host, port, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_host_port_and_path() {
        let (h, p, path) = parse_url("https://127.0.0.1:4433/a.js?x=1").expect("valid URL");
        assert_eq!(
            (h.as_str(), p, path.as_str()),
            ("127.0.0.1", 4433, "/a.js?x=1")
        );
        let (h, p, path) = parse_url("https://[::1]/").expect("valid URL");
        assert_eq!((h.as_str(), p, path.as_str()), ("::1", 443, "/"));
        assert!(parse_url("http://example.com/").is_err());
        assert!(parse_url("not a url").is_err());
    }
}
