//! The statistics page in real Chromium.
