//! ISBN-10 and ISBN-13: checksum validation and normalisation. A valid ISBN-10 is also stored as
//! its ISBN-13, so the two forms of one book are recognised as the same.

/// The digits of an ISBN with separators removed and an `X` check digit upper-cased, or `None`
/// when anything else is in it. Goodreads wraps ISBNs as `="0441013597"`; that is unwrapped too.
pub fn clean(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw
        .strip_prefix("=\"")
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    let mut out = String::with_capacity(13);
    for c in raw.chars() {
        match c {
            '0'..='9' => out.push(c),
            'x' | 'X' => out.push('X'),
            '-' | ' ' => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

pub fn is_valid_isbn10(isbn: &str) -> bool {
    let bytes = isbn.as_bytes();
    if bytes.len() != 10 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in bytes.iter().enumerate() {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'X' if i == 9 => 10,
            _ => return false,
        };
        sum += value * (10 - i as u32);
    }
    sum % 11 == 0
}

pub fn is_valid_isbn13(isbn: &str) -> bool {
    let bytes = isbn.as_bytes();
    if bytes.len() != 13 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes
        .iter()
        .enumerate()
        .map(|(i, &b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    sum % 10 == 0
}

/// ISBN-10 → ISBN-13 (prefix 978, new check digit).
pub fn isbn10_to_13(isbn10: &str) -> Option<String> {
    if !is_valid_isbn10(isbn10) {
        return None;
    }
    let body = format!("978{}", isbn10.get(..9)?);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    Some(format!("{body}{}", (10 - sum % 10) % 10))
}

/// ISBN-13 with prefix 978 → ISBN-10.
pub fn isbn13_to_10(isbn13: &str) -> Option<String> {
    if !is_valid_isbn13(isbn13) || !isbn13.starts_with("978") {
        return None;
    }
    let body = isbn13.get(3..12)?;
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * (10 - i as u32))
        .sum();
    let check = (11 - sum % 11) % 11;
    let check = if check == 10 {
        'X'
    } else {
        char::from(b'0' + check as u8)
    };
    Some(format!("{body}{check}"))
}

/// A validated pair: the ISBN-13 always when the input is valid, the ISBN-10 when one exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isbn {
    pub isbn10: Option<String>,
    pub isbn13: String,
}

/// Parses any ISBN form. `Err` says what is wrong, for a validation message.
pub fn parse(raw: &str) -> Result<Isbn, String> {
    let Some(digits) = clean(raw) else {
        return Err(format!(
            "`{raw}` is not an ISBN (digits, dashes and a final X only)"
        ));
    };
    match digits.len() {
        10 if is_valid_isbn10(&digits) => Ok(Isbn {
            isbn13: isbn10_to_13(&digits).ok_or("invalid ISBN-10")?,
            isbn10: Some(digits),
        }),
        13 if is_valid_isbn13(&digits) => Ok(Isbn {
            isbn10: isbn13_to_10(&digits),
            isbn13: digits,
        }),
        10 | 13 => Err(format!("`{raw}` fails its ISBN checksum")),
        n => Err(format!("`{raw}` has {n} digits; an ISBN has 10 or 13")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_converts() {
        let isbn = parse("0-441-01359-7").unwrap();
        assert_eq!(isbn.isbn13, "9780441013593");
        assert_eq!(isbn.isbn10.as_deref(), Some("0441013597"));
        let isbn = parse("=\"9780465026210\"").unwrap();
        assert_eq!(isbn.isbn10.as_deref(), Some("0465026214"));
        assert_eq!(parse("014023666X").unwrap().isbn13, "9780140236668");
        assert_eq!(
            parse("9791032305690").unwrap().isbn10,
            None,
            "979 has no ISBN-10"
        );
        assert!(parse("0441013598").unwrap_err().contains("checksum"));
        assert!(parse("38549081").unwrap_err().contains("8 digits"));
        assert!(parse("B0084FWN26").is_err());
        assert!(clean("=\"\"").is_none());
    }
}
