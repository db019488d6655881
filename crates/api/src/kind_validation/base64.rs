//! Standard base64 (RFC 4648, padded), as Go's `encoding/json` reads and writes `[]byte`
//! fields: Secret `data` and ConfigMap `binaryData`. Go's decoder skips `\r` and `\n`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The padded encoding of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sextet(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The bytes `text` encodes, or the offset of the first byte Go would call illegal
/// (`illegal base64 data at input byte N`).
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, usize> {
    let input: Vec<(usize, u8)> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| !matches!(b, b'\r' | b'\n'))
        .collect();
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    for (quantum, group) in input.chunks(4).enumerate() {
        let last = (quantum + 1) * 4 >= input.len();
        decode_group(group, last, &mut out)
            .map_err(|i| group.get(i).map_or(text.len(), |(at, _)| *at))?;
    }
    Ok(out)
}

/// One group of four characters; `Err(i)` names the illegal character in the group.
fn decode_group(group: &[(usize, u8)], last: bool, out: &mut Vec<u8>) -> Result<(), usize> {
    if group.len() < 4 {
        return Err(group.len());
    }
    let pads = group.iter().rev().take_while(|(_, b)| *b == b'=').count();
    if pads > 2 || (pads > 0 && !last) {
        return Err(4 - pads);
    }
    let mut n = 0u32;
    for (i, (_, c)) in group[..4 - pads].iter().enumerate() {
        n |= sextet(*c).ok_or(i)? << (18 - 6 * i);
    }
    let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    out.extend_from_slice(&bytes[..3 - pads]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["", "a", "ab", "abc", "abcd", "hello world", "\u{0}\u{ff}"] {
            let encoded = encode(text.as_bytes());
            assert_eq!(decode(&encoded), Ok(text.as_bytes().to_vec()), "{text:?}");
        }
        assert_eq!(encode(b"ab"), "YWI=");
        assert_eq!(decode("YW\nJj"), Ok(b"abc".to_vec()));
    }

    #[test]
    fn reports_the_illegal_byte() {
        assert_eq!(decode("YW*j"), Err(2));
        assert_eq!(decode("YWJ"), Err(3));
        assert_eq!(decode("YQ==YQ=="), Err(2));
    }
}
