//! Where requests go: the regional endpoint of a service, or an override,
//! with TLS required for every host but loopback.

use std::net::IpAddr;

use reqwest::Url;

use crate::config::validate_region;
use crate::error::{Error, Result};

/// The URL requests are posted to: the override when given, otherwise
/// `https://{prefix}.{region}.amazonaws.com` (`.amazonaws.com.cn` in China).
pub(crate) fn resolve(region: &str, endpoint: Option<&str>, prefix: &str) -> Result<Url> {
    validate_region(region)?;
    let Some(endpoint) = endpoint else {
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        return Url::parse(&format!("https://{prefix}.{region}.{domain}/"))
            .map_err(|e| Error::invalid("region", e.to_string()));
    };
    let url =
        Url::parse(endpoint).map_err(|e| Error::invalid("endpoint", format!("{endpoint:?} is not a URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| Error::invalid("endpoint", format!("{endpoint:?} has no host")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(Error::invalid(
                "endpoint",
                format!("plain http:// is only allowed to loopback hosts; use https:// for {host}"),
            ))
        }
        other => {
            return Err(Error::invalid(
                "endpoint",
                format!("scheme {other:?} is not supported; use https://"),
            ))
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            "endpoint",
            "must not carry credentials, a query or a fragment",
        ));
    }
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_endpoints() {
        assert_eq!(
            resolve("eu-west-1", None, "kinesis").unwrap().as_str(),
            "https://kinesis.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            resolve("cn-north-1", None, "kinesis").unwrap().as_str(),
            "https://kinesis.cn-north-1.amazonaws.com.cn/"
        );
        assert_eq!(
            resolve("us-gov-west-1", None, "firehose").unwrap().as_str(),
            "https://firehose.us-gov-west-1.amazonaws.com/"
        );
        assert_eq!(
            resolve("cn-northwest-1", None, "firehose").unwrap().as_str(),
            "https://firehose.cn-northwest-1.amazonaws.com.cn/"
        );
    }

    #[test]
    fn bad_regions() {
        for region in [
            "",
            "us",
            "US-EAST-1",
            "us-east",
            "us east 1",
            "us-east-1/",
            "us--1",
            "../x-1",
        ] {
            assert!(resolve(region, None, "kinesis").is_err(), "{region:?}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:4567",
            "http://localhost:1",
            "http://[::1]:80/",
            "https://vpce.example.com",
        ] {
            assert!(resolve("us-east-1", Some(ok), "kinesis").is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1:4567",
            "ftp://127.0.0.1",
            "not a url",
            "https://user:pw@example.com",
            "https://example.com/?a=1",
        ] {
            assert!(
                matches!(
                    resolve("us-east-1", Some(bad), "kinesis"),
                    Err(Error::InvalidInput { .. })
                ),
                "{bad}"
            );
        }
    }
}
