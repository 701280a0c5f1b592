//! Local Lambda runner (issue 3).
