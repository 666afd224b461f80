//! Who sent a request. Behind a load balancer every till shares the balancer's address,
//! so a per-address throttle would lock out a whole chain at once; the client's own
//! address is then in `X-Forwarded-For`. That header is anyone's to write, so it is read
//! only from peers named in `BAZAAR_TRUSTED_PROXIES`.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{extract::ConnectInfo, http::HeaderMap};

/// The client's address as the server decided it, set on every request it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Addresses or networks (`10.0.0.0/8`) of the proxies whose `X-Forwarded-For` is
/// believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[(IpAddr, u8)]>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR networks; `None` if any item
    /// is neither.
    pub fn parse(list: &str) -> Option<Self> {
        let mut networks = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (address, prefix) = match item.split_once('/') {
                Some((address, prefix)) => (address.parse().ok()?, Some(prefix.parse().ok()?)),
                None => (item.parse::<IpAddr>().ok()?, None),
            };
            let width = if address.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(width);
            if prefix > width {
                return None;
            }
            networks.push((address, prefix));
        }
        Some(Self(networks.into()))
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|&(network, prefix)| {
            let (a, n, width) = match (address.to_canonical(), network) {
                (IpAddr::V4(a), IpAddr::V4(n)) => {
                    (u128::from(a.to_bits()), u128::from(n.to_bits()), 32)
                }
                (IpAddr::V6(a), IpAddr::V6(n)) => (a.to_bits(), n.to_bits(), 128),
                _ => return false,
            };
            let shift = width - u32::from(prefix);
            shift >= width || (a >> shift) == (n >> shift)
        })
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy; then the
    /// right-most `X-Forwarded-For` address that is not a trusted proxy (the left-most
    /// if all are), since each proxy appends the address it heard from.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        forwarded
            .iter()
            .rev()
            .find(|a| !self.contains(**a))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// The address of the client that sent a request: as the server decided it, else the
/// peer of the connection, when the server recorded one.
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ClientIp>()
        .map(|ClientIp(ip)| *ip)
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.5").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.9, 10.1.1.1".parse().unwrap(),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // From the balancer: the last address it did not add itself.
        assert_eq!(trusted.client(ip("10.0.0.2"), &headers), ip("203.0.113.9"));
        assert_eq!(
            trusted.client(ip("192.168.1.5"), &headers),
            ip("203.0.113.9")
        );
        // From anyone else the header is ignored.
        assert_eq!(
            trusted.client(ip("192.168.1.6"), &headers),
            ip("192.168.1.6")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.2"), &headers),
            ip("10.0.0.2")
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_none());
        assert!(TrustedProxies::parse("proxy.local").is_none());
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
    }
}
