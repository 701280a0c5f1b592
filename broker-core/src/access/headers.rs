//! Vetting the agent's headers for one request against the rules of
//! [`crate::header_names`] (the lists, the spelling folds and why).

pub use crate::header_names::{
    fold, is_clean_value, is_denied, is_token, DEFAULT_AGENT_HEADERS, DENIED_HEADERS,
    DENIED_PREFIXES, MAX_HEADERS,
};

/// Whether an `Accept` value names a charset in any of its media ranges.
fn names_charset(accept: &str) -> bool {
    accept.split([',', ';']).any(|part| {
        part.split_once('=')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
    })
}

/// Vet the agent's headers: names are tokens given once (case-insensitive,
/// `_` and `-` the same), none denied, none the injection header, each in
/// `allow` (the binding's list) or, without one, in
/// [`DEFAULT_AGENT_HEADERS`]; values clean; no `Accept` charset. Returns
/// lowercase names with their values, sorted.
pub fn vet<'a>(
    given: impl IntoIterator<Item = (&'a str, &'a str)>,
    injected: Option<&str>,
    allow: Option<&[String]>,
) -> Result<Vec<(String, String)>, String> {
    let injected = injected.map(fold);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in given {
        if out.len() == MAX_HEADERS {
            return Err(format!("at most {MAX_HEADERS} headers"));
        }
        if !is_token(k) {
            return Err(format!("header name {k:?} is invalid"));
        }
        let folded = fold(k);
        if Some(&folded) == injected.as_ref() {
            return Err(format!(
                "header {k:?} is where the broker injects the secret; the agent may not set it"
            ));
        }
        if is_denied(k) {
            return Err(format!("header {k:?} may not be set by the agent"));
        }
        let lower = k.to_ascii_lowercase();
        match allow {
            Some(allow) if !allow.iter().any(|a| a.eq_ignore_ascii_case(&lower)) => {
                return Err(format!(
                    "header {k:?} is not in this secret's list of agent headers"
                ));
            }
            None if !DEFAULT_AGENT_HEADERS.contains(&lower.as_str()) => {
                return Err(format!(
                    "header {k:?} is not one agents may send by default; \
                     the secret's binding can list it in agent_headers"
                ));
            }
            _ => {}
        }
        if !is_clean_value(v) {
            return Err(format!(
                "header {k:?} has an invalid value (control characters or non-ASCII)"
            ));
        }
        if lower == "accept" && names_charset(v) {
            return Err(format!(
                "header {k:?} names a charset: the broker owns the response charset"
            ));
        }
        if seen.contains(&folded) {
            return Err(format!("header {k:?} is given more than once"));
        }
        seen.push(folded);
        out.push((lower, v.to_owned()));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
