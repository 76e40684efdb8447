//! The client's IP address: the socket peer, unless the peer is a configured
//! trusted proxy; then the right-most address of `X-Forwarded-For` that is not
//! itself a trusted proxy. The header is never believed from anyone else.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use ipnet::IpNet;

use crate::app::AppState;
use crate::error::AppError;

pub fn resolve(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
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
    let forwarded = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
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
        assert_eq!(resolve(ip("203.0.113.9"), Some("1.2.3.4"), &trusted), ip("203.0.113.9"));
        assert_eq!(resolve(ip("203.0.113.9"), None, &[]), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxies_yield_the_right_most_untrusted_hop() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        assert_eq!(
            resolve(ip("10.0.0.1"), Some("1.2.3.4, 198.51.100.7, 10.0.0.2"), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(resolve(ip("::1"), Some("2001:db8::1"), &trusted), ip("2001:db8::1"));
    }

    #[test]
    fn garbage_in_the_header_stops_the_walk() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(ip("10.0.0.1"), Some("1.2.3.4, nonsense"), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(resolve(ip("10.0.0.1"), Some(""), &trusted), ip("10.0.0.1"));
        assert_eq!(
            resolve(ip("10.0.0.1"), Some("1.2.3.4, junk, 10.0.0.3"), &trusted),
            ip("10.0.0.3")
        );
    }
}
