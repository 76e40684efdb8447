use chrono::{TimeZone, Utc};

use super::*;

fn codes(errors: Vec<FieldError>) -> Vec<(String, String)> {
    errors
        .into_iter()
        .map(|e| (e.field.to_string(), e.code.to_string()))
        .collect()
}

#[test]
fn a_filing_is_checked_field_by_field() {
    let filing = Filing::parse(
        "spam",
        " buy now ",
        Some("forum:42"),
        Some("https://forum.example/t/42"),
    )
    .unwrap();
    assert_eq!(filing.reason, ReportReason::Spam);
    assert_eq!(filing.text, "buy now");
    assert_eq!(filing.resource.as_deref(), Some("forum:42"));
    let errors = Filing::parse("rude", " ", Some(""), Some("javascript:alert(1)")).unwrap_err();
    assert_eq!(
        codes(errors),
        [
            ("reason".into(), "invalid_choice".into()),
            ("text".into(), "required".into()),
            ("resource".into(), "invalid_length".into()),
            ("evidence_url".into(), "invalid_url".into()),
        ]
    );
    let long = "x".repeat(TEXT_MAX_CHARS + 1);
    assert_eq!(
        codes(Filing::parse("other", &long, None, None).unwrap_err()),
        [("text".into(), "too_long".into())]
    );
    assert!(Filing::parse("other", &"é".repeat(TEXT_MAX_CHARS), None, None).is_ok());
}

#[test]
fn an_actioned_report_names_its_sanction_and_a_dismissed_one_none() {
    assert!(Resolution::parse("actioned", "banned them", None, Some(3)).is_ok());
    assert!(Resolution::parse("dismissed", "nothing there", Some("thanks"), None).is_ok());
    assert_eq!(
        codes(Resolution::parse("actioned", "x", None, None).unwrap_err()),
        [("sanction_id".into(), "required".into())]
    );
    assert_eq!(
        codes(Resolution::parse("dismissed", "", Some(&"m".repeat(2001)), Some(3)).unwrap_err()),
        [
            ("note".into(), "required".into()),
            ("message".into(), "too_long".into()),
            ("sanction_id".into(), "not_allowed".into()),
        ]
    );
}

#[test]
fn only_a_reduction_carries_a_duration() {
    let reduced = Decision::parse("reduced", "fair", Some("1d")).unwrap();
    assert_eq!(reduced.duration.map(|d| d.as_secs()), Some(86_400));
    assert!(Decision::parse("upheld", "stands", None).unwrap().duration.is_none());
    assert_eq!(
        codes(Decision::parse("reduced", "x", None).unwrap_err()),
        [("duration".into(), "required".into())]
    );
    assert_eq!(
        codes(Decision::parse("forgiven", "x", Some("1d")).unwrap_err()),
        [("duration".into(), "not_allowed".into())]
    );
    assert_eq!(
        codes(Decision::parse("reduced", "x", Some("0s")).unwrap_err()),
        [("duration".into(), "invalid".into())]
    );
    assert_eq!(
        codes(Decision::parse("pardoned", " ", None).unwrap_err()),
        [
            ("outcome".into(), "invalid_choice".into()),
            ("reason".into(), "required".into())
        ]
    );
}

#[test]
fn reporters_whose_reports_are_dismissed_are_slowed() {
    assert_eq!(reports_per_hour(10, 0, 0), 10);
    assert_eq!(reports_per_hour(10, 0, 2), 10);
    assert_eq!(reports_per_hour(10, 0, 3), 5);
    assert_eq!(reports_per_hour(10, 5, 7), 10, "founded reports offset dismissed ones");
    assert_eq!(reports_per_hour(10, 0, 6), 2);
    assert_eq!(reports_per_hour(10, 0, 9), 1);
    assert_eq!(reports_per_hour(10, 0, i32::MAX), 1);
    assert_eq!(reports_per_hour(10, i32::MAX, 0), 10);
    assert_eq!(reports_per_hour(1_000, 0, 6), 250);
    assert_eq!(reports_per_hour(u32::MAX, 0, 0), i32::MAX);
}

#[test]
fn nobody_reports_themselves_or_a_bot() {
    assert_eq!(may_report(1, 1, false), Err(CaseError::ReportSelf));
    assert_eq!(may_report(1, 2, true), Err(CaseError::ReportBot));
    assert_eq!(may_report(1, 2, false), Ok(()));
}

#[test]
fn one_holder_at_a_time_unless_a_superuser_takes_over() {
    let held = Hold {
        state: ReportState::Claimed,
        assignee: Some(7),
    };
    assert_eq!(held.may_take(7, false), Ok(()));
    assert_eq!(held.may_take(8, false), Err(CaseError::ReportClaimed));
    assert_eq!(held.may_take(8, true), Ok(()));
    assert_eq!(held.may_release(8, false), Err(CaseError::ReportClaimed));
    let open = Hold {
        state: ReportState::Open,
        assignee: None,
    };
    assert_eq!(open.may_take(8, false), Ok(()));
    let closed = Hold {
        state: ReportState::Dismissed,
        assignee: Some(7),
    };
    assert_eq!(closed.may_take(7, true), Err(CaseError::ReportClosed));
}

#[test]
fn an_appeal_comes_once_within_the_window_and_never_of_a_lift() {
    let created_at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let window = Duration::parse("30d").unwrap();
    let appealable = Appealable {
        created_at,
        is_lift: false,
        state: State::Active,
        appealed: false,
    };
    let day = chrono::Duration::days(1);
    assert_eq!(appealable.check(created_at + day * 29, window), Ok(()));
    assert_eq!(
        appealable.check(created_at + day * 30, window),
        Err(CaseError::AppealWindowClosed)
    );
    let expired = Appealable {
        state: State::Expired,
        ..appealable
    };
    assert_eq!(
        expired.check(created_at + day, window),
        Ok(()),
        "a served sanction may still be appealed"
    );
    for (changed, error) in [
        (
            Appealable {
                appealed: true,
                ..appealable
            },
            CaseError::AlreadyAppealed,
        ),
        (
            Appealable {
                is_lift: true,
                ..appealable
            },
            CaseError::AppealOfLift,
        ),
        (
            Appealable {
                state: State::Reverted,
                ..appealable
            },
            CaseError::SanctionReverted,
        ),
    ] {
        assert_eq!(changed.check(created_at + day, window), Err(error));
    }
}

#[test]
fn the_moderator_who_gave_a_sanction_does_not_decide_its_appeal() {
    assert_eq!(may_decide(2, 1, false), Ok(()));
    assert_eq!(may_decide(1, 1, false), Err(CaseError::OwnSanction));
    assert_eq!(may_decide(2, 1, true), Err(CaseError::AppealDecided));
}
