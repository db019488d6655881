//! STUB: replaced by the helper that owns this file.
