//! Everything openraft. (Filled in by the raft side.)
