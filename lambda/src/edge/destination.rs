//! Where the credential may be connected to, decided at connect time.
//!
//! A binding names hosts; this module checks the *addresses* they resolve
//! to. A bound host that is, or resolves to, a loopback, link-local (the
//! instance metadata service at 169.254.169.254 and fd00:ec2::254), private,
//! shared (CGNAT), unspecified, multicast, broadcast, documentation,
//! benchmarking or otherwise special-purpose address is refused, including
//! such an IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4
//! IPv6 address. Without this a table write (or a DNS record an attacker
//! controls) could point a credential at the metadata service or at a
//! service inside the VPC.
//!
//! Two paths, because the HTTP client resolves names but connects to IP
//! literals directly: [`check_literal`] runs before `kms:Decrypt` on the
//! URL's host, and [`GuardedResolver`] checks every DNS answer as the client
//! connects (so a name that later re-resolves to a private address is
//! caught too).
//!
//! Whether private destinations are allowed is a **deployment** setting
//! ([`Destinations::from_env`], `KEYBROKER_ALLOW_PRIVATE_UPSTREAMS`), never
//! something a stored secret can ask for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The environment variable that allows private upstreams (local stacks,
/// tests, the demo): `1`/`true` allows, unset/`0`/`false` refuses.
pub const ALLOW_PRIVATE_ENV: &str = "KEYBROKER_ALLOW_PRIVATE_UPSTREAMS";

/// Which destinations this deployment may send credentials to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Destinations {
    /// Public unicast addresses only (the default).
    #[default]
    PublicOnly,
    /// Any address, including loopback and private ranges (local stacks).
    AllowPrivate,
}

impl Destinations {
    /// Read [`ALLOW_PRIVATE_ENV`]. A value that does not parse is an error
    /// (the function fails to start) rather than a silent default either way.
    pub fn from_env() -> Result<Self, broker_core::BrokerError> {
        Ok(if broker_core::deployment::env_flag(ALLOW_PRIVATE_ENV)? {
            Self::AllowPrivate
        } else {
            Self::PublicOnly
        })
    }

    /// Why `ip` is refused under this setting, if it is.
    pub fn refuses(self, ip: IpAddr) -> Option<Blocked> {
        match self {
            Self::AllowPrivate => None,
            Self::PublicOnly => special_purpose(ip).map(Blocked),
        }
    }
}

/// A refused destination: the rule it broke (never the address list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked(pub &'static str);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the bound host is or resolves to a {} address, which this deployment does not send \
             credentials to ({ALLOW_PRIVATE_ENV} is off)",
            self.0
        )
    }
}

impl std::error::Error for Blocked {}

/// Check a URL host that is an IP literal (the HTTP client connects to
/// those without resolving). Names pass here and are checked at resolution.
pub fn check_literal(dest: Destinations, host: Option<url::Host<&str>>) -> Result<(), Blocked> {
    let ip = match host {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    dest.refuses(ip).map_or(Ok(()), Err)
}

/// The special-purpose class `ip` falls in, or `None` for a public unicast
/// address (IANA special-purpose registries, RFC 6890 and successors).
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    const RULES: [([u8; 4], u32, &str); 17] = [
        ([0, 0, 0, 0], 8, "unspecified (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (RFC 1918)"),
        ([100, 64, 0, 0], 10, "shared/CGNAT (100.64.0.0/10)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local (incl. instance metadata)"),
        ([172, 16, 0, 0], 12, "private (RFC 1918)"),
        (
            [192, 0, 0, 0],
            24,
            "IETF protocol assignment (192.0.0.0/24)",
        ),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 31, 196, 0], 24, "AS112 (192.31.196.0/24)"),
        ([192, 52, 193, 0], 24, "AMT (192.52.193.0/24)"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast (192.88.99.0/24)"),
        ([192, 168, 0, 0], 16, "private (RFC 1918)"),
        ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved or broadcast (240.0.0.0/4)"),
    ];
    RULES
        .iter()
        .find(|(net, bits, _)| in_v4(ip, *net, *bits))
        .map(|(_, _, why)| *why)
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, bits: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    let low_v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // Embedded IPv4: mapped ::ffff:0:0/96, compatible ::/96, NAT64
    // 64:ff9b::/96. The embedded address decides, and a public one passes.
    let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED);
    if in_v6(ip, v6("::ffff:0:0"), 96) || in_v6(ip, v6("::"), 96) || in_v6(ip, v6("64:ff9b::"), 96)
    {
        return v4_class(low_v4);
    }
    // 6to4 2002::/16 carries its IPv4 in bits 16..48.
    if in_v6(ip, v6("2002::"), 16) {
        let embedded = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        // Deprecated (RFC 7526): refused whatever it embeds.
        return v4_class(embedded).or(Some("6to4 (2002::/16)"));
    }
    const RULES: [(&str, u32, &str); 10] = [
        ("::ffff:0:0:0", 96, "IPv4-translated (::ffff:0:0:0/96)"),
        ("64:ff9b:1::", 48, "local-use NAT64 (64:ff9b:1::/48)"),
        ("100::", 64, "discard-only (100::/64)"),
        (
            "2001::",
            23,
            "IETF protocol assignment (2001::/23, incl. Teredo)",
        ),
        ("2001:db8::", 32, "documentation"),
        ("3fff::", 20, "documentation"),
        ("5f00::", 16, "segment routing (5f00::/16)"),
        (
            "fc00::",
            7,
            "private (unique local, fc00::/7, incl. fd00:ec2::254)",
        ),
        ("fe80::", 10, "link-local"),
        ("fec0::", 10, "site-local (deprecated)"),
    ];
    if ip.is_multicast() {
        return Some("multicast");
    }
    RULES
        .iter()
        .find(|(net, bits, _)| in_v6(ip, v6(net), *bits))
        .map(|(_, _, why)| *why)
}

/// A `reqwest` resolver that resolves with the system resolver and refuses
/// the whole name if **any** answer is refused by [`Destinations`]: a name
/// mixing public and private answers is misconfigured or an attack (DNS
/// rebinding), and picking the public ones would make the outcome depend on
/// answer order.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    dest: Destinations,
}

impl GuardedResolver {
    /// A resolver enforcing `dest`.
    pub fn new(dest: Destinations) -> Arc<Self> {
        Arc::new(Self { dest })
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let dest = self.dest;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(blocked) = addrs.iter().find_map(|a| dest.refuses(a.ip())) {
                return Err(Box::new(blocked) as Box<dyn std::error::Error + Send + Sync>);
            }
            if addrs.is_empty() {
                return Err("name resolved to no addresses".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The [`Blocked`] rule behind a failed request, if that is why it failed.
pub fn blocked_cause(e: &(dyn std::error::Error + 'static)) -> Option<Blocked> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(b) = err.downcast_ref::<Blocked>() {
            return Some(*b);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn class(s: &str) -> Option<&'static str> {
        special_purpose(s.parse().unwrap())
    }

    #[test]
    fn refused_ranges() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "192.0.0.170",
            "192.0.2.5",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001::1",
            "2001:2::1",
            "100::1",
            "fec0::1",
        ] {
            assert!(class(ip).is_some(), "{ip} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "140.82.112.3",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "192.0.3.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(class(ip), None, "{ip} should pass");
        }
    }

    #[test]
    fn the_setting_is_the_deployments_and_fails_closed() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(Destinations::PublicOnly.refuses(lo).is_some());
        assert_eq!(Destinations::AllowPrivate.refuses(lo), None);
        let msg = Destinations::PublicOnly.refuses(lo).unwrap().to_string();
        assert!(msg.contains("loopback") && !msg.contains("127."), "{msg}");
        let v4 = url::Url::parse("http://169.254.169.254/").unwrap();
        assert!(check_literal(Destinations::PublicOnly, v4.host()).is_err());
        let v6 = url::Url::parse("http://[::ffff:7f00:1]/").unwrap();
        assert!(check_literal(Destinations::PublicOnly, v6.host()).is_err());
        let name = url::Url::parse("http://localhost/").unwrap();
        assert!(check_literal(Destinations::PublicOnly, name.host()).is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_by_the_resolver() {
        use reqwest::dns::Resolve;
        let r = GuardedResolver::new(Destinations::PublicOnly);
        let err = r.resolve("localhost".parse().unwrap()).await.err().unwrap();
        assert_eq!(blocked_cause(err.as_ref()), Some(Blocked("loopback")));
        let open = GuardedResolver::new(Destinations::AllowPrivate);
        assert!(open.resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
