//! Item ↔ model round trips and the fail-closed parsing rules, with no
//! table: every case here is an item a table writer could plant.

use super::*;
use crate::arn::{Region, RoleArn};
use crate::binding::Binding;
use crate::model::ByokLink;

const ROLE: &str = "arn:aws:iam::222222222222:role/KeybrokerAccess";
const KEY: &str = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const PLATFORM: &str =
    "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-4000-8000-000000000000";

fn ws() -> WorkspaceId {
    WorkspaceId::new("acme").unwrap()
}

fn link() -> ByokLink {
    ByokLink {
        role: RoleArn::parse(ROLE).unwrap(),
        key: KeyArn::parse(KEY).unwrap(),
        region: Region::parse("us-east-1").unwrap(),
    }
}

fn settings(byok: Byok, policy: Option<&str>) -> WorkspaceSettings {
    WorkspaceSettings {
        workspace: ws(),
        external_id: "e".repeat(32),
        byok,
        updated_at: 42,
        policy: policy.map(str::to_owned),
    }
}

fn record(binding: Option<Binding>, status: SecretStatus) -> SecretRecord {
    SecretRecord {
        meta: SecretMetadata {
            workspace: ws(),
            name: SecretName::new("openai").unwrap(),
            version: 3,
            key_mode: KeyMode::Platform,
            key_arn: KeyArn::parse(PLATFORM).unwrap(),
            role_arn: None,
            created_at: 1,
            updated_at: 2,
            status,
            binding,
        },
        blob: vec![1, 2, 3],
    }
}

fn binding() -> Binding {
    serde_json::from_str(
        r#"{"hosts":["api.example.com"],"inject":{"type":"header","name":"x-key","template":"{secret}"}}"#,
    )
    .unwrap()
}

fn detail(e: BrokerError) -> String {
    match e {
        BrokerError::Storage { detail } => detail,
        other => panic!("expected Storage, got {other:?}"),
    }
}

#[test]
fn workspace_items_round_trip_in_every_state() {
    let states = [
        Byok::Off,
        Byok::Configured {
            link: link(),
            enabled: true,
        },
        Byok::Configured {
            link: link(),
            enabled: false,
        },
    ];
    for byok in states {
        for policy in [None, Some("permit(principal, action, resource);")] {
            let w = settings(byok.clone(), policy);
            assert_eq!(parse_workspace(&workspace_item(&w)).unwrap(), w);
        }
    }
}

#[test]
fn a_fresh_workspace_item_has_exactly_the_created_attributes() {
    let item = workspace_item(&settings(Byok::Off, None));
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "byok_enabled",
            "external_id",
            "pk",
            "sk",
            "updated_at",
            "workspace"
        ]
    );
    assert_eq!(item["pk"], s("ws#acme"));
    assert_eq!(item["sk"], s("workspace"));
}

#[test]
fn set_byok_attributes_parse_back_including_nulls() {
    // `disable_byok` on a never-configured workspace writes NULLs.
    for byok in [
        Byok::Off,
        Byok::Configured {
            link: link(),
            enabled: false,
        },
    ] {
        let mut item = workspace_item(&settings(Byok::Off, None));
        for (k, v) in byok_attributes(&byok) {
            item.insert(k.into(), v);
        }
        assert_eq!(parse_workspace(&item).unwrap().byok, byok);
    }
}

#[test]
fn workspace_items_fail_closed() {
    let on = workspace_item(&settings(
        Byok::Configured {
            link: link(),
            enabled: true,
        },
        None,
    ));
    type Edit = fn(&mut Item);
    let cases: [(&str, Edit, &str); 9] = [
        (
            "enabled as string",
            |i| {
                i.insert("byok_enabled".into(), s("true"));
            },
            "byok_enabled",
        ),
        (
            "enabled missing",
            |i| {
                i.remove("byok_enabled");
            },
            "byok_enabled",
        ),
        (
            "enabled without role",
            |i| {
                i.remove("role_arn");
            },
            "role_arn",
        ),
        (
            "enabled with NULL key",
            |i| {
                i.insert("key_arn".into(), AttributeValue::Null(true));
            },
            "key_arn",
        ),
        (
            "key as number",
            |i| {
                i.insert("key_arn".into(), n(1));
            },
            "key_arn",
        ),
        (
            "alias as key",
            |i| {
                i.insert(
                    "key_arn".into(),
                    s("arn:aws:kms:us-east-1:222222222222:alias/a"),
                );
            },
            "key_arn",
        ),
        (
            "bad region",
            |i| {
                i.insert("region".into(), s("moon-1"));
            },
            "region",
        ),
        (
            "unknown attribute",
            |i| {
                i.insert("key_mode".into(), s("platform"));
            },
            "unknown workspace attribute \"key_mode\"",
        ),
        (
            "bad workspace id",
            |i| {
                i.insert("workspace".into(), s("../x"));
            },
            "workspace",
        ),
    ];
    for (what, edit, attr) in cases {
        let mut item = on.clone();
        edit(&mut item);
        let d = detail(parse_workspace(&item).unwrap_err());
        assert_eq!(d, format!("stored record is malformed: {attr}"), "{what}");
    }
    // A partial link is refused even while disabled.
    let mut off = on.clone();
    off.insert("byok_enabled".into(), AttributeValue::Bool(false));
    off.remove("region");
    assert!(detail(parse_workspace(&off).unwrap_err()).ends_with("region"));
}

#[test]
fn secret_items_round_trip() {
    for b in [None, Some(binding())] {
        let rec = record(b, SecretStatus::Active);
        let item = secret_item(&rec).unwrap();
        assert_eq!(item["sk"], s("secret#openai"));
        let back = parse_secret(&item).unwrap();
        assert_eq!((back.meta, back.blob), (rec.meta, rec.blob));
    }
}

#[test]
fn revoked_status_parses_back() {
    let revoked = SecretStatus::Revoked {
        reason: RevokedReason::KeyPendingDeletion,
        since: 9,
    };
    let mut item = secret_item(&record(None, SecretStatus::Active)).unwrap();
    let (state, extra) = status_attributes(revoked);
    let (reason, since) = extra.unwrap();
    item.insert("status".into(), s(state));
    item.insert("status_reason".into(), reason);
    item.insert("status_since".into(), since);
    assert_eq!(parse_metadata(&item).unwrap().status, revoked);
    assert_eq!(status_attributes(SecretStatus::Active), (ACTIVE, None));
}

#[test]
fn secret_items_fail_closed() {
    let good = secret_item(&record(Some(binding()), SecretStatus::Active)).unwrap();
    type Edit = fn(&mut Item);
    let cases: [(Edit, &str); 10] = [
        (
            |i| {
                i.remove("blob");
            },
            "blob",
        ),
        (
            |i| {
                i.insert("blob".into(), s("AQID"));
            },
            "blob",
        ),
        (
            |i| {
                i.insert("version".into(), s("3"));
            },
            "version",
        ),
        (
            |i| {
                i.insert("version".into(), AttributeValue::N("-1".into()));
            },
            "version",
        ),
        (
            |i| {
                i.insert("key_mode".into(), s("customer"));
            },
            "key_mode",
        ),
        (
            |i| {
                i.insert("key_arn".into(), s("not-an-arn"));
            },
            "key_arn",
        ),
        (
            |i| {
                i.insert("name".into(), s("a/b"));
            },
            "name",
        ),
        (
            |i| {
                i.insert("status".into(), s("revoked"));
            },
            "status_reason",
        ),
        (
            |i| {
                i.insert("status".into(), s("paused"));
            },
            "status",
        ),
        (
            |i| {
                i.insert("binding".into(), s("{\"hosts\":1}"));
            },
            "binding",
        ),
    ];
    for (edit, attr) in cases {
        let mut item = good.clone();
        edit(&mut item);
        let d = detail(parse_secret(&item).unwrap_err());
        assert_eq!(d, format!("stored record is malformed: {attr}"));
    }
}

/// A DynamoDB JSON item (the format of `aws dynamodb get-item` and of the
/// committed fixtures) as an [`Item`]: `S`, `N`, `B` (base64) only, which
/// is all a secret item holds.
pub(crate) fn from_dynamodb_json(text: &str) -> Item {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, typed)| {
            let (t, val) = typed.as_object().unwrap().iter().next().unwrap();
            let val = val.as_str().unwrap();
            let av = match t.as_str() {
                "S" => AttributeValue::S(val.to_owned()),
                "N" => AttributeValue::N(val.to_owned()),
                "B" => AttributeValue::B(DdbBlob::new(base64_decode(val))),
                other => panic!("fixture type {other}"),
            };
            (k.clone(), av)
        })
        .collect()
}

/// Standard base64 with padding (the fixtures' blobs).
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

const V1_BYOK: &str = include_str!("fixtures/secret_item_v1_byok.json");
const V2_BYOK: &str = include_str!("fixtures/secret_item_v2_byok.json");
const V2_PLATFORM: &str = include_str!("fixtures/secret_item_v2_platform.json");

fn byok_record(role: Option<&str>) -> SecretRecord {
    let mut rec = record(Some(binding()), SecretStatus::Active);
    rec.meta.key_mode = KeyMode::Byok;
    rec.meta.key_arn = KeyArn::parse(KEY).unwrap();
    rec.meta.role_arn = role.map(|r| RoleArn::parse(r).unwrap());
    rec
}

#[test]
fn v1_secret_items_still_read_and_fall_back_to_the_current_link() {
    // Written before roles were recorded: no `role_arn`.
    let rec = parse_secret(&from_dynamodb_json(V1_BYOK)).unwrap();
    assert_eq!(rec.meta, byok_record(None).meta);
    assert_eq!(rec.blob, [1, 2, 3]);
    // Its reads use the workspace's current link's role, as before.
    let w = settings(
        Byok::Configured {
            link: link(),
            enabled: false,
        },
        None,
    );
    assert_eq!(rec.meta.read_role(Some(&w)).map(|r| r.as_str()), Some(ROLE));
    assert_eq!(rec.meta.read_role(None), None);
}

#[test]
fn v2_secret_items_are_exactly_what_the_writer_writes() {
    let byok = byok_record(Some(ROLE));
    assert_eq!(secret_item(&byok).unwrap(), from_dynamodb_json(V2_BYOK));
    let back = parse_secret(&from_dynamodb_json(V2_BYOK)).unwrap();
    assert_eq!(back.meta, byok.meta);
    // The recorded role wins over whatever the workspace links now.
    let other = "arn:aws:iam::333333333333:role/Other";
    let mut moved = link();
    moved.role = RoleArn::parse(other).unwrap();
    let w = settings(
        Byok::Configured {
            link: moved,
            enabled: true,
        },
        None,
    );
    assert_eq!(
        back.meta.read_role(Some(&w)).map(|r| r.as_str()),
        Some(ROLE)
    );
    // Platform items are unchanged by v2: no role attribute.
    let platform = record(None, SecretStatus::Active);
    assert_eq!(
        secret_item(&platform).unwrap(),
        from_dynamodb_json(V2_PLATFORM)
    );
    assert_eq!(
        parse_secret(&from_dynamodb_json(V2_PLATFORM)).unwrap().meta,
        platform.meta
    );
}

/// The attack: a table writer records a role where the broker never does
/// (on a platform secret), or something that is not a role.
#[test]
fn recorded_roles_fail_closed() {
    let mut platform = from_dynamodb_json(V2_PLATFORM);
    platform.insert("role_arn".into(), s(ROLE));
    assert_eq!(
        detail(parse_secret(&platform).unwrap_err()),
        "stored record is malformed: role_arn"
    );
    for bad in [
        s("arn:aws:iam::222222222222:user/bob"),
        s("not-an-arn"),
        n(1),
    ] {
        let mut item = from_dynamodb_json(V2_BYOK);
        item.insert("role_arn".into(), bad);
        assert_eq!(
            detail(parse_secret(&item).unwrap_err()),
            "stored record is malformed: role_arn"
        );
    }
    // NULL reads as absent (a v1 item), as for every optional attribute.
    let mut item = from_dynamodb_json(V2_BYOK);
    item.insert("role_arn".into(), AttributeValue::Null(true));
    assert_eq!(parse_secret(&item).unwrap().meta.role_arn, None);
}
