//! The apimachinery types whose protobuf message looks nothing like their JSON, each turned
//! into the JSON value Go's encoder would write for what gogo decodes:
//! - `metav1.Time` {1: seconds, 2: nanos}: RFC 3339 to the second (nanos are dropped on
//!   decode, `time_proto.go`); `null` when zero, i.e. an empty message, as Go writes a zero
//!   `Time`.
//! - `metav1.MicroTime`: the same message, to the microsecond (`2006-01-02T15:04:05.000000Z`).
//! - `resource.Quantity` {1: string}: the string; `"0"` for an empty message (a zero
//!   Quantity).
//! - `intstr.IntOrString` {1: type, 2: intVal, 3: strVal}: a number or a string.
//! - `metav1.FieldsV1` {1: raw}: the raw bytes are JSON, inlined.
//!
//! Fields these messages do not have are skipped, as gogo skips them.

use serde_json::Value;

use super::wire;
use crate::time::format_rfc3339;

/// Unix seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z), which JSON writes as `null`.
const ZERO_TIME_UNIX: i64 = -62_135_596_800;
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: RFC 3339 has four-digit years, and
/// kube-apiserver could not read a JSON timestamp outside them back.
const FIRST_RFC3339_UNIX: i64 = -62_167_219_200;
const LAST_RFC3339_UNIX: i64 = 253_402_300_799;
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// `metav1.Time`.
pub(super) fn time(message: &[u8]) -> Result<Value, String> {
    if message.is_empty() {
        return Ok(Value::Null);
    }
    let (seconds, _nanos) = timestamp(message)?;
    if seconds == ZERO_TIME_UNIX {
        return Ok(Value::Null);
    }
    in_range(seconds)?;
    Ok(Value::from(format_rfc3339(seconds)))
}

/// `metav1.MicroTime`: nanos truncated toward zero to microseconds, then normalized into
/// the second, as `time.Unix` does.
pub(super) fn micro_time(message: &[u8]) -> Result<Value, String> {
    if message.is_empty() {
        return Ok(Value::Null);
    }
    let (seconds, nanos) = timestamp(message)?;
    let truncated = i128::from(nanos) - i128::from(nanos) % 1000;
    let total = i128::from(seconds) * NANOS_PER_SECOND + truncated;
    let whole = total.div_euclid(NANOS_PER_SECOND);
    let fraction = total.rem_euclid(NANOS_PER_SECOND);
    let seconds = i64::try_from(whole).map_err(|_| YEAR_OUT_OF_RANGE.to_owned())?;
    if seconds == ZERO_TIME_UNIX && fraction == 0 {
        return Ok(Value::Null);
    }
    in_range(seconds)?;
    let text = format_rfc3339(seconds);
    let date_time = text.strip_suffix('Z').unwrap_or(&text);
    Ok(Value::from(format!("{date_time}.{:06}Z", fraction / 1000)))
}

const YEAR_OUT_OF_RANGE: &str = "Time.MarshalJSON: year outside of range [0,9999]";

fn in_range(seconds: i64) -> Result<(), String> {
    if (FIRST_RFC3339_UNIX..=LAST_RFC3339_UNIX).contains(&seconds) {
        Ok(())
    } else {
        Err(YEAR_OUT_OF_RANGE.to_owned())
    }
}

/// `metav1.Timestamp` {1: seconds int64, 2: nanos int32}.
fn timestamp(message: &[u8]) -> Result<(i64, i32), String> {
    let mut seconds = 0i64;
    let mut nanos = 0i32;
    for record in wire::records(message, "Timestamp")? {
        match record.number {
            // Go's int64(uint64) and int32(uint64): two's complement, high bits dropped.
            1 => seconds = record.value.varint("Seconds")? as i64,
            2 => nanos = record.value.varint("Nanos")? as i32,
            _ => {}
        }
    }
    Ok((seconds, nanos))
}

/// `resource.Quantity`.
pub(super) fn quantity(message: &[u8]) -> Result<Value, String> {
    let mut text = None;
    for record in wire::records(message, "Quantity")? {
        if record.number == 1 {
            text = Some(record.value.string("String_")?);
        }
    }
    // Validity is left to the JSON path's checks, which see the same string kubectl's JSON
    // body would carry.
    Ok(Value::from(text.unwrap_or_else(|| "0".to_owned())))
}

/// `intstr.IntOrString`.
pub(super) fn int_or_string(message: &[u8]) -> Result<Value, String> {
    let (mut kind, mut int_val, mut str_val) = (0i64, 0i32, String::new());
    for record in wire::records(message, "IntOrString")? {
        match record.number {
            1 => kind = record.value.varint("Type")? as i64,
            2 => int_val = record.value.varint("IntVal")? as i32,
            3 => str_val = record.value.string("StrVal")?,
            _ => {}
        }
    }
    match kind {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::from(str_val)),
        _ => Err("impossible IntOrString.Type".to_owned()),
    }
}

/// `metav1.FieldsV1`: its raw JSON, parsed (serde_json bounds the nesting).
pub(super) fn fields_v1(message: &[u8]) -> Result<Value, String> {
    let mut raw: &[u8] = &[];
    for record in wire::records(message, "FieldsV1")? {
        if record.number == 1 {
            raw = record.value.bytes("Raw")?;
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| format!("invalid fieldsV1: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A varint record: field `number`, value `v`.
    fn varint_field(number: u8, v: i64) -> Vec<u8> {
        let mut out = vec![number << 3];
        let mut v = v as u64;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn string_field(number: u8, text: &str) -> Vec<u8> {
        let mut out = vec![number << 3 | 2, text.len() as u8];
        out.extend_from_slice(text.as_bytes());
        out
    }

    #[test]
    fn times_are_rfc3339_seconds_and_null_when_zero() {
        assert_eq!(
            time(&varint_field(1, 1_795_935_418)).unwrap(),
            "2026-11-29T06:56:58Z"
        );
        // Nanos are dropped on decode, as time_proto.go does.
        let mut with_nanos = varint_field(1, 1_795_935_418);
        with_nanos.extend(varint_field(2, 999_999_999));
        assert_eq!(time(&with_nanos).unwrap(), "2026-11-29T06:56:58Z");
        assert_eq!(time(&[]).unwrap(), Value::Null);
        assert_eq!(time(&varint_field(1, ZERO_TIME_UNIX)).unwrap(), Value::Null);
        // Seconds 0 is the Unix epoch, not Go's zero time.
        assert_eq!(time(&varint_field(1, 0)).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(time(&varint_field(1, -1)).unwrap(), "1969-12-31T23:59:59Z");
        for out_of_range in [
            i64::MIN,
            FIRST_RFC3339_UNIX - 1,
            LAST_RFC3339_UNIX + 1,
            i64::MAX,
        ] {
            assert_eq!(
                time(&varint_field(1, out_of_range)),
                Err(YEAR_OUT_OF_RANGE.to_owned())
            );
        }
        assert_eq!(
            time(&string_field(1, "x")),
            Err("proto: wrong wireType = 2 for field Seconds".to_owned())
        );
    }

    #[test]
    fn micro_times_keep_microseconds() {
        let mut message = varint_field(1, 1_795_935_418);
        message.extend(varint_field(2, 123_456_789));
        assert_eq!(micro_time(&message).unwrap(), "2026-11-29T06:56:58.123456Z");
        assert_eq!(
            micro_time(&varint_field(1, 0)).unwrap(),
            "1970-01-01T00:00:00.000000Z"
        );
        // Negative nanos count back from the second, truncated toward zero first.
        let mut negative = varint_field(1, 10);
        negative.extend(varint_field(2, -1_500));
        assert_eq!(
            micro_time(&negative).unwrap(),
            "1970-01-01T00:00:09.999999Z"
        );
        assert_eq!(micro_time(&[]).unwrap(), Value::Null);
        assert_eq!(
            micro_time(&varint_field(1, ZERO_TIME_UNIX)).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn quantities_int_or_strings_and_fields_v1() {
        assert_eq!(quantity(&string_field(1, "500m")).unwrap(), "500m");
        assert_eq!(quantity(&[]).unwrap(), "0");
        let mut port = varint_field(1, 0);
        port.extend(varint_field(2, 8080));
        assert_eq!(int_or_string(&port).unwrap(), 8080);
        let mut named = varint_field(1, 1);
        named.extend(string_field(3, "http"));
        assert_eq!(int_or_string(&named).unwrap(), "http");
        assert_eq!(int_or_string(&varint_field(2, -1)).unwrap(), -1);
        assert_eq!(int_or_string(&[]).unwrap(), 0);
        assert_eq!(
            int_or_string(&varint_field(1, 2)),
            Err("impossible IntOrString.Type".to_owned())
        );
        assert_eq!(
            fields_v1(&string_field(1, r#"{"f:data":{}}"#)).unwrap(),
            serde_json::json!({"f:data": {}})
        );
        assert_eq!(fields_v1(&[]).unwrap(), Value::Null);
        assert!(fields_v1(&string_field(1, "{")).is_err());
    }
}
