"""Builds city-test.mmdb, the tiny MaxMind-format city database the tests use.

    pip install mmdb-writer netaddr && python3 tests/data/make-geoip-test-db.py
"""
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", languages=["en", "fr"],
                    description="memberd test data: documentation ranges only", ipv4_compatible=True)
writer.insert_network(IPSet(["198.51.100.0/24"]), {"city": {"names": {"en": "Testville", "fr": "Villetest"}}})
writer.insert_network(IPSet(["2001:db8:1::/48"]), {"city": {"names": {"en": "Sixton"}}})
writer.to_db_file(str(Path(__file__).with_name("city-test.mmdb")))
