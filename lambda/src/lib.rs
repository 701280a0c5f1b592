//! Lambda handlers (issue 3).
