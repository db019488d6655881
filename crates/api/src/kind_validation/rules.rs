//! Value rules several kinds share that [`crate::validation`] does not have (yet): config
//! keys, relaxed environment variable names, IP addresses and CIDRs, user and group IDs,
//! percentages, HTTP header names, fully qualified names, and ports given as a number or a
//! name. Each returns kube's detail messages (`k8s.io/apimachinery/pkg/util/validation`),
//! or pushes kube's field errors.

use std::net::IpAddr;

use super::fields::{Errs, IntOrStr, Path, invalid, max_len_error, regex_error, required};
use crate::validation::{
    DNS1123_SUBDOMAIN_MAX_LENGTH, is_dns1123_subdomain, is_valid_port_name, is_valid_port_num,
};

const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_ERR_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const RELAXED_ENV_VAR_ERR_MSG: &str = "a valid environment variable name must consist only of printable ASCII characters other than '='";
const PERCENT_FMT: &str = "[0-9]+%";
const PERCENT_ERR_MSG: &str =
    "a valid percent string must be a numeric string followed by an ending '%'";
const HTTP_HEADER_FMT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_ERR_MSG: &str =
    "a valid HTTP header must consist of alphanumeric characters or '-'";
/// `IsValidIP`'s message (Kubernetes 1.33).
pub(crate) const IP_ERR_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const CIDR_ERR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// `IsConfigMapKey`: ConfigMap and Secret keys, and the keys env vars read from them.
pub(crate) fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !valid {
        errs.push(regex_error(
            CONFIG_MAP_KEY_ERR_MSG,
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(ch_dir_prefix(value));
    errs
}

/// `hasChDirPrefix`: names a path could mistake for the current or parent directory.
fn ch_dir_prefix(value: &str) -> Option<String> {
    match value {
        "." => Some("must not be '.'".to_string()),
        ".." => Some("must not be '..'".to_string()),
        v if v.starts_with("..") => Some("must not start with '..'".to_string()),
        _ => None,
    }
}

/// `IsRelaxedEnvVarName`, the rule of Kubernetes 1.32+ (RelaxedEnvironmentVariableValidation
/// is on by default): any printable ASCII but '='.
pub(crate) fn is_relaxed_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(RELAXED_ENV_VAR_ERR_MSG.to_string());
    }
    errs
}

/// `IsValidPercent`: `25%`.
pub(crate) fn is_valid_percent(value: &str) -> Vec<String> {
    let digits = value.strip_suffix('%').unwrap_or("");
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    vec![regex_error(PERCENT_ERR_MSG, PERCENT_FMT, &["1%", "93%"])]
}

/// `IsHTTPHeaderName`.
pub(crate) fn is_http_header_name(value: &str) -> Vec<String> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Vec::new();
    }
    vec![regex_error(
        HTTP_HEADER_ERR_MSG,
        HTTP_HEADER_FMT,
        &["X-Header-Name"],
    )]
}

/// `IsValidUserID` / `IsValidGroupID`: 0 to 2^31-1.
pub(crate) fn is_valid_id(id: i64) -> Vec<String> {
    if (0..=i64::from(i32::MAX)).contains(&id) {
        return Vec::new();
    }
    vec![super::fields::inclusive_range(0, i64::from(i32::MAX))]
}

/// An IP address, as Go's `netip`-based parsers accept it. Go's sloppy parser also takes
/// IPv4 octets with leading zeros, which this refuses.
pub(crate) fn parse_ip(value: &str) -> Option<IpAddr> {
    value.parse().ok()
}

/// `IsValidIP` as a field error.
pub(crate) fn validate_ip(path: &Path, value: &str, errs: &mut Errs) {
    if parse_ip(value).is_none() {
        errs.push(invalid(path, value, IP_ERR_MSG));
    }
}

/// `IsValidCIDR` as a field error.
pub(crate) fn validate_cidr(path: &Path, value: &str, errs: &mut Errs) {
    let valid = value.split_once('/').is_some_and(|(ip, bits)| {
        let max = match parse_ip(ip) {
            Some(IpAddr::V4(_)) => 32,
            Some(IpAddr::V6(_)) => 128,
            None => return false,
        };
        !bits.is_empty()
            && bits.len() <= 3
            && bits.bytes().all(|b| b.is_ascii_digit())
            && bits.parse::<u32>().is_ok_and(|n| n <= max)
    });
    if !valid {
        errs.push(invalid(path, value, CIDR_ERR_MSG));
    }
}

/// `IsFullyQualifiedName` (webhook names): a DNS subdomain with at least three labels.
pub(crate) fn fully_qualified_name(path: &Path, name: &str, errs: &mut Errs) {
    if name.is_empty() {
        errs.push(required(path, ""));
        return;
    }
    let problems = is_dns1123_subdomain(name);
    if !problems.is_empty() {
        errs.push(invalid(path, name, &problems.join(",")));
        return;
    }
    if name.split('.').count() < 3 {
        errs.push(invalid(
            path,
            name,
            "should be a domain with at least three segments separated by dots",
        ));
    }
}

/// `ValidatePortNumOrName`: an absent port is the number 0.
pub(crate) fn port_num_or_name(path: &Path, port: Option<IntOrStr>, errs: &mut Errs) {
    match port.unwrap_or(IntOrStr::Int(0)) {
        IntOrStr::Int(n) => {
            for msg in is_valid_port_num(n) {
                errs.push(invalid(path, n, &msg));
            }
        }
        IntOrStr::Str(name) => {
            for msg in is_valid_port_name(name) {
                errs.push(invalid(path, name, &msg));
            }
        }
    }
}

/// `ValidateNonSpecialIP`: no unspecified, loopback or link-local addresses (external IPs).
pub(crate) fn non_special_ip(path: &Path, value: &str, errs: &mut Errs) {
    let Some(ip) = parse_ip(value) else {
        errs.push(invalid(path, value, "must be a valid IP address"));
        return;
    };
    if ip.is_unspecified() {
        errs.push(invalid(
            path,
            value,
            &format!("may not be unspecified ({value})"),
        ));
    }
    if ip.is_loopback() {
        errs.push(invalid(
            path,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local_unicast, link_local_multicast) = match ip {
        IpAddr::V4(v4) => (v4.is_link_local(), v4.octets()[..3] == [224, 0, 0]),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            ((first & 0xffc0) == 0xfe80, (first & 0xff0f) == 0xff02)
        }
    };
    if link_local_unicast {
        errs.push(invalid(
            path,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errs.push(invalid(
            path,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys() {
        assert!(is_config_map_key("app.conf").is_empty());
        assert_eq!(
            is_config_map_key("a b"),
            vec![
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
            ]
        );
        assert_eq!(is_config_map_key(".."), vec!["must not be '..'"]);
        assert_eq!(is_config_map_key("..a"), vec!["must not start with '..'"]);
        assert_eq!(
            is_config_map_key(&"a".repeat(254)),
            vec!["must be no more than 253 characters"]
        );
    }

    #[test]
    fn relaxed_env_names_and_percents() {
        assert!(is_relaxed_env_var_name("1 weird-name.ok").is_empty());
        assert_eq!(
            is_relaxed_env_var_name("A=B"),
            vec![RELAXED_ENV_VAR_ERR_MSG]
        );
        assert_eq!(is_relaxed_env_var_name("é"), vec![RELAXED_ENV_VAR_ERR_MSG]);
        assert!(is_valid_percent("25%").is_empty());
        assert_eq!(
            is_valid_percent("25"),
            vec![
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
            ]
        );
    }

    fn run(f: impl Fn(&Path, &mut Errs)) -> Vec<String> {
        let mut errs = Errs::new();
        f(&Path::new("x"), &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn addresses() {
        assert!(run(|p, e| validate_ip(p, "10.0.0.1", e)).is_empty());
        assert_eq!(
            run(|p, e| validate_ip(p, "10.0.0", e)),
            vec![
                r#"x: Invalid value: "10.0.0": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#
            ]
        );
        assert!(run(|p, e| validate_cidr(p, "10.0.0.0/8", e)).is_empty());
        assert_eq!(run(|p, e| validate_cidr(p, "10.0.0.0/33", e)).len(), 1);
        assert_eq!(
            run(|p, e| non_special_ip(p, "127.0.0.1", e)),
            vec![
                r#"x: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)"#
            ]
        );
    }

    #[test]
    fn fully_qualified_names() {
        assert!(run(|p, e| fully_qualified_name(p, "a.b.c", e)).is_empty());
        assert_eq!(
            run(|p, e| fully_qualified_name(p, "a.b", e)),
            vec![
                r#"x: Invalid value: "a.b": should be a domain with at least three segments separated by dots"#
            ]
        );
        assert_eq!(
            run(|p, e| fully_qualified_name(p, "", e)),
            vec!["x: Required value"]
        );
    }
}
