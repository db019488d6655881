//! The log backend: JSON lines in `--audit-log-path`, rotated.
//!
//! CONTRACT (the lead's skeleton; the policy helper fills it in).
