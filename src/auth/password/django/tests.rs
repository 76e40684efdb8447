use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{verifiable, verify};
use crate::auth::password::{PasswordHasher, is_foreign, verify_with};

// Made by Django 4.2.30's `make_password` (argon2-cffi 25.1, bcrypt 4.3: the
// last to truncate long passwords), each also checked by its `check_password`:
//
//     class Pbkdf2Fast(PBKDF2PasswordHasher): iterations = 1000   # and 999
//     class Argon2idSmall(Argon2PasswordHasher): time_cost, memory_cost, parallelism = 2, 1024, 8
//     class Argon2iSmall(Argon2PasswordHasher):
//         def params(self): return argon2.Parameters(type=argon2.low_level.Type.I, version=19,
//             salt_len=16, hash_len=32, time_cost=2, memory_cost=512, parallelism=2)
//     class BcryptFast(BCryptPasswordHasher): rounds = 4   # and BCryptSHA256PasswordHasher
//     class ScryptSmall(ScryptPasswordHasher): work_factor, block_size, parallelism = 2**10, 4, 2
//     make_password(PW, hasher=Pbkdf2Fast())  # …, PBKDF2PasswordHasher(), "sha1", "md5",
//                                             # "unsalted_sha1", "unsalted_md5"
//     # Django 1.10's Argon2, before argon2-cffi wrote `v=`:
//     "argon2" + argon2.low_level.hash_secret(PW.encode(), b"oldargon2salt", time_cost=2,
//         memory_cost=512, parallelism=2, hash_len=32, type=Type.I, version=16)
//         .decode().replace("$v=16", "")
const PW: &str = "pw-sésame ü 42";
const PBKDF2_SHA256_1000: &str =
    "pbkdf2_sha256$1000$QTGK19R0H0NXWONiz4PeUv$e5Ll61ol4RLkC8i6RUIN49WiBpg8FBfNFHd8GZXdSE4=";
const PBKDF2_SHA256_600000: &str =
    "pbkdf2_sha256$600000$zVpHsuo5rF7uAPLto3Eny0$0PHiUDiRHvxJfZITa6ZpRoOoc+v87WEAcYxPbodBY+I=";
/// Below the 1,000 rounds of pbkdf2's function that is not generic.
const PBKDF2_SHA256_999: &str = "pbkdf2_sha256$999$X6rS8lh4CeKAvxThgWGO91$ko5/1pfn4HCho4mL/GfAUYiuFaXMZXtSsmNH45HJ4Zg=";
const PBKDF2_SHA1_1000: &str = "pbkdf2_sha1$1000$yzZKA26mQjTkFPZYa2tarJ$f2Roto1buMAClPt3hfLbPObkzeU=";
const ARGON2ID: &str =
    "argon2$argon2id$v=19$m=1024,t=2,p=8$S1ZGUVo5VlJDQ1BIdVBlZXZiTHdTRg$wSDvI9raXyGxmVwkyArl+fvYTpRbEqeNHBOnEnMWPXk";
const ARGON2I: &str =
    "argon2$argon2i$v=19$m=512,t=2,p=2$UFprVmxHMXg2aWpUdUI1dUUwYlRkaA$wZOdbHlK9qOVry1KEPCGfwbNB6jch5yJibC+EosrLyc";
const ARGON2I_V16_NO_VERSION: &str =
    "argon2$argon2i$m=512,t=2,p=2$b2xkYXJnb24yc2FsdA$6lzSs0VB6M5M8JagAZzP4VBcscOiSct1+6lAdWYNDGM";
const BCRYPT_SHA256: &str = "bcrypt_sha256$$2b$04$peChwnfcamsoy3PaAHCbZunUcm3czl3LONztpP9NVOnEgL30XpNxa";
const BCRYPT: &str = "bcrypt$$2b$04$jwgt9ONQ9taxsbPca5Apl.UrqdqeXDoAo3mD62/T9PifSs/It7VJK";
const SCRYPT: &str = "scrypt$1024$BUWsMMvBDanOmkWsmaSUfw$4$2$zlDi+8eWq82WXEoZSqvGihzUOaHh86NwU7PJnk9ptHqoBt3w0GEZnPBXF89sp+3hh2QMaRaaPloOF2EnnUbmrg==";
const SHA1: &str = "sha1$KHS3PuEOafp0MEV8XrPTm8$064d5f6ee0c653230504033ff486f2a850b40444";
const MD5: &str = "md5$cjcr8OaS75q8ft8Lq1VQME$805ab6954c8f7fd49c0e665b7bd5b042";
const UNSALTED_SHA1: &str = "sha1$$c2bdcc83f7c7234acaf549d8487f41b294a45cf7";
const UNSALTED_MD5: &str = "d5a6ebf8f445e0cf3a3df7ec35600159";
const UNSALTED_MD5_PREFIXED: &str = "md5$$d5a6ebf8f445e0cf3a3df7ec35600159";

/// 117 bytes; `LONG_SAME_72` shares only its first 72.
const LONG: &str = "correct horse battery staple, ünïcödé, correct horse battery staple, ünïcödé, \
                    correct horse battery staple, ünïcödé, ";
const LONG_SAME_72: &str = "correct horse battery staple, ünïcödé, correct horse battery staple, \
                            ünïcödsomething else entirely after byte 72";
const BCRYPT_LONG: &str = "bcrypt$$2b$04$c2CczsDxsMZ6m7Xi.JpIz.jqwE9bwpM8wxMHx7arzztfze71.RU.e";
const BCRYPT_SHA256_LONG: &str = "bcrypt_sha256$$2b$04$siEh0TUK.pq998p2sBDaLOhIyjAXTzwLpB.fc8aFMkGLXCzbq4ZMG";

/// Every format but the slow PBKDF2, for the password `PW`.
const FAST: [&str; 14] = [
    PBKDF2_SHA256_1000,
    PBKDF2_SHA256_999,
    PBKDF2_SHA1_1000,
    ARGON2ID,
    ARGON2I,
    ARGON2I_V16_NO_VERSION,
    BCRYPT_SHA256,
    BCRYPT,
    SCRYPT,
    SHA1,
    MD5,
    UNSALTED_SHA1,
    UNSALTED_MD5,
    UNSALTED_MD5_PREFIXED,
];

const WRONG: [&str; 5] = [
    "pw-sésame ü 43",
    // The same without its accent, and in another normal form: Django hashed
    // the bytes it was given.
    "pw-sesame ü 42",
    "pw-se\u{301}same ü 42",
    "",
    "pw-sésame ü 42 ",
];

#[test]
fn every_django_format_verifies_its_password_only() {
    for stored in FAST {
        assert!(verifiable(stored), "{stored}");
        assert!(verify(PW, stored), "{stored}");
        for wrong in WRONG {
            assert!(!verify(wrong, stored), "{wrong:?} against {stored}");
        }
    }
}

#[test]
fn djangos_default_pbkdf2_verifies() {
    assert!(verifiable(PBKDF2_SHA256_600000));
    assert!(verify(PW, PBKDF2_SHA256_600000));
    assert!(!verify(WRONG[0], PBKDF2_SHA256_600000));
}

#[test]
fn bcrypt_reads_72_bytes_and_bcrypt_sha256_all_of_them() {
    assert!(LONG.len() > 72 && LONG.as_bytes()[..72] == LONG_SAME_72.as_bytes()[..72]);
    assert!(verify(LONG, BCRYPT_LONG));
    assert!(verify(LONG_SAME_72, BCRYPT_LONG));
    assert!(!verify(&LONG[1..], BCRYPT_LONG));
    assert!(verify(LONG, BCRYPT_SHA256_LONG));
    assert!(!verify(LONG_SAME_72, BCRYPT_SHA256_LONG));
}

#[test]
fn bcrypts_other_prefixes_are_written_back_as_they_were() {
    // Python's `bcrypt.hashpw` computes `$2a$`, `$2x$` and `$2y$` as `$2b$`.
    for prefix in ["$2a$", "$2x$", "$2y$"] {
        assert!(verify(PW, &BCRYPT.replace("$2b$", prefix)), "{prefix}");
    }
    assert!(!verify(PW, &BCRYPT.replace("$2b$", "$2c$")));
    assert!(!verify(PW, &BCRYPT.replace("$2b$", "$2$")));
}

#[test]
fn unusable_unknown_and_truncated_values_match_nothing() {
    let others = [
        "",
        "!",
        "!xJ3kQmOk0zVHsdVyEp6qCJvqZqBBGo0aH5dqMuAp",
        // Django's unusable marker, even when it looks like a bare MD5.
        "!5a6ebf8f445e0cf3a3df7ec35600159",
        "crypt$$abc",
        "crypt$ab$abN0vhS9wXLU.",
        "not a hash",
        "$",
        "$$$$",
        "unsalted_md5$d5a6ebf8f445e0cf3a3df7ec35600159",
        "D5A6EBF8F445E0CF3A3DF7EC35600159",
        "$argon2id$v=19$m=1024,t=2,p=8$S1ZGUVo5VlJDQ1BIdVBlZXZiTHdTRg$wSDvI9raXyGxmVwkyArl+fvYTpRbEqeNHBOnEnMWPXk",
    ];
    for stored in others {
        assert!(!verifiable(stored), "{stored:?}");
        assert!(!verify(PW, stored) && !verify("", stored), "{stored:?}");
    }
    // Every value cut short, and with something after it.
    for stored in FAST {
        for end in 0..stored.len() {
            assert!(!verify(PW, &stored[..end]), "{}", &stored[..end]);
        }
        assert!(!verify(PW, &format!("{stored}$")), "{stored}$");
        assert!(!verify(PW, &format!("{stored}A")), "{stored}A");
    }
}

#[test]
fn values_django_would_not_write_back_match_nothing() {
    let altered = [
        // Numbers spelt otherwise than `%d`, or not numbers.
        PBKDF2_SHA256_1000.replace("$1000$", "$01000$"),
        PBKDF2_SHA256_1000.replace("$1000$", "$+1000$"),
        PBKDF2_SHA256_1000.replace("$1000$", "$1e3$"),
        PBKDF2_SHA256_1000.replace("$1000$", "$ 1000$"),
        PBKDF2_SHA256_1000.replace("$1000$", "$$"),
        PBKDF2_SHA256_1000.replace("$1000$", "$0$"),
        PBKDF2_SHA256_1000.replace("$1000$", "$-1000$"),
        SCRYPT.replace("$1024$", "$01024$"),
        SCRYPT.replace("$4$2$", "$04$2$"),
        // Base64 and hex otherwise than Django writes them.
        PBKDF2_SHA256_1000.replace("SE4=", "SE4"),
        PBKDF2_SHA256_1000.replace("SE4=", "SE5="),
        PBKDF2_SHA256_1000.replace("e5Ll", "e5L*"),
        SHA1.replace("064d", "064D"),
        UNSALTED_MD5.to_uppercase(),
        ARGON2ID.replace("PXk", "PX*"),
        ARGON2ID.replace("PXk", "PXk="),
        BCRYPT.replace("$jwgt", "$jwg*"),
        // Salts Django refuses.
        "md5$$x$805ab6954c8f7fd49c0e665b7bd5b042".to_owned(),
        "sha1$$064d5f6ee0c653230504033ff486f2a850b40444x".to_owned(),
        "pbkdf2_sha256$1000$$e5Ll61ol4RLkC8i6RUIN49WiBpg8FBfNFHd8GZXdSE4=".to_owned(),
        // Parts too many or too few.
        SCRYPT.replace("$4$2$", "$4$2$2$"),
        SCRYPT.replace("$4$2$", "$4$"),
        ARGON2ID.replace("argon2$argon2id", "argon2$$argon2id"),
        ARGON2ID.replace("argon2$argon2id", "argon2argon2id"),
        ARGON2ID.replace("argon2id", "argon2x"),
        ARGON2ID.replace("v=19", "v=20"),
        ARGON2ID.replace("p=8", "p=0"),
        ARGON2ID.replace("m=1024", "m=abc"),
        BCRYPT.replace("$04$", "$4$"),
        BCRYPT.replace("$04$", "$03$"),
    ];
    for stored in altered {
        assert!(!verifiable(&stored), "{stored}");
        assert!(!verify(PW, &stored), "{stored}");
    }
}

#[test]
fn absurd_costs_are_refused_without_computing_them() {
    let absurd = [
        PBKDF2_SHA256_1000.replace("$1000$", "$10000001$"),
        PBKDF2_SHA256_1000.replace("$1000$", "$4294967297$"),
        PBKDF2_SHA256_1000.replace("$1000$", "$99999999999999999999999$"),
        PBKDF2_SHA1_1000.replace("$1000$", "$2000000000$"),
        ARGON2ID.replace("m=1024", "m=1048577"),
        ARGON2ID.replace("m=1024", "m=4294967295"),
        ARGON2ID.replace("t=2", "t=101"),
        ARGON2ID.replace("t=2", "t=4294967295"),
        ARGON2ID.replace("m=1024,t=2", "m=1048576,t=3"),
        BCRYPT.replace("$04$", "$17$"),
        BCRYPT.replace("$04$", "$31$"),
        BCRYPT_SHA256.replace("$04$", "$99$"),
        SCRYPT.replace("$1024$", "$2097152$"),
        SCRYPT.replace("$1024$", "$9223372036854775808$"),
        SCRYPT.replace("$1024$", "$1000$"),
        SCRYPT.replace("$1024$", "$1$"),
        SCRYPT.replace("$1024$", "$0$"),
        SCRYPT.replace("$4$2$", "$0$2$"),
        SCRYPT.replace("$4$2$", "$4$0$"),
        SCRYPT.replace("$4$2$", "$4294967295$2$"),
        SCRYPT.replace("$4$2$", "$4$4294967295$"),
        SCRYPT.replace("$4$2$", "$65536$65536$"),
        SCRYPT.replace("$4$2$", "$9999999999999999999$2$"),
        SCRYPT.replace("$4$2$", "$4$9999999999999999999$"),
        SCRYPT.replace("$4$2$", "$1152921504606846976$16$"),
        SCRYPT.replace("$4$2$", "$9999999999999999999$9999999999999999999$"),
        SCRYPT.replace("$1024$", "$1048576$").replace("$4$2$", "$8$1$"),
    ];
    for stored in absurd {
        let started = Instant::now();
        assert!(!verifiable(&stored), "{stored}");
        assert!(!verify(PW, &stored), "{stored}");
        assert!(started.elapsed() < Duration::from_millis(200), "{stored} was computed");
    }
}

#[test]
fn memberds_own_hashes_are_not_foreign_and_the_rest_are() {
    let ours = super::super::hash_with(&mut Vec::new(), PW).unwrap();
    assert!(!is_foreign(&ours));
    // Not Django's: an import holding one stores it as unusable.
    assert!(!verifiable(&ours) && !verifiable("!"));
    for stored in FAST
        .iter()
        .chain(&["!", "", "$argon2i$v=19$m=512,t=2,p=2$c2FsdHNhbHQ$aGFzaA"])
    {
        assert!(is_foreign(stored), "{stored}");
    }
}

#[test]
fn the_hashing_threads_verify_django_values_too() {
    let mut memory = Vec::new();
    let unpadded = Duration::ZERO;
    assert!(verify_with(&mut memory, PW, PBKDF2_SHA256_1000, unpadded).unwrap());
    assert!(verify_with(&mut memory, PW, ARGON2ID, unpadded).unwrap());
    assert!(!verify_with(&mut memory, WRONG[0], ARGON2ID, unpadded).unwrap());
    assert!(!verify_with(&mut memory, PW, "!", unpadded).unwrap());
    // Django's Argon2 is not memberd's: its memory is not kept.
    assert!(memory.is_empty());
    // A PHC string of another algorithm is a mismatch, not an error.
    assert!(
        !verify_with(
            &mut memory,
            PW,
            "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            unpadded
        )
        .unwrap()
    );
}

#[test]
fn a_check_cheaper_than_memberds_own_hash_is_padded_with_one() {
    let blocks = super::super::params().unwrap().block_count();
    // A cheap md5, and the marker that matches nothing, each cost an argon2id
    // computation (which takes the thread's memory) when argon2id costs more.
    for stored in [MD5, "!"] {
        let mut memory = Vec::new();
        verify_with(&mut memory, PW, stored, Duration::from_secs(3600)).unwrap();
        assert_eq!(memory.len(), blocks, "{stored}");
    }
    // A check that took longer already is not padded.
    let mut memory = Vec::new();
    assert!(verify_with(&mut memory, PW, MD5, Duration::ZERO).unwrap());
    assert!(memory.is_empty());
}

#[tokio::test]
async fn a_login_against_an_imported_hash_succeeds() {
    let hasher = PasswordHasher::new(1, None).unwrap();
    let verify = |password: &str, stored: &str| hasher.verify("t", password.into(), Some(stored.into()));
    assert!(verify(PW, SCRYPT).await.unwrap());
    assert!(!verify(WRONG[0], SCRYPT).await.unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_value_is_an_answer_not_a_panic(
        stored in "(pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt|bcrypt_sha256|scrypt|sha1|md5|)\\$\\PC{0,90}",
        password in "\\PC{0,80}",
    ) {
        prop_assert!(!verify(&password, &stored));
    }

    #[test]
    fn a_value_cut_anywhere_matches_nothing(index in 0..FAST.len(), end in 0usize..200) {
        let stored = FAST[index];
        let end = end.min(stored.len().saturating_sub(1));
        prop_assert!(!verify(PW, &stored[..end]));
    }
}
