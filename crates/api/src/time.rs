//! Timestamps as Kubernetes writes them: RFC 3339 in UTC with second precision
//! (`2026-11-29T07:06:58Z`, metav1.Time), from and to Unix seconds. Hand-written (civil-from-days
//! arithmetic) because this is all the calendar the API needs and the crate stays dependency-free.

/// A Go duration (`time.ParseDuration`) of whole numbers: one or more `<integer><unit>` with
/// units `h`, `m`, `s`, `ms`, `us`, `ns` (`1m0s`, `90s`, `1h30m`, `500ms`). kube-apiserver's
/// flags and the `?timeout=` query parameter take these. `None` for anything else or an
/// overflow.
pub fn parse_go_duration(text: &str) -> Option<std::time::Duration> {
    use std::time::Duration;
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: u32 = rest[..digits].parse().ok()?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let unit = match &after[..unit_len] {
            "h" => Duration::from_secs(3600),
            "m" => Duration::from_secs(60),
            "s" => Duration::from_secs(1),
            "ms" => Duration::from_millis(1),
            "us" | "µs" => Duration::from_micros(1),
            "ns" => Duration::from_nanos(1),
            _ => return None,
        };
        total = total.checked_add(unit.checked_mul(number)?)?;
        rest = &after[unit_len..];
    }
    Some(total)
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        // Outside what four digits hold: `format!` pads and signs it as before.
        return format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        );
    }
    // Written digit by digit, not `format!`ed: a create stamps two or three of these.
    let mut text = String::with_capacity(20);
    push_digits(&mut text, year, 4);
    text.push('-');
    push_digits(&mut text, month, 2);
    text.push('-');
    push_digits(&mut text, day, 2);
    text.push('T');
    push_digits(&mut text, secs_of_day / 3600, 2);
    text.push(':');
    push_digits(&mut text, secs_of_day % 3600 / 60, 2);
    text.push(':');
    push_digits(&mut text, secs_of_day % 60, 2);
    text.push('Z');
    text
}

/// The `width` lowest decimal digits of `value` (0 or more), zero-padded.
fn push_digits(text: &mut String, value: i64, width: u32) {
    for place in (0..width).rev() {
        let digit = value / 10_i64.pow(place) % 10;
        text.push(char::from(b'0' + digit as u8));
    }
}

/// Time since the Unix epoch as metav1.MicroTime: `2026-11-29T07:06:58.123456Z` (audit
/// events, the sample audit sink).
pub fn format_micro_time(since_epoch: std::time::Duration) -> String {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    let seconds = format_rfc3339(secs);
    let whole = seconds.trim_end_matches('Z');
    format!("{whole}.{:06}Z", since_epoch.subsec_micros())
}

/// Unix seconds of an RFC 3339 timestamp (`Z` or a `±HH:MM` offset, optional fraction, which
/// is dropped). `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[13] != b':' {
        return None;
    }
    if !matches!(bytes[10], b'T' | b't') || bytes[16] != b':' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ => parse_offset(rest)?,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs)
}

/// `+HH:MM` or `-HH:MM` in seconds.
fn parse_offset(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 6 || bytes[3] != b':' {
        return None;
    }
    let sign = match bytes[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i64 = text.get(1..3)?.parse().ok()?;
    let minutes: i64 = text.get(4..6)?.parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_time_has_six_fraction_digits() {
        let since = std::time::Duration::from_micros(1_764_400_018_000_042);
        assert_eq!(format_micro_time(since), "2025-11-29T07:06:58.000042Z");
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_795_935_418), "2026-11-29T06:56:58Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        // The last second four digits of year hold, and past both ends of them.
        assert_eq!(format_rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(253_402_300_800), "10000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-62_167_219_200), "0000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-62_167_219_201), "-001-12-31T23:59:59Z");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for secs in [0, 1, 951_782_400, 1_795_935_418, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs));
        }
        assert_eq!(
            parse_rfc3339("2026-11-29T07:56:58+01:00"),
            Some(1_795_935_418)
        );
        assert_eq!(
            parse_rfc3339("2026-11-29T06:56:58.123456Z"),
            Some(1_795_935_418)
        );
    }

    #[test]
    fn go_durations() {
        use std::time::Duration;
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("0s"), Some(Duration::ZERO));
        for bad in ["", "60", "1x", "s", "-1s", "1.5s", "99999999999h"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for bad in [
            "",
            "2026-11-29",
            "2026-13-01T00:00:00Z",
            "2026-11-29T07:36:58",
            "2026-11-29T07:36:58.Z",
            "2026-11-29T24:00:00Z",
            "2026-11-29T07:36:58+1:00",
            "२०२६-11-29T07:36:58Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
