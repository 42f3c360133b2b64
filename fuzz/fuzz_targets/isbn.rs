//! The ISBN parser: no panic on any text, and what it accepts is a valid, stable pair.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panicless::library::isbn;

fuzz_target!(|text: &str| {
    let Ok(parsed) = isbn::parse(text) else {
        return;
    };
    assert!(
        isbn::is_valid_isbn13(&parsed.isbn13),
        "{text:?} -> {parsed:?}"
    );
    if let Some(isbn10) = &parsed.isbn10 {
        assert!(isbn::is_valid_isbn10(isbn10), "{text:?} -> {parsed:?}");
        assert_eq!(
            isbn::isbn10_to_13(isbn10).as_deref(),
            Some(parsed.isbn13.as_str())
        );
    }
    // Normalised forms parse back to the same pair.
    assert_eq!(isbn::parse(&parsed.isbn13).as_ref(), Ok(&parsed));
    if let Some(isbn10) = &parsed.isbn10 {
        assert_eq!(isbn::parse(isbn10).as_ref(), Ok(&parsed));
    }
});
