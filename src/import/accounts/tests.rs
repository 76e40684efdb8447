use super::*;

fn t(day: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2024-01-{day:02}T00:00:00Z"))
        .unwrap()
        .with_timezone(&Utc)
}

fn account<'a>(pk: i64, username: &'a str, email: &'a str, day: u32) -> Account<'a> {
    Account {
        pk,
        username,
        email,
        active_at: t(day),
    }
}

#[test]
fn a_name_confusable_with_an_earlier_one_is_suffixed_and_odd_names_are_kept() {
    let accounts = [
        account(15, "Élodie", "e1@x.example", 1),
        account(16, "élodie", "e2@x.example", 2),
        account(17, "un nom d'utilisateur bien trop long pour memberd", "l@x.example", 3),
        account(18, "Jean/Paul", "j@x.example", 4),
        account(19, "alice", "a@x.example", 5),
    ];
    let mut taken = Taken::default();
    taken.skeletons.insert(confusable_key("Alice"), "Alice".into());
    let (identities, conflicts) = identities(&accounts, taken);
    assert_eq!(identities[0].username, "Élodie");
    assert_eq!(identities[1].username, "élodie-16");
    assert_eq!(identities[4].username, "alice-19");
    assert_eq!(
        conflicts
            .renamed
            .iter()
            .map(|r| (r.pk, r.confusable_with.as_str()))
            .collect::<Vec<_>>(),
        [(16, "Élodie"), (19, "Alice")]
    );
    assert_eq!(identities[2].username, accounts[2].username);
    assert_eq!(identities[3].username, "Jean/Paul");
    assert_eq!(
        conflicts.grandfathered.iter().map(|g| g.pk).collect::<Vec<_>>(),
        [17, 18]
    );
    let skeletons: HashSet<&str> = identities.iter().map(|i| i.skeleton.as_str()).collect();
    assert_eq!(skeletons.len(), identities.len());
}

#[test]
fn an_address_shared_but_for_case_goes_to_the_most_recently_active() {
    let accounts = [
        account(19, "Camille", "camille@example.com", 1),
        account(20, "camille2", "Camille@Example.COM", 9),
        account(21, "bademail", "not-an-address", 1),
        account(14, "social", "", 1),
        account(22, "taken", "Taken@example.com", 1),
        account(23, "plain", "plain@example.com", 1),
    ];
    let mut taken = Taken::default();
    taken.email_keys.insert("taken@example.com".into());
    let (identities, conflicts) = identities(&accounts, taken);
    assert_eq!(
        conflicts.shared_addresses,
        [SharedAddress {
            email: "camille@example.com".into(),
            kept_by: 20,
            others: vec![19],
        }]
    );
    assert_eq!(identities[1].email, "Camille@Example.COM");
    assert_eq!(identities[1].email_key.as_deref(), Some("camille@example.com"));
    assert_eq!(identities[5].email_key.as_deref(), Some("plain@example.com"));
    let why: Vec<(i64, NoAddress)> = conflicts.without_address.iter().map(|w| (w.pk, w.why)).collect();
    assert_eq!(
        why,
        [
            (19, NoAddress::SharedButForCase),
            (21, NoAddress::Invalid),
            (14, NoAddress::Missing),
            (22, NoAddress::TakenInMemberd),
        ]
    );
    for (identity, account) in identities.iter().zip(&accounts) {
        let kept = !identity.email.is_empty();
        assert_eq!(kept, identity.email_key.is_some(), "{}", account.username);
    }
}

#[test]
fn equally_active_sharers_leave_the_address_to_the_older_account() {
    let accounts = [account(2, "b", "x@example.com", 3), account(1, "a", "X@example.com", 3)];
    let (_, conflicts) = identities(&accounts, Taken::default());
    assert_eq!(conflicts.shared_addresses[0].kept_by, 1);
}
