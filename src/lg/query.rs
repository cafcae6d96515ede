//! Request parsing shared by the looking-glass endpoints: query strings (percent-decoded,
//! checked against the parameters an endpoint takes), prefixes, paging, and the error every
//! bad request turns into. Nothing here panics on any input.

use std::fmt;

use crate::wire::Prefix;

/// A request that cannot be answered: an HTTP status (4xx for the caller's mistakes) and a
/// message. Serialised as `{"error": message, "status": code}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 404,
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 503,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 500,
            message: message.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "error": self.message,
            "status": self.status,
        }))
        .unwrap_or_else(|_| br#"{"error":"internal error","status":500}"#.to_vec())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

/// Longest query string accepted.
pub const MAX_QUERY: usize = 4096;

/// The decoded parameters of a query string, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding of one component (`+` is a space).
pub fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request(format!("bad percent-encoding in {s:?}"));
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        match b {
            b'%' => {
                let h = it.next().and_then(hex).ok_or_else(bad)?;
                let l = it.next().and_then(hex).ok_or_else(bad)?;
                out.push(h << 4 | l);
            }
            b'+' => out.push(b' '),
            _ => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("query is not UTF-8"))
}

impl Query {
    /// Parses `a=b&c=d`. A parameter given twice is an error (which one would count?).
    pub fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY {
            return Err(ApiError::bad_request(format!(
                "query string longer than {MAX_QUERY} octets"
            )));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let k = percent_decode(k)?;
            let v = percent_decode(v)?;
            if pairs.iter().any(|(x, _)| *x == k) {
                return Err(ApiError::bad_request(format!(
                    "parameter {k:?} given more than once"
                )));
            }
            pairs.push((k, v));
        }
        Ok(Query { pairs })
    }

    /// Refuses parameters the endpoint does not take.
    pub fn allow(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad_request(if allowed.is_empty() {
                    format!("unknown parameter {k:?}: this endpoint takes none")
                } else {
                    format!(
                        "unknown parameter {k:?}: this endpoint takes {}",
                        allowed.join(", ")
                    )
                }));
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("parameter {name:?} is required")))
    }

    /// A non-negative integer parameter.
    pub fn usize(&self, name: &str) -> Result<Option<usize>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "parameter {name:?} must be a non-negative integer, not {v:?}"
                ))
            }),
        }
    }

    /// A boolean parameter: `true`/`false`, `1`/`0`, `yes`/`no`, or present without a value.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some("" | "true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!(
                "parameter {name:?} must be true or false, not {v:?}"
            ))),
        }
    }

    /// `page` (counted from 0) or `offset`, and `limit`: the limit defaults to, and is
    /// capped at, `max_results`.
    pub fn page(&self, max_results: usize) -> Result<Page, ApiError> {
        let limit = match self.usize("limit")? {
            Some(0) => {
                return Err(ApiError::bad_request(
                    "parameter \"limit\" must be at least 1",
                ))
            }
            Some(n) => n.min(max_results),
            None => max_results,
        };
        let offset = match (self.usize("page")?, self.usize("offset")?) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "give \"page\" or \"offset\", not both",
                ))
            }
            (Some(p), None) => p
                .checked_mul(limit)
                .ok_or_else(|| ApiError::bad_request("parameter \"page\" is too large"))?,
            (None, Some(o)) => o,
            (None, None) => 0,
        };
        Ok(Page { offset, limit })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    /// Everything (for the birdwatcher endpoints, whose consumers cannot page).
    pub const ALL: Page = Page {
        offset: 0,
        limit: usize::MAX,
    };
}

/// A prefix (`addr/len`, host bits clear) or a single address (a host route, for longest
/// match).
pub fn parse_prefix(s: &str) -> Result<Prefix, ApiError> {
    let s = s.trim();
    if s.contains('/') {
        return s
            .parse::<Prefix>()
            .map_err(|e| ApiError::bad_request(format!("bad prefix {s:?}: {e}")));
    }
    let addr: std::net::IpAddr = s
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{s:?} is neither a prefix nor an address")))?;
    let len = if addr.is_ipv4() { 32 } else { 128 };
    Prefix::new(addr, len).ok_or_else(|| ApiError::bad_request(format!("bad address {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        let q = Query::parse(Some("prefix=10.0.0.0%2F8&exact&limit=5")).unwrap();
        assert_eq!(q.get("prefix"), Some("10.0.0.0/8"));
        assert!(q.flag("exact").unwrap());
        assert_eq!(q.usize("limit").unwrap(), Some(5));
        assert!(q.allow(&["prefix", "exact", "limit"]).is_ok());
        assert_eq!(q.allow(&["prefix"]).unwrap_err().status, 400);
        assert!(Query::parse(Some("a=1&a=2")).is_err());
        assert!(Query::parse(Some("a=%zz")).is_err());
        assert!(Query::parse(Some("a=%e2%82")).is_err(), "not UTF-8");
        assert_eq!(Query::parse(Some("a=x+y")).unwrap().get("a"), Some("x y"));
        let q = Query::parse(Some("limit=abc")).unwrap();
        assert!(q.page(10).is_err());
        let q = Query::parse(Some("limit=50&offset=3")).unwrap();
        assert_eq!(
            q.page(10).unwrap(),
            Page {
                offset: 3,
                limit: 10
            }
        );
        assert!(Query::parse(Some("limit=0")).unwrap().page(10).is_err());
        let q = Query::parse(Some("page=2&limit=5")).unwrap();
        assert_eq!(
            q.page(10).unwrap(),
            Page {
                offset: 10,
                limit: 5
            }
        );
        assert!(Query::parse(Some("page=1&offset=1"))
            .unwrap()
            .page(10)
            .is_err());
        assert!(Query::parse(Some("page=-1")).unwrap().page(10).is_err());
        let huge = format!("page={}", usize::MAX);
        assert!(Query::parse(Some(&huge)).unwrap().page(10).is_err());
        assert!(Query::parse(Some("exact=maybe"))
            .unwrap()
            .flag("exact")
            .is_err());
        assert!(Query::parse(Some(&"a".repeat(MAX_QUERY + 1))).is_err());
        assert_eq!(Query::parse(None).unwrap(), Query::default());
    }

    #[test]
    fn prefixes_and_addresses() {
        assert_eq!(
            parse_prefix("192.0.2.0/24").unwrap().to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            parse_prefix("192.0.2.7").unwrap().to_string(),
            "192.0.2.7/32"
        );
        assert_eq!(parse_prefix("2001:db8::1").unwrap().length(), 128);
        for bad in ["192.0.2.1/24", "300.0.0.0/8", "10.0.0.0/33", "x", ""] {
            assert_eq!(parse_prefix(bad).unwrap_err().status, 400, "{bad}");
        }
    }
}
