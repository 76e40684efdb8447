use super::*;
use crate::sanctions::model::State;

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn row(pk: i64, label: &str, at: &str) -> Row {
    Row {
        ban: Ban {
            pk,
            user: 1,
            moderator: Some(100 + pk),
            label: label.into(),
            note: format!("note {pk}"),
            at: Some(t(at)),
        },
        label: parse_label(label).unwrap(),
        at: t(at),
    }
}

const AS_OF: &str = "2025-06-01T00:00:00Z";

/// The rebuilt sanctions, scheduled by memberd's own queue model.
fn states(rebuilt: &[Rebuilt], at: &str) -> Vec<State> {
    let history = history(rebuilt);
    history
        .entries()
        .iter()
        .zip(history.schedule())
        .map(|(e, s)| e.state(&s, t(at)))
        .collect()
}

#[test]
fn every_label_zeste_de_savoir_writes_is_read_and_no_other() {
    use Restriction::{Ban, ReadOnly};
    let cases = [
        ("Lecture seule illimitée", Label::Impose(ReadOnly, Length::Permanent)),
        (
            "Lecture seule temporaire (1 jour)",
            Label::Impose(ReadOnly, Length::Days(1)),
        ),
        (
            "Lecture seule temporaire (15 jours)",
            Label::Impose(ReadOnly, Length::Days(15)),
        ),
        ("Levée de la lecture seule", Label::Lift(ReadOnly)),
        ("Bannissement illimité", Label::Impose(Ban, Length::Permanent)),
        ("Bannissement temporaire (7 jours)", Label::Impose(Ban, Length::Days(7))),
        ("Levée du bannissement", Label::Lift(Ban)),
        ("Lecture Seule", Label::Impose(ReadOnly, Length::Permanent)),
        ("Lecture Seule Temporaire", Label::Impose(ReadOnly, Length::Unknown)),
        ("Autorisation d'écrire", Label::Lift(ReadOnly)),
        ("Autorisation d’écrire", Label::Lift(ReadOnly)),
        ("Ban définitif", Label::Impose(Ban, Length::Permanent)),
        ("Ban Temporaire", Label::Impose(Ban, Length::Unknown)),
        ("Autorisation de se connecter", Label::Lift(Ban)),
    ];
    for (label, expected) in cases {
        assert_eq!(parse_label(label), Some(expected), "{label}");
    }
    for unknown in [
        "Avertissement",
        "",
        "Bannissement temporaire",
        "Bannissement temporaire (0 jours)",
        "Bannissement temporaire (2 jour)",
        "Bannissement temporaire (1 jours)",
        "Bannissement temporaire (x jours)",
        "lecture seule illimitée",
        "Lecture seule illimitée ",
    ] {
        assert_eq!(parse_label(unknown), None, "{unknown:?}");
    }
}

#[test]
fn a_sanction_of_a_kind_replaces_the_running_one_and_nothing_queues() {
    let rows = [
        row(1, "Bannissement temporaire (7 jours)", "2022-06-01T10:00:00Z"),
        row(2, "Bannissement illimité", "2022-06-03T10:00:00Z"),
    ];
    let flag = Flag {
        allowed: false,
        end: None,
    };
    let rebuilt = rebuild(Restriction::Ban, &rows, flag, t(AS_OF));
    assert_eq!(rebuilt.len(), 2);
    let (kind, at, by, _) = rebuilt[0].ending.clone().unwrap();
    assert_eq!(
        (kind, at, by),
        (EndingKind::Replaced, t("2022-06-03T10:00:00Z"), EndedBy::Row(Some(102)))
    );
    assert_eq!(rebuilt[1].duration, None);
    assert_eq!(states(&rebuilt, "2022-06-02T00:00:00Z"), [State::Active, State::Queued]);
    assert_eq!(
        states(&rebuilt, "2024-01-01T00:00:00Z"),
        [State::Replaced, State::Active]
    );
}

#[test]
fn a_lift_ends_what_runs_and_a_sanction_over_before_the_next_row_keeps_its_days() {
    let rows = [
        row(1, "Lecture seule temporaire (1 jour)", "2022-01-01T10:00:00Z"),
        row(2, "Lecture seule temporaire (15 jours)", "2022-02-01T10:00:00Z"),
        row(3, "Levée de la lecture seule", "2022-02-03T10:00:00Z"),
    ];
    let rebuilt = rebuild(
        Restriction::ReadOnly,
        &rows,
        Flag {
            allowed: true,
            end: None,
        },
        t(AS_OF),
    );
    assert_eq!(rebuilt[0].ending, None);
    assert_eq!(rebuilt[0].duration, days(1));
    let (kind, at, _, reason) = rebuilt[1].ending.clone().unwrap();
    assert_eq!(
        (kind, at, reason.as_str()),
        (EndingKind::Lifted, t("2022-02-03T10:00:00Z"), "note 3")
    );
    assert_eq!(rebuilt[2].action, Action::Lift(Restriction::ReadOnly));
    assert_eq!(
        states(&rebuilt, "2024-01-01T00:00:00Z"),
        [State::Expired, State::Lifted, State::Expired]
    );
}

#[test]
fn the_latest_sanction_ends_at_the_profiles_end_whatever_its_label_says() {
    let rows = [row(1, "Lecture seule temporaire (15 jours)", "2024-05-01T08:00:00Z")];
    let running = Flag {
        allowed: false,
        end: Some(t("2099-01-01T00:00:00Z")),
    };
    let rebuilt = rebuild(Restriction::ReadOnly, &rows, running, t(AS_OF));
    assert_eq!(rebuilt.len(), 1);
    assert_eq!(states(&rebuilt, "2030-01-01T00:00:00Z"), [State::Active]);
    assert_eq!(states(&rebuilt, "2099-01-01T00:00:01Z"), [State::Expired]);

    // Zeste de Savoir never resets the flag: an end in the past is over.
    let over = Flag {
        allowed: false,
        end: Some(t("2021-03-02T10:00:00Z")),
    };
    let rows = [row(1, "Lecture seule temporaire (1 jour)", "2021-03-01T10:00:00Z")];
    let rebuilt = rebuild(Restriction::ReadOnly, &rows, over, t(AS_OF));
    assert_eq!(rebuilt[0].duration, days(1));
    assert_eq!(states(&rebuilt, AS_OF), [State::Expired]);

    // An old label without days ends where the profile says.
    let rows = [row(1, "Ban Temporaire", "2019-07-01T10:00:00Z")];
    let ended = Flag {
        allowed: true,
        end: Some(t("2019-07-08T10:00:00Z")),
    };
    let rebuilt = rebuild(Restriction::Ban, &rows, ended, t(AS_OF));
    assert_eq!(rebuilt[0].duration, days(7));
}

#[test]
fn a_permanent_sanction_the_profile_no_longer_holds_is_ended_at_the_import() {
    let rows = [row(1, "Lecture seule illimitée", "2023-01-10T09:00:00Z")];
    let rebuilt = rebuild(
        Restriction::ReadOnly,
        &rows,
        Flag {
            allowed: true,
            end: None,
        },
        t(AS_OF),
    );
    let (kind, at, by, _) = rebuilt[0].ending.clone().unwrap();
    assert_eq!((kind, at, by), (EndingKind::Lifted, t(AS_OF), EndedBy::Import));
    assert_eq!(states(&rebuilt, "2025-06-01T00:00:01Z"), [State::Lifted]);
}

#[test]
fn a_standing_without_a_row_to_explain_it_is_carried_over() {
    let permanent = rebuild(
        Restriction::Ban,
        &[],
        Flag {
            allowed: false,
            end: None,
        },
        t(AS_OF),
    );
    assert_eq!(permanent.len(), 1);
    assert_eq!((permanent[0].pk, permanent[0].duration), (None, None));
    assert_eq!(states(&permanent, "2030-01-01T00:00:00Z"), [State::Active]);

    let rows = [
        row(1, "Bannissement illimité", "2022-01-01T10:00:00Z"),
        row(2, "Levée du bannissement", "2022-01-03T10:00:00Z"),
    ];
    let until = Flag {
        allowed: false,
        end: Some(t("2099-01-01T00:00:00Z")),
    };
    let rebuilt = rebuild(Restriction::Ban, &rows, until, t(AS_OF));
    assert_eq!(rebuilt.len(), 3);
    assert_eq!(
        states(&rebuilt, "2030-01-01T00:00:00Z"),
        [State::Lifted, State::Expired, State::Active]
    );
    assert_eq!(states(&rebuilt, "2099-01-01T00:00:00Z")[2], State::Expired);

    // Free, or restricted until an end already past: nothing to carry.
    assert!(
        rebuild(
            Restriction::Ban,
            &[],
            Flag {
                allowed: true,
                end: None
            },
            t(AS_OF)
        )
        .is_empty()
    );
    let past = Flag {
        allowed: false,
        end: Some(t("2020-01-01T00:00:00Z")),
    };
    assert!(rebuild(Restriction::Ban, &[], past, t(AS_OF)).is_empty());
}

mod standing {
    use super::*;
    use proptest::prelude::*;

    const LABELS: [&str; 6] = [
        "Lecture seule illimitée",
        "Lecture seule temporaire (1 jour)",
        "Lecture seule temporaire (15 jours)",
        "Levée de la lecture seule",
        "Lecture Seule Temporaire",
        "Autorisation d'écrire",
    ];

    fn instant(hours: i64) -> DateTime<Utc> {
        t("2020-01-01T00:00:00Z") + chrono::Duration::hours(hours)
    }

    proptest! {
        /// Whatever the rows and the flag, the rebuilt history restricts the
        /// member at any instant after the dump exactly when Zeste de
        /// Savoir's `can_write_now()` would say no.
        #[test]
        fn the_rebuilt_history_never_contradicts_the_profile(
            rows in proptest::collection::vec((0usize..LABELS.len(), 0i64..2_000), 0..6),
            allowed in any::<bool>(),
            end in proptest::option::of(0i64..4_000),
            later in 1i64..4_000,
        ) {
            let mut rows: Vec<Row> = rows
                .iter()
                .enumerate()
                .map(|(pk, (label, hours))| {
                    let mut r = row(pk as i64, LABELS[*label], "2020-01-01T00:00:00Z");
                    r.at = instant(*hours);
                    r
                })
                .collect();
            rows.sort_by_key(|r| (r.at, r.ban.pk));
            let as_of = instant(2_000);
            let flag = Flag { allowed, end: end.map(instant) };
            let rebuilt = rebuild(Restriction::ReadOnly, &rows, flag, as_of);
            let now = as_of + chrono::Duration::hours(later) + chrono::Duration::minutes(30);
            let zds_can_write = flag.allowed || flag.end.is_some_and(|end| end < now);
            let running = states(&rebuilt, &now.to_rfc3339()).contains(&State::Active);
            prop_assert_eq!(running, !zds_can_write);
            prop_assert!(!states(&rebuilt, &now.to_rfc3339()).contains(&State::Queued));
        }
    }
}
