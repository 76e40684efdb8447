//! The client's IP address: the socket peer, unless the peer is a configured
//! trusted proxy; then the right-most address of `X-Forwarded-For` that is not
//! itself a trusted proxy, every line of the header read as one list in order
//! (RFC 9110 §5.3: a proxy may append a line of its own rather than extend the
//! last). The header is never believed from anyone else.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use ipnet::IpNet;

use crate::error::AppError;
use crate::state::AppState;

/// The client of a request from `peer` carrying these `X-Forwarded-For` lines.
pub fn resolve<'a>(peer: IpAddr, forwarded_for: impl DoubleEndedIterator<Item = &'a str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.rev().flat_map(|line| line.rsplit(',')) {
        // An unreadable hop ends the chain we can vouch for: keep the last
        // address a trusted proxy gave us.
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Extracts the client IP as this service computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequest for ClientIp {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(client_ip(request).map(ClientIp))
    }
}

pub fn client_ip(request: &HttpRequest) -> Result<IpAddr, AppError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    let peer = request
        .peer_addr()
        .map(|a| a.ip())
        .ok_or_else(|| AppError::internal("no peer address"))?;
    // A line that is not text cannot be read as an address: it stops the walk there.
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .map(|line| line.to_str().unwrap_or("unreadable"));
    Ok(resolve(peer, forwarded, &state.config.trusted_proxies))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(resolve(ip("203.0.113.9"), std::iter::empty(), &[]), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxies_yield_the_right_most_untrusted_hop() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert_eq!(
            resolve(
                ip("10.0.0.1"),
                ["1.2.3.4, 198.51.100.7, 10.0.0.2"].into_iter(),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(ip("::1"), ["2001:db8::1"].into_iter(), &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn every_line_of_the_header_is_read_in_order() {
        // The client claims 1.2.3.4; the proxy (HAProxy) appends its own line.
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(ip("10.0.0.1"), ["1.2.3.4", "198.51.100.7"].into_iter(), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(
                ip("10.0.0.1"),
                ["1.2.3.4", "198.51.100.7, 10.0.0.2"].into_iter(),
                &trusted
            ),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn garbage_in_the_header_stops_the_walk() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(ip("10.0.0.1"), ["1.2.3.4, nonsense"].into_iter(), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(resolve(ip("10.0.0.1"), [""].into_iter(), &trusted), ip("10.0.0.1"));
        assert_eq!(
            resolve(ip("10.0.0.1"), ["1.2.3.4, junk, 10.0.0.3"].into_iter(), &trusted),
            ip("10.0.0.3")
        );
    }
}
