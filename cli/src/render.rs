//! Human output: aligned `key  value` records and tables. Only what the
//! broker returned is shown (it never returns a value); a policy's text is
//! summarised by its size (`--json` has it whole).

use serde_json::Value;

/// `result` object as aligned `key  value` lines.
pub fn record(result: &Value) -> String {
    let Some(obj) = result.as_object() else {
        return format!("{}\n", cell("", result));
    };
    let width = obj.keys().map(String::len).max().unwrap_or(0);
    obj.iter()
        .map(|(k, v)| format!("{k:<width$}  {}\n", cell(k, v)))
        .collect()
}

/// A `list_secrets` result as a table, one row per secret.
pub fn secret_table(result: &Value) -> String {
    let rows: Vec<Vec<String>> = result
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let b = &s["binding"];
            vec![
                cell("", &s["name"]),
                cell("", &s["version"]),
                cell("", &s["key_mode"]),
                if s["quarantined"] == Value::Bool(true) {
                    format!("quarantined, {}", status(&s["status"]))
                } else {
                    status(&s["status"])
                },
                probes(s),
                b["hosts"]
                    .as_array()
                    .map(|h| h.iter().map(|x| cell("", x)).collect::<Vec<_>>().join(","))
                    .unwrap_or_else(|| "-".to_owned()),
                cell("", &b["inject"]["type"]),
                cell("updated_at", &s["updated_at"]),
                cell("", &s["key_arn"]),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no secrets\n".to_owned();
    }
    table(
        &[
            "NAME", "VERSION", "KEY", "STATUS", "PROBES", "HOSTS", "INJECT", "UPDATED", "KEY_ARN",
        ],
        &rows,
    )
}

/// A secret's probe count against its budget (`-` from a deployment
/// without the breaker).
fn probes(s: &Value) -> String {
    match (s["probes"].as_u64(), s["probe_budget"].as_u64()) {
        (Some(p), Some(b)) => format!("{p}/{b}"),
        _ => "-".to_owned(),
    }
}

/// The inject function's successful reply: status line, headers, body.
pub fn injection(reply: &Value) -> String {
    let mut out = format!("status      {}\n", cell("", &reply["status"]));
    if let Some(w) = reply["withheld"].as_str() {
        out.push_str(&format!(
            "withheld    {w} (the upstream echoed the credential; headers and body are not returned)\n"
        ));
    }
    out.push_str(&format!("request_id  {}\n", cell("", &reply["request_id"])));
    if let Some(headers) = reply["headers"].as_object() {
        for (k, v) in headers {
            out.push_str(&format!("{k}: {}\n", cell("", v)));
        }
    }
    if let Some(body) = reply["body"].as_str() {
        out.push('\n');
        out.push_str(body);
        if !body.ends_with('\n') {
            out.push('\n');
        }
    } else if let Some(b64) = reply["body_base64"].as_str() {
        out.push_str(&format!(
            "\n(binary body, {} base64 characters: use --json)\n",
            b64.len()
        ));
    }
    out
}

fn status(s: &Value) -> String {
    match s["state"].as_str() {
        Some("revoked") => format!("revoked ({})", cell("", &s["reason"])),
        Some(state) => state.to_owned(),
        None => "-".to_owned(),
    }
}

/// One value as text: strings bare, null as `-`, `*_at` Unix seconds as
/// UTC time, a policy by its size, anything else as compact JSON.
fn cell(key: &str, v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) if key == "policy" => format!("({} bytes; --json shows it)", s.len()),
        Value::Object(_) if key == "status" => status(v),
        Value::Object(o) if o.contains_key("window_seconds") => limits(v),
        Value::String(s) => s.clone(),
        Value::Number(n) if key.ends_with("_at") => n.as_u64().map_or_else(|| n.to_string(), utc),
        other => other.to_string(),
    }
}

/// Injection limits as `600/60s per workspace, 100/60s per agent`
/// (`unlimited` for an absent count).
fn limits(v: &Value) -> String {
    let w = &v["window_seconds"];
    let one = |scope: &str| match v[scope].as_u64() {
        Some(n) => format!("{n}/{w}s per {scope}"),
        None => format!("unlimited per {scope}"),
    };
    format!("{}, {}", one("workspace"), one("agent"))
}

/// Columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            if i + 1 == widths.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_798_675_200), "2026-12-31T00:00:00Z");
        assert_eq!(utc(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn limits_read_as_rates() {
        let out = record(&json!({ "previous": null,
            "current": { "window_seconds": 60, "workspace": 600, "agent": null } }));
        assert!(
            out.contains("current   600/60s per workspace, unlimited per agent\n"),
            "{out}"
        );
        assert!(out.contains("previous  -\n"), "{out}");
    }

    #[test]
    fn records_align_and_summarise_policies() {
        let out = record(
            &json!({ "workspace": "acme", "byok_enabled": true, "role_arn": null,
                     "updated_at": 0, "policy": "permit(principal, action, resource);",
                     "status": { "state": "revoked", "reason": "key_disabled", "since": 1 } }),
        );
        assert!(
            out.contains("status        revoked (key_disabled)\n"),
            "{out}"
        );
        assert!(out.contains("workspace     acme\n"), "{out}");
        assert!(out.contains("role_arn      -\n"), "{out}");
        assert!(
            out.contains("updated_at    1970-01-01T00:00:00Z\n"),
            "{out}"
        );
        assert!(
            out.contains("policy        (36 bytes; --json shows it)\n"),
            "{out}"
        );
        assert!(!out.contains("permit"), "{out}");
    }

    #[test]
    fn secret_tables() {
        let out = secret_table(&json!([
            { "name": "github", "version": 2, "key_mode": "byok", "key_arn": "arn:k",
              "updated_at": 0, "status": { "state": "revoked", "reason": "key_disabled", "since": 1 },
              "binding": { "hosts": ["a", "b:8443"], "inject": { "type": "header" } } },
            { "name": "x", "version": 1, "key_mode": "platform", "key_arn": "arn:p",
              "updated_at": 0, "status": { "state": "active" }, "binding": null },
            { "name": "q", "version": 1, "key_mode": "platform", "key_arn": "arn:p",
              "updated_at": 0, "status": { "state": "active" }, "binding": null,
              "probes": 3, "probe_budget": 3, "quarantined": true },
        ]));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[3].contains("quarantined, active") && lines[3].contains(" 3/3 "),
            "{out}"
        );
        assert!(
            lines[0].starts_with("NAME    VERSION  KEY       STATUS"),
            "{out}"
        );
        assert!(
            lines[1].contains("revoked (key_disabled)") && lines[1].contains("a,b:8443"),
            "{out}"
        );
        assert!(
            lines[2].starts_with("x       1        platform  active"),
            "{out}"
        );
        assert_eq!(secret_table(&json!([])), "no secrets\n");
    }
}
