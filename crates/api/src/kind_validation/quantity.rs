//! `resource.Quantity` (apimachinery `pkg/api/resource`): parsing `500m`, `128Mi`, `1e3`,
//! comparing, and printing in kube's canonical form, which its messages use
//! (`must be less than or equal to cpu limit of 500m`).
//!
//! A quantity is held as a signed count of nano-units in an `i128`: every suffix kube accepts
//! is a whole number of nano-units (1n … 1Ei = 2^60), and an `i128` holds up to ~1.7e29 units,
//! far beyond any real resource. Digits finer than a nano-unit are rounded up, as kube rounds
//! them up; a value that does not fit is refused like a malformed one.
//!
//! Quantities compare, and are equal, by value alone (`1000m == 1`), as kube's `Cmp` does;
//! the format only decides how one is printed. The arithmetic the quota and limit-range code
//! needs ([`Quantity::checked_add`], [`Quantity::checked_sub`], [`Quantity::zero`], the
//! `value`/`milli_value`/`nanos` accessors) follows `resource.Quantity`'s: a sum or
//! difference keeps the first operand's format unless that operand is zero, and scaled
//! values round away from zero.

use std::cmp::Ordering;

use serde_json::Value;

use super::fields::Path;
use crate::status::{FieldError, FieldErrorType};

/// kube's message for a string that is not a quantity (`ErrFormatWrong`, wrapped as the
/// JSON decoder reports it).
pub const QUANTITY_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// The error for a value that is not a quantity. kube-apiserver's decoder answers it with a
/// 400 before validation; kubesim reports it as a TypeInvalid cause with kube's message.
pub(crate) fn bad_quantity(path: &Path, value: &Value) -> FieldError {
    FieldError {
        field: path.as_str().to_string(),
        kind: FieldErrorType::TypeInvalid,
        bad_value: value.clone(),
        detail: QUANTITY_FORMAT.to_string(),
    }
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// The longest quantity string looked at; kube's own are a few dozen bytes.
const MAX_QUANTITY_LEN: usize = 64;

/// How a quantity was written, which decides how it is printed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `1Ki` … `1Ei`.
    BinarySi,
    /// `1n` … `1E`, or no suffix.
    DecimalSi,
    /// `1e3`.
    DecimalExponent,
}

/// A parsed quantity.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

const NANOS_PER_MILLI: i128 = 1_000_000;

impl Quantity {
    /// A quantity from JSON: a string, or a bare number (kube's decoder accepts both).
    pub fn from_json(value: &Value) -> Option<Quantity> {
        match value {
            Value::String(s) => parse(s),
            Value::Number(n) => parse(&n.to_string()),
            _ => None,
        }
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    pub fn is_positive(&self) -> bool {
        self.nanos > 0
    }

    /// Whether the value is a whole number (kube's `MilliValue() % 1000 == 0`).
    pub fn is_integer(&self) -> bool {
        self.nanos % NANOS_PER_UNIT == 0
    }

    /// `0`, printed as a decimal quantity (`resource.Quantity{Format: DecimalSI}`, the zero
    /// quota usage starts from).
    pub const fn zero() -> Quantity {
        Quantity {
            nanos: 0,
            format: Format::DecimalSi,
        }
    }

    /// A whole number of units in decimal format (`resource.NewQuantity(n, DecimalSI)`: the
    /// counts of objects quota tracks).
    pub fn from_int(units: i64) -> Quantity {
        Quantity {
            nanos: i128::from(units) * NANOS_PER_UNIT,
            format: Format::DecimalSi,
        }
    }

    /// Thousandths of a unit in decimal format (`resource.NewMilliQuantity(m, DecimalSI)`).
    pub fn from_milli(millis: i64) -> Quantity {
        Quantity {
            nanos: i128::from(millis) * NANOS_PER_MILLI,
            format: Format::DecimalSi,
        }
    }

    /// A quantity of `nanos` nano-units printed in `format`.
    pub const fn from_nanos(nanos: i128, format: Format) -> Quantity {
        Quantity { nanos, format }
    }

    /// The exact value in nano-units (`1` is 1_000_000_000, `500m` is 500_000_000).
    pub const fn nanos(&self) -> i128 {
        self.nanos
    }

    /// How the quantity was written, which decides how it prints.
    pub const fn format(&self) -> Format {
        self.format
    }

    /// `Quantity.Value()`: whole units, a fraction rounded away from zero (`1500m` is 2).
    pub fn value(&self) -> i128 {
        scaled_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// `Quantity.MilliValue()`: thousandths of a unit, a fraction rounded away from zero.
    pub fn milli_value(&self) -> i128 {
        scaled_away_from_zero(self.nanos, NANOS_PER_MILLI)
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The sum; `None` on overflow. Like `Quantity.Add`, the result keeps the first operand's
    /// format, or takes the second's when the first is zero (`0` plus `128Mi` is `128Mi`).
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        Some(Quantity {
            nanos: self.nanos.checked_add(other.nanos)?,
            format: self.format_with(other),
        })
    }

    /// The difference; `None` on overflow. Formats as [`Quantity::checked_add`] does
    /// (`Quantity.Sub`).
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        Some(Quantity {
            nanos: self.nanos.checked_sub(other.nanos)?,
            format: self.format_with(other),
        })
    }

    /// The product with a whole number; `None` on overflow. The format is kept.
    pub fn checked_mul(&self, factor: i64) -> Option<Quantity> {
        Some(Quantity {
            nanos: self.nanos.checked_mul(i128::from(factor))?,
            format: self.format,
        })
    }

    fn format_with(&self, other: &Quantity) -> Format {
        if self.nanos == 0 {
            other.format
        } else {
            self.format
        }
    }

    /// The canonical form as a JSON string, as kube writes every quantity.
    pub fn to_json(&self) -> Value {
        Value::String(self.canonical())
    }

    /// `Quantity.String()`: the canonical form.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        match self.format {
            Format::BinarySi => self.binary_canonical(),
            Format::DecimalSi => decimal_canonical(self.nanos, false),
            Format::DecimalExponent => decimal_canonical(self.nanos, true),
        }
    }

    /// Binary quantities print in powers of 1024 when whole and at least 1024 in size;
    /// anything else prints as a decimal quantity, as kube avoids losing precision.
    fn binary_canonical(&self) -> String {
        let whole = self.nanos / NANOS_PER_UNIT;
        if self.nanos % NANOS_PER_UNIT != 0 || whole.unsigned_abs() < 1024 {
            return decimal_canonical(self.nanos, false);
        }
        let (mut amount, mut exponent) = (whole, 0usize);
        while amount % 1024 == 0 && exponent < BINARY_SUFFIXES.len() - 1 {
            amount /= 1024;
            exponent += 1;
        }
        format!("{amount}{}", BINARY_SUFFIXES[exponent])
    }
}

/// `Cmp() == 0`: equal values are equal quantities whatever their format.
impl PartialEq for Quantity {
    fn eq(&self, other: &Quantity) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

/// `nanos / per`, a remainder rounding away from zero (apimachinery's scaled values).
fn scaled_away_from_zero(nanos: i128, per: i128) -> i128 {
    let quotient = nanos / per;
    match (nanos % per).signum() {
        1 => quotient + 1,
        -1 => quotient - 1,
        _ => quotient,
    }
}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// Strips trailing zeros, then lowers the exponent to a multiple of 3 and picks the SI
/// suffix for it (`AsCanonicalBytes`).
fn decimal_canonical(nanos: i128, exponent_form: bool) -> String {
    if nanos == 0 {
        return "0".to_string();
    }
    let (mut amount, mut exponent) = (nanos, -9i32);
    while amount % 10 == 0 {
        amount /= 10;
        exponent += 1;
    }
    while exponent.rem_euclid(3) != 0 {
        amount *= 10;
        exponent -= 1;
    }
    let suffix = if exponent_form {
        if exponent == 0 {
            String::new()
        } else {
            format!("e{exponent}")
        }
    } else {
        decimal_suffix(exponent)
    };
    format!("{amount}{suffix}")
}

fn decimal_suffix(exponent: i32) -> String {
    let suffix = match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return format!("e{exponent}"),
    };
    suffix.to_string()
}

/// `resource.ParseQuantity`: `[+-]digits[.digits]` then an optional SI suffix, binary
/// suffix or `e`/`E` exponent. `None` for anything else.
pub fn parse(text: &str) -> Option<Quantity> {
    if text.is_empty() || text.len() > MAX_QUANTITY_LEN {
        return None;
    }
    let (negative, rest) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (number, suffix) = rest.split_at(number_len);
    let (scale, format) = parse_suffix(suffix)?;
    let nanos = scaled_nanos(number, scale)?;
    Some(Quantity {
        nanos: if negative { -nanos } else { nanos },
        format,
    })
}

/// How much one unit of the suffix is, as a power of ten or of 1024.
#[derive(Debug, Clone, Copy)]
enum Scale {
    Ten(i32),
    Binary(u32),
}

fn parse_suffix(suffix: &str) -> Option<(Scale, Format)> {
    let decimal = |e| Some((Scale::Ten(e), Format::DecimalSi));
    let binary = |p| Some((Scale::Binary(p), Format::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => parse_exponent(suffix),
    }
}

/// `e3`, `E-2`, `e+6`: a power of ten, written in exponent form.
fn parse_exponent(suffix: &str) -> Option<(Scale, Format)> {
    let digits = suffix.strip_prefix(['e', 'E'])?;
    let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
    if unsigned.is_empty() || unsigned.len() > 4 || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let exponent: i32 = digits.parse().ok()?;
    Some((Scale::Ten(exponent), Format::DecimalExponent))
}

/// The nano-units in `number` (digits with at most one '.') times the suffix's scale,
/// rounded up past nano precision.
fn scaled_nanos(number: &str, scale: Scale) -> Option<i128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    // The digits of both parts as one number, without the '.' (None when too big).
    let mantissa = whole
        .bytes()
        .chain(fraction.bytes())
        .try_fold(0i128, |n, digit| {
            let digit = char::from(digit).to_digit(10)?;
            n.checked_mul(10)?.checked_add(i128::from(digit))
        })?;
    // mantissa × 10^-len(fraction) × scale, in units of 10^-9.
    let exponent = 9 - fraction.len() as i32;
    match scale {
        Scale::Ten(e) => times_power_of_ten(mantissa, exponent + e),
        Scale::Binary(p) => {
            let factor = 1024i128.checked_pow(p)?;
            times_power_of_ten(mantissa.checked_mul(factor)?, exponent)
        }
    }
}

/// `value × 10^exponent`, rounding a fractional result up.
fn times_power_of_ten(value: i128, exponent: i32) -> Option<i128> {
    if exponent >= 0 {
        return value.checked_mul(10i128.checked_pow(exponent.unsigned_abs())?);
    }
    let Some(divisor) = 10i128.checked_pow(exponent.unsigned_abs()) else {
        return Some(if value > 0 { 1 } else { 0 });
    };
    let quotient = value / divisor;
    Some(if value % divisor > 0 {
        quotient + 1
    } else {
        quotient
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        parse(text).map_or_else(|| format!("invalid: {text}"), |q| q.canonical())
    }

    #[test]
    fn parses_and_prints_like_kube() {
        let cases = [
            ("500m", "500m"),
            ("0.5", "500m"),
            ("0.1", "100m"),
            ("1", "1"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("2000", "2k"),
            ("1500", "1500"),
            ("128Mi", "128Mi"),
            ("1Gi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1024Ki", "1Mi"),
            ("512Ki", "512Ki"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1E6", "1e6"),
            ("100e-3", "100e-3"),
            ("0", "0"),
            ("-1", "-1"),
            ("+2k", "2k"),
            ("1n", "1n"),
            ("0.0000000001", "1n"),
            (".5", "500m"),
            ("5.", "5"),
        ];
        for (input, canonical) in cases {
            assert_eq!(canon(input), canonical, "{input}");
        }
    }

    #[test]
    fn refuses_what_kube_refuses() {
        for bad in [
            "", "abc", "1.2.3", ".", "1Kb", "1 Gi", "--1", "1e", "e3", "1ee3", "Mi", "1m2",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        assert!(parse(&"9".repeat(100)).is_none());
    }

    #[test]
    fn compares_across_suffixes() {
        let q = |s| parse(s).unwrap();
        assert!(q("1") > q("500m"));
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("1000m").partial_cmp(&q("1")), Some(Ordering::Equal));
        assert!(q("-1").is_negative());
        assert!(q("2").is_integer() && !q("1500m").is_integer());
        assert_eq!(
            Quantity::from_json(&serde_json::json!(2)).map(|x| x.canonical()),
            Some("2".into())
        );
        // Equality is by value, as kube's Cmp.
        assert_eq!(q("1000m"), q("1"));
        assert_ne!(q("1Ki"), q("1k"));
        assert_eq!(q("2").max(q("1500m")).canonical(), "2");
    }

    #[test]
    fn arithmetic_keeps_the_first_format_unless_it_is_zero() {
        let q = |s| parse(s).unwrap();
        let sum = |a, b| q(a).checked_add(&q(b)).unwrap().canonical();
        let diff = |a, b| q(a).checked_sub(&q(b)).unwrap().canonical();
        assert_eq!(sum("500m", "500m"), "1");
        assert_eq!(sum("1Gi", "512Mi"), "1536Mi");
        assert_eq!(sum("0", "128Mi"), "128Mi");
        assert_eq!(
            Quantity::zero()
                .checked_add(&q("64Mi"))
                .unwrap()
                .canonical(),
            "64Mi"
        );
        assert_eq!(sum("1G", "1Gi"), "2073741824");
        assert_eq!(diff("1", "250m"), "750m");
        assert_eq!(diff("1Gi", "1Gi"), "0");
        assert_eq!(diff("0", "1Gi"), "-1Gi");
        assert_eq!(diff("100m", "1"), "-900m");
        assert_eq!(q("250m").checked_mul(4).unwrap().canonical(), "1");
        let huge = Quantity::from_nanos(i128::MAX, Format::DecimalSi);
        assert!(huge.checked_add(&q("1n")).is_none());
        assert!(
            Quantity::from_nanos(i128::MIN, Format::DecimalSi)
                .checked_sub(&q("1n"))
                .is_none()
        );
    }

    #[test]
    fn constructors_and_scaled_values() {
        assert_eq!(Quantity::zero().canonical(), "0");
        assert!(Quantity::zero().is_zero() && !Quantity::from_int(1).is_zero());
        assert_eq!(Quantity::from_int(3).canonical(), "3");
        assert_eq!(Quantity::from_int(3).nanos(), 3_000_000_000);
        assert_eq!(Quantity::from_milli(1500).canonical(), "1500m");
        assert_eq!(Quantity::from_int(2).format(), Format::DecimalSi);
        let q = |s| parse(s).unwrap();
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("2").value(), 2);
        assert_eq!(q("-1500m").value(), -2);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("128Mi").value(), 134_217_728);
        assert_eq!(q("1Ki").format(), Format::BinarySi);
        assert_eq!(q("1Ki").to_json(), serde_json::json!("1Ki"));
    }
}
