//! A StoryGraph export: any bytes must parse without panicking, and every row the import would
//! write must pass the same validation as a book or reading sent to the API.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panicless::library::import::Source;

mod common;

fuzz_target!(|data: &[u8]| common::import(Source::StoryGraph, data));
