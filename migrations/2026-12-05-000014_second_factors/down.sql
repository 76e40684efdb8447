DROP TABLE passkey_logins;
DROP TABLE factor_throttles;
DROP TABLE mfa_challenges;
DROP TABLE recovery_codes;
DROP TABLE member_factors;
