//! Tests of the audit stage (filled in by a helper).
