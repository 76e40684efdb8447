use super::*;

fn codes(result: Result<Username, Vec<FieldError>>) -> Vec<String> {
    result
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.code.to_string())
        .collect()
}

#[test]
fn accepts_ordinary_names_in_any_script() {
    for name in ["alice", "Bob_42", "Zoé", "Jean-Luc Picard", "Дмитрий", "山田", "a"] {
        assert!(Username::parse(name).is_ok(), "{name} should be accepted");
    }
}

#[test]
fn refuses_each_forbidden_shape_with_its_code() {
    assert_eq!(codes(Username::parse("")), ["required"]);
    assert_eq!(codes(Username::parse(&"x".repeat(31))), ["too_long"]);
    assert!(Username::parse(&"é".repeat(30)).is_ok());
    assert_eq!(codes(Username::parse(" alice")), ["surrounding_space"]);
    assert_eq!(codes(Username::parse("alice ")), ["surrounding_space"]);
    assert_eq!(codes(Username::parse("a,b")), ["contains_comma"]);
    assert_eq!(codes(Username::parse("a/b")), ["contains_slash"]);
    assert_eq!(codes(Username::parse("a@b")), ["contains_at_sign"]);
    assert_eq!(codes(Username::parse("a\u{7}b")), ["contains_control_character"]);
    assert_eq!(codes(Username::parse("a\u{200b}b")), ["contains_control_character"]);
    assert_eq!(codes(Username::parse("a\u{202e}b")), ["contains_control_character"]);
    assert_eq!(codes(Username::parse("party🎉")), ["contains_emoji"]);
    assert_eq!(codes(Username::parse("a,b/c")), ["contains_comma", "contains_slash"]);
    // What a path would read as an id or as the caller.
    assert_eq!(codes(Username::parse("42")), ["numeric"]);
    assert_eq!(codes(Username::parse("-7")), ["numeric"]);
    assert_eq!(codes(Username::parse("me")), ["reserved"]);
    assert_eq!(codes(Username::parse("Me")), ["reserved"]);
    assert!(Username::parse("+42").is_ok());
    assert!(Username::parse("meg").is_ok());
    // A number of any length, so that the document's pattern can say it.
    assert_eq!(codes(Username::parse("99999999999999999999")), ["numeric"]);
    assert!(Username::parse("-").is_ok());
    // Thirty characters as sent as well as after NFC: the document counts the first.
    assert_eq!(codes(Username::parse(&"e\u{301}".repeat(16))), ["too_long"]);
}

#[test]
fn normalises_to_nfc() {
    let decomposed = Username::parse("Zoe\u{301}").map(|u| u.as_str().to_string());
    assert_eq!(decomposed, Ok("Zoé".to_string()));
}

#[test]
fn confusable_names_share_a_key() {
    assert_eq!(confusable_key("alice"), confusable_key("ALICE"));
    assert_eq!(confusable_key("paypal"), confusable_key("pаypаl")); // Cyrillic а
    assert_eq!(confusable_key("rnodern"), confusable_key("modern"));
    assert_eq!(confusable_key("l1"), confusable_key("Il"));
    assert_eq!(confusable_key("g00gle"), confusable_key("Google"));
    assert_ne!(confusable_key("alice"), confusable_key("alicia"));
}

#[test]
fn e_mail_syntax() {
    for good in [
        "a@example.com",
        "Bob.Smith+tag@Mail.Example.org",
        "x_y@sub.example.co.uk",
        "o'brien!#$%&*/=?^`{|}~-@xn--bcher-kva.example",
        "a@0-0.b",
    ] {
        assert!(Email::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "plain",
        "a@",
        "@example.com",
        "a@localhost",
        "a b@example.com",
        "a@[127.0.0.1]",
        "a@@example.com",
        " a@example.com",
        "a@example.com ",
        "a@example.com\n",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "\"a b\"@example.com",
        "é@example.com",
        "a@bücher.example",
        "a@example.com.",
        "a@-a.example",
        "a@a-.example",
        "a@example..com",
        "a@example.c_m",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad}");
    }
    let label = "a".repeat(63);
    assert!(Email::parse(&format!("a@{label}.example")).is_ok());
    assert!(Email::parse(&format!("a@a{label}.example")).is_err());
    let long = format!("{}@example.com", "a".repeat(250));
    assert_eq!(
        Email::parse(&long).map_err(|e| e.code.to_string()),
        Err("too_long".to_string())
    );
    let email = Email::parse("Bob@Mail.Example.ORG").unwrap();
    assert_eq!(email.key(), "bob@mail.example.org");
    assert_eq!(email.domain(), "mail.example.org");
}

#[test]
fn forbidden_entries_are_the_domain_its_parents_and_their_wildcards() {
    assert_eq!(
        forbidden_entries_matching("a.example.com"),
        ["a.example.com", "example.com", "com", "a.example.*", "example.*"]
    );
    assert_eq!(forbidden_entries_matching("localhost"), ["localhost"]);
}

#[test]
fn password_rules() {
    let codes = |p: &str, c: &str| -> Vec<String> {
        check_password(p, c, "alice", "alice@example.com")
            .into_iter()
            .map(|e| e.code.to_string())
            .collect()
    };
    assert!(codes("correct horse battery", "correct horse battery").is_empty());
    assert_eq!(codes("short", "short"), ["too_short"]);
    assert_eq!(codes(&"x".repeat(257), &"x".repeat(257)), ["too_long"]);
    assert_eq!(codes("password123", "password123"), ["too_common"]);
    assert_eq!(codes("ALICE@example.com", "ALICE@example.com"), ["same_as_email"]);
    assert_eq!(codes("correct horse battery", "correct horse batter"), ["mismatch"]);
    let same_as_name: Vec<String> = check_password("Aliceinwonder", "Aliceinwonder", "aliceinwonder", "a@example.com")
        .into_iter()
        .map(|e| e.code.to_string())
        .collect();
    assert_eq!(same_as_name, ["same_as_username"]);
}

#[test]
fn registration_reports_every_field_together() {
    let check = check_registration("a,b", "nope", "short", "other");
    let fields: Vec<&str> = check.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["username", "email", "password", "password_confirmation"]);
    assert!(check.username.is_none() && check.email.is_none());
}

#[test]
fn gravatar_uses_sha256_of_the_normalised_address() {
    // SHA-256 of "alice@example.com".
    let expected = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";
    assert_eq!(
        gravatar_url(" Alice@Example.COM ", 80),
        format!("https://www.gravatar.com/avatar/{expected}?d=identicon&s=80")
    );
}

#[test]
fn profile_changes_are_checked_together() {
    let changes = ProfileChanges {
        biography: Some("b".repeat(2_001)),
        signature: Some("s".repeat(501)),
        website: Some("javascript:alert(1)".into()),
        // Taken as sent, as the document's pattern reads it: no trimming.
        avatar_url: Some(" https://img.example.com/a.png ".into()),
        ..Default::default()
    };
    let codes: Vec<(String, String)> = changes
        .checked()
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.code.to_string()))
        .collect();
    assert_eq!(
        codes,
        [
            ("biography".to_string(), "too_long".to_string()),
            ("signature".to_string(), "too_long".to_string()),
            ("website".to_string(), "invalid_url".to_string()),
            ("avatar_url".to_string(), "invalid_url".to_string()),
        ]
    );
    let ok = ProfileChanges {
        avatar_url: Some("https://img.example.com/a.png".into()),
        website: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(
        ok.checked().unwrap().avatar_url.as_deref(),
        Some("https://img.example.com/a.png")
    );
    assert!(ProfileChanges::default().is_empty());
}

#[test]
fn member_keys_sorts_and_searches() {
    assert_eq!(MemberKey::parse("42", None), MemberKey::Id(42));
    assert_eq!(MemberKey::parse("me", Some(7)), MemberKey::Id(7));
    assert_eq!(MemberKey::parse("42", Some(7)), MemberKey::Id(42));
    assert_eq!(MemberKey::parse("me", None), MemberKey::Username("me".into()));
    assert_eq!(MemberKey::parse("alice", None), MemberKey::Username("alice".into()));
    assert_eq!(MemberKey::parse("+42", None), MemberKey::Username("+42".into()));
    assert_eq!(
        MemberKey::parse("99999999999999999999", None),
        MemberKey::Username("99999999999999999999".into())
    );
    assert_eq!(
        DirectorySort::parse(Some("-date_joined")),
        Ok(DirectorySort::DateJoinedDesc)
    );
    assert!(DirectorySort::parse(Some("karma")).is_err());
    assert_eq!(directory_prefix(Some("  ")), Ok(None));
    assert_eq!(directory_prefix(Some("AL")), Ok(Some("al".into())));
}

#[test]
fn locale_from_accept_language() {
    assert_eq!(Locale::from_accept_language(None), Locale::En);
    assert_eq!(
        Locale::from_accept_language(Some("fr-CA,fr;q=0.9,en;q=0.8")),
        Locale::Fr
    );
    assert_eq!(Locale::from_accept_language(Some("de, en;q=0.5, fr;q=0.7")), Locale::Fr);
    assert_eq!(Locale::from_accept_language(Some("de")), Locale::En);
    assert_eq!(Locale::from_accept_language(Some("fr;q=0")), Locale::En);
}

#[test]
fn a_walk_starts_empty_and_resumes_where_its_cursor_says() {
    assert_eq!(WalkCursor::parse(""), Ok(WalkCursor(0)));
    assert_eq!(WalkCursor::parse(&WalkCursor(42).to_text()), Ok(WalkCursor(42)));
    // Past the last id there is nothing: the walk is over, not refused.
    assert_eq!(WalkCursor::parse("ffffffffffffffff"), Ok(WalkCursor(i64::MAX)));
    for refused in ["2a", "000000000000002A", "+00000000000002a", "00000000000000002a"] {
        assert!(WalkCursor::parse(refused).is_err(), "{refused}");
    }
}

proptest::proptest! {
    /// The username pattern, read with lookarounds as JavaScript and Python
    /// read them, refuses exactly what the parser does on text made of the
    /// characters its rules are about (emoji, invisible and unassigned
    /// characters are the description's, not the pattern's).
    #[test]
    fn the_username_pattern_is_the_parser(
        text in "[aeEmM09+,/@ \t\u{85}\u{a0}\u{3000}\u{1}\u{7f}\u{9f}é-]{0,6}"
    ) {
        let pattern = fancy_regex::Regex::new(&username_pattern()).unwrap();
        proptest::prop_assert_eq!(pattern.is_match(&text).unwrap(), Username::parse(&text).is_ok());
    }

    /// The document's pattern and the parser agree on every text.
    #[test]
    fn the_cursor_pattern_is_the_parser(text in "[0-9a-fA-F+ -]{0,18}") {
        let pattern = regex::Regex::new(WalkCursor::PATTERN).unwrap();
        proptest::prop_assert_eq!(pattern.is_match(&text), WalkCursor::parse(&text).is_ok());
    }

    #[test]
    fn every_cursor_reads_back(id in 0..i64::MAX) {
        proptest::prop_assert_eq!(WalkCursor::parse(&WalkCursor(id).to_text()), Ok(WalkCursor(id)));
    }
}
