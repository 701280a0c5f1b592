//! The BYOK state enum against every stored combination, and the JSON
//! shapes admin and `list` responses have always had.

use super::*;

const ROLE: &str = "arn:aws:iam::222222222222:role/KeybrokerAccess";
const KEY: &str = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const REGION: &str = "us-east-1";

fn link() -> ByokLink {
    ByokLink {
        role: RoleArn::parse(ROLE).unwrap(),
        key: KeyArn::parse(KEY).unwrap(),
        region: Region::parse(REGION).unwrap(),
    }
}

#[test]
fn every_stored_presence_combination_has_one_meaning() {
    for enabled in [false, true] {
        for mask in 0..8u8 {
            let role = (mask & 1 != 0).then_some(ROLE);
            let key = (mask & 2 != 0).then_some(KEY);
            let region = (mask & 4 != 0).then_some(REGION);
            let got = Byok::from_stored(enabled, role, key, region);
            let want = match (enabled, mask) {
                (false, 0) => Ok(Byok::Off),
                (_, 7) => Ok(Byok::Configured {
                    link: link(),
                    enabled,
                }),
                // The first missing part is named, in role, key, region order.
                (_, m) if m & 1 == 0 => Err(ByokStateError::Missing("role_arn")),
                (_, m) if m & 2 == 0 => Err(ByokStateError::Missing("key_arn")),
                _ => Err(ByokStateError::Missing("region")),
            };
            assert_eq!(got, want, "enabled={enabled} mask={mask:03b}");
        }
    }
}

#[test]
fn invalid_parts_are_named_whether_enabled_or_not() {
    let alias = "arn:aws:kms:us-east-1:222222222222:alias/mine";
    for enabled in [false, true] {
        let cases = [
            (Some("not-an-arn"), Some(KEY), Some(REGION), "role_arn"),
            (Some(ROLE), Some(alias), Some(REGION), "key_arn"),
            (Some(ROLE), Some(KEY), Some("moon-1"), "region"),
        ];
        for (role, key, region, bad) in cases {
            let e = Byok::from_stored(enabled, role, key, region).unwrap_err();
            assert_eq!(e, ByokStateError::Invalid(bad), "enabled={enabled}");
            assert_eq!(e.attribute(), bad);
        }
    }
}

#[test]
fn links_are_used_by_state() {
    assert_eq!(Byok::Off.link(), None);
    assert_eq!(Byok::Off.enabled_link(), None);
    let on = Byok::Configured {
        link: link(),
        enabled: true,
    };
    assert_eq!(on.enabled_link(), Some(&link()));
    let off = Byok::Configured {
        link: link(),
        enabled: false,
    };
    assert_eq!(off.link(), Some(&link()), "reads still use a disabled link");
    assert_eq!(off.enabled_link(), None, "writes do not");
}

fn settings(byok: Byok) -> WorkspaceSettings {
    WorkspaceSettings {
        workspace: WorkspaceId::new("acme").unwrap(),
        external_id: "x".repeat(32),
        byok,
        updated_at: 7,
        policy: None,
    }
}

#[test]
fn settings_serialise_flat_as_before() {
    let off = serde_json::to_value(settings(Byok::Off)).unwrap();
    assert_eq!(
        off,
        serde_json::json!({
            "workspace": "acme", "external_id": "x".repeat(32), "byok_enabled": false,
            "role_arn": null, "key_arn": null, "region": null, "updated_at": 7, "policy": null
        })
    );
    for enabled in [true, false] {
        let mut s = settings(Byok::Configured {
            link: link(),
            enabled,
        });
        s.policy = Some("permit(principal, action, resource);".into());
        assert_eq!(s.byok_enabled(), enabled);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({
                "workspace": "acme", "external_id": "x".repeat(32), "byok_enabled": enabled,
                "role_arn": ROLE, "key_arn": KEY, "region": REGION, "updated_at": 7,
                "policy": "permit(principal, action, resource);"
            })
        );
    }
}

#[test]
fn metadata_serialises_ids_as_text() {
    let meta = SecretMetadata {
        workspace: WorkspaceId::new("acme").unwrap(),
        name: SecretName::new("openai").unwrap(),
        version: 3,
        key_mode: KeyMode::Byok,
        key_arn: KeyArn::parse(KEY).unwrap(),
        role_arn: Some(RoleArn::parse(ROLE).unwrap()),
        created_at: 1,
        updated_at: 2,
        status: SecretStatus::Revoked {
            reason: RevokedReason::KeyDisabled,
            since: 5,
        },
        binding: None,
    };
    assert_eq!(
        serde_json::to_value(&meta).unwrap(),
        serde_json::json!({
            "workspace": "acme", "name": "openai", "version": 3, "key_mode": "byok",
            "key_arn": KEY, "role_arn": ROLE, "created_at": 1, "updated_at": 2,
            "status": { "state": "revoked", "reason": "key_disabled", "since": 5 },
            "binding": null
        })
    );
}

#[test]
fn key_mode_names_and_bytes_round_trip() {
    for m in [KeyMode::Platform, KeyMode::Byok] {
        assert_eq!(KeyMode::parse(m.as_str()), Some(m));
        assert_eq!(KeyMode::from_byte(m.to_byte()), Some(m));
    }
    assert_eq!(KeyMode::parse("Platform"), None);
    assert_eq!(KeyMode::from_byte(0), None);
    assert_eq!(KeyMode::from_byte(3), None);
}
