use super::*;

fn account<'a>(pk: i64, username: &'a str, email: &'a str) -> Account<'a> {
    Account {
        pk,
        username,
        key: confusable_key(username),
        email,
        without_address: None,
    }
}

#[test]
fn a_name_confusable_with_an_earlier_one_is_suffixed_and_odd_names_are_kept() {
    let accounts = [
        account(15, "Élodie", "e1@x.example"),
        account(16, "élodie", "e2@x.example"),
        account(17, "un nom d'utilisateur bien trop long pour memberd", "l@x.example"),
        account(18, "Jean/Paul", "j@x.example"),
        account(19, "alice", "a@x.example"),
    ];
    let mut taken = Taken::new();
    taken.insert(confusable_key("Alice"), "Alice".into());
    let mut conflicts = AccountConflicts::default();
    let identities = identities(&accounts, &mut taken, &mut conflicts);
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
    // Every name taken is known to the next batch, suffixed or not.
    assert_eq!(taken.len(), 6);
    assert!(identities.iter().all(|i| taken.get(&i.skeleton) == Some(&i.username)));
}

#[test]
fn a_name_taken_with_its_first_suffixes_takes_the_next() {
    let mut taken = Taken::new();
    for name in ["bob", "bob-7", "bob-7-2"] {
        taken.insert(confusable_key(name), name.into());
    }
    let mut conflicts = AccountConflicts::default();
    let identities = identities(&[account(7, "Bob", "b@x.example")], &mut taken, &mut conflicts);
    assert_eq!(identities[0].username, "Bob-7-3");
    // The keys looked up beforehand cover every name tried.
    let mut known = Taken::new();
    known.insert(confusable_key("bob"), "bob".into());
    let keys = contested_keys(&[account(7, "Bob", "b@x.example"), account(8, "carol", "")], &known);
    assert!(
        ["bob-7", "bob-7-2", "Bob-7-3"]
            .iter()
            .all(|n| keys.contains(&confusable_key(n)))
    );
    assert!(!keys.iter().any(|k| k.contains("carol")));
    // Within a batch, the second of two confusable names is contested too.
    let keys = contested_keys(&[account(1, "Dan", ""), account(2, "dan", "")], &Taken::new());
    assert_eq!(keys[0], confusable_key("dan-2"));
}

#[test]
fn an_account_without_its_address_is_listed_and_keeps_no_key() {
    let mut kept = account(20, "camille2", "Camille@Example.COM");
    let mut other = account(19, "Camille", "camille@example.com");
    other.without_address = Some(NoAddress::SharedButForCase);
    kept.without_address = None;
    let mut conflicts = AccountConflicts::default();
    let identities = identities(&[other, kept], &mut Taken::new(), &mut conflicts);
    assert_eq!(
        (identities[0].email.as_str(), identities[0].email_key.as_deref()),
        ("", None)
    );
    assert_eq!(identities[1].email, "Camille@Example.COM");
    assert_eq!(identities[1].email_key.as_deref(), Some("camille@example.com"));
    assert_eq!(
        conflicts.without_address,
        [WithoutAddress {
            pk: 19,
            username: "Camille".into(),
            email: "camille@example.com".into(),
            why: NoAddress::SharedButForCase,
        }]
    );
}
