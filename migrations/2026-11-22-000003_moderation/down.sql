DROP TABLE audit_log;
DROP TABLE karma_notes;
DROP TABLE sanctions;
