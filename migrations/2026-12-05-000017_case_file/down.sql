DROP TABLE appeals;
DROP TABLE reporter_tallies;
DROP TABLE report_entries;
DROP TABLE reports;
