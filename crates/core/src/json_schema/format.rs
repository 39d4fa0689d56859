//! The `format` names this validator asserts, each checked by hand: the grammars are short, and a
//! parser crate (or `url`, whose WHATWG parse accepts what RFC 3986 refuses, such as spaces) would
//! either cost wasm size or answer a different question.

use super::Format;

impl Format {
    pub(crate) fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "date-time" => Format::DateTime,
            "date" => Format::Date,
            "email" => Format::Email,
            "uri" => Format::Uri,
            "uuid" => Format::Uuid,
            "ipv4" => Format::Ipv4,
            _ => return None,
        })
    }

    /// How a violation names the format to the client.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Format::DateTime => "a date-time (RFC 3339, e.g. 2024-01-31T12:00:00Z)",
            Format::Date => "a date (YYYY-MM-DD)",
            Format::Email => "an email address",
            Format::Uri => "an absolute URI",
            Format::Uuid => "a UUID",
            Format::Ipv4 => "an IPv4 address",
        }
    }

    pub(crate) fn check(self, s: &str) -> bool {
        match self {
            Format::DateTime => is_date_time(s),
            Format::Date => is_date(s),
            Format::Email => is_email(s),
            Format::Uri => is_uri(s),
            Format::Uuid => is_uuid(s),
            Format::Ipv4 => is_ipv4(s),
        }
    }
}

/// A fixed-width run of ASCII digits (so a Bengali digit, which `char::is_numeric` accepts, fails).
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        _ => 0,
    }
}

/// RFC 3339 full-date: YYYY-MM-DD with a day that exists.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    match (digits(&s[0..4]), digits(&s[5..7]), digits(&s[8..10])) {
        (Some(y), Some(m), Some(d)) => (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m),
        _ => false,
    }
}

/// RFC 3339 date-time. A leap second (:60) is valid only where it can occur: 23:59 UTC.
fn is_date_time(s: &str) -> bool {
    // Byte positions below are safe only on ASCII; anything else is invalid anyway.
    if !s.is_ascii() || s.len() < 20 {
        return false;
    }
    let (date, rest) = s.split_at(10);
    if !is_date(date) {
        return false;
    }
    let rest = rest.as_bytes();
    if !matches!(rest[0], b'T' | b't') {
        return false;
    }
    let time = &s[11..];
    let b = time.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) = (digits(&time[0..2]), digits(&time[3..5]), digits(&time[6..8])) else {
        return false;
    };
    let mut at = 8;
    if b[at] == b'.' {
        let fraction = b[at + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if fraction == 0 {
            return false;
        }
        at += 1 + fraction;
    }
    let offset = &time[at..];
    let offset_minutes: i64 = match offset.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (Some(h), Some(m)) = (digits(&offset[1..3]), digits(&offset[4..6])) else {
                return false;
            };
            if h > 23 || m > 59 {
                return false;
            }
            let total = i64::from(h * 60 + m);
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return false,
    };
    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    if second == 60 {
        let utc = (i64::from(hour * 60 + minute) - offset_minutes).rem_euclid(24 * 60);
        return utc == 23 * 60 + 59;
    }
    true
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Dotted decimal, four parts, no leading zeros (which some parsers read as octal).
fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            p.len() <= 3 && (p.len() == 1 || !p.starts_with('0')) && digits(p).is_some_and(|v| v <= 255)
        })
}

/// A loose IPv6 check for address literals (email, URI): hex groups, colons, an optional
/// trailing IPv4, at most one `::`.
fn is_ipv6_loose(s: &str) -> bool {
    if s.is_empty() || s.len() > 45 || s.matches("::").count() > 1 {
        return false;
    }
    let (head, v4) = match s.rfind(':') {
        Some(i) if s[i + 1..].contains('.') => (&s[..=i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    if v4.is_some_and(|v| !is_ipv4(v)) {
        return false;
    }
    let groups: Vec<&str> = head.split(':').collect();
    // Eight groups, one more empty one around a `::`, and the IPv4 part counts as two.
    groups.len() >= 2
        && groups.len() <= 9
        && groups.iter().all(|g| g.len() <= 4 && g.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// A DNS name: labels of letters, digits and inner hyphens, 1 to 63 each, 253 in all.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// RFC 5321's mailbox, simplified: a dot-atom or quoted local part, and a host name or an address
/// literal. No comments, no internationalized addresses.
fn is_email(s: &str) -> bool {
    let Some(at) = s.rfind('@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || local.len() > 64 || s.len() > 254 {
        return false;
    }
    let local_ok = if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        let inner = &local[1..local.len() - 1];
        let mut escaped = false;
        inner.bytes().all(|c| {
            // An unescaped quote would end the string early.
            let ok = escaped || c != b'"';
            escaped = !escaped && c == b'\\';
            ok && (b' '..=b'~').contains(&c)
        }) && !escaped
    } else {
        const SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
        local.split('.').all(|atom| {
            !atom.is_empty() && atom.bytes().all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(&c))
        })
    };
    let domain_ok = if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        match literal.strip_prefix("IPv6:") {
            Some(v6) => is_ipv6_loose(v6),
            None => is_ipv4(literal),
        }
    } else {
        is_hostname(domain)
    };
    local_ok && domain_ok
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(c: u8) -> bool {
    matches!(c, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
}

/// Every byte is unreserved, a sub-delimiter, one of `extra`, or part of a `%XX` escape.
fn chars_ok(s: &str, extra: &[u8]) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(is_unreserved(c) || is_sub_delim(c) || extra.contains(&c)) {
            return false;
        }
        i += 1;
    }
    true
}

/// RFC 3986 URI (absolute: a scheme is required; a fragment is allowed, as in the grammar).
fn is_uri(s: &str) -> bool {
    let Some(colon) = s.find(':') else { return false };
    let scheme = &s[..colon];
    let mut scheme_bytes = scheme.bytes();
    if !scheme_bytes.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !scheme_bytes.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return false;
    }
    let rest = &s[colon + 1..];
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    if fragment.is_some_and(|f| !chars_ok(f, b":@/?")) {
        return false;
    }
    let (hier, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    if query.is_some_and(|q| !chars_ok(q, b":@/?")) {
        return false;
    }
    let path = match hier.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            if !is_authority(&after[..end]) {
                return false;
            }
            &after[end..]
        }
        None => hier,
    };
    chars_ok(path, b":@/")
}

fn is_authority(authority: &str) -> bool {
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if userinfo.is_some_and(|u| !chars_ok(u, b":")) {
        return false;
    }
    let (host, port) = if let Some(after) = hostport.strip_prefix('[') {
        let Some(close) = after.find(']') else { return false };
        let literal = &after[..close];
        if !(is_ipv6_loose(literal) || (literal.starts_with(['v', 'V']) && chars_ok(literal, b":"))) {
            return false;
        }
        let tail = &after[close + 1..];
        match tail.strip_prefix(':') {
            Some(port) => (None, Some(port)),
            None if tail.is_empty() => (None, None),
            // Something other than a port after the literal.
            None => return false,
        }
    } else {
        match hostport.rfind(':') {
            Some(i) => (Some(&hostport[..i]), Some(&hostport[i + 1..])),
            None => (Some(hostport), None),
        }
    };
    host.is_none_or(|h| chars_ok(h, b"")) && port.is_none_or(|p| p.bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times() {
        assert!(is_date_time("2024-02-29T23:59:59.5+01:00"));
        assert!(is_date_time("1998-12-31T23:59:60Z"));
        assert!(is_date_time("1998-12-31T15:59:60.123-08:00"));
        assert!(!is_date_time("1998-12-31T22:59:60Z"));
        assert!(!is_date_time("2023-02-29T00:00:00Z"));
        assert!(!is_date_time("2024-01-01T00:00:00"));
        assert!(!is_date_time("2024-01-01T00:00:00.Z"));
        assert!(!is_date_time("2024-01-01T24:00:00Z"));
    }

    #[test]
    fn uris() {
        assert!(is_uri("https://example.com/a?b=c#d"));
        assert!(is_uri("urn:ietf:params:oauth:grant-type:jwt-bearer"));
        assert!(is_uri("https://[::1]:8443/x"));
        assert!(!is_uri("/relative"));
        assert!(!is_uri("https://exa mple.com"));
        assert!(!is_uri("https://[@example.org/test.txt"));
        assert!(!is_uri("https://example.org/%4"));
        assert!(!is_uri("https://example.org:80a/"));
    }

    #[test]
    fn emails() {
        assert!(is_email("joe.bloggs@example.com"));
        assert!(!is_email("joe@"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("a@-example.com"));
    }
}
