//! City of an IP address, from a MaxMind-format database when one is configured.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;

pub struct CityLookup {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl CityLookup {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let reader = maxminddb::Reader::open_readfile(path)
            .with_context(|| format!("MEMBERD_GEOIP_DB: cannot read {} as a MaxMind database", path.display()))?;
        Ok(Self { reader })
    }

    /// The English name of the city, if the database knows one.
    pub fn city(&self, ip: &str) -> Option<String> {
        let ip: IpAddr = ip.parse().ok()?;
        let found = self.reader.lookup(ip).ok()?;
        let record: maxminddb::geoip2::City = found.decode().ok()??;
        record.city.names.english.map(String::from)
    }
}
