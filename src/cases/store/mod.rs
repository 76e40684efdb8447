//! Queries on the case file: reports in `reports` (filed in `filing`),
//! appeals in `appeals`.

pub mod appeals;
pub mod filing;
pub mod reports;

/// A stored name read as one of the domain's enums: a name no version wrote
/// fails the read rather than reaching the rules.
macro_rules! stored {
    ($stored:ident, $domain:ty) => {
        #[derive(diesel::deserialize::FromSqlRow)]
        pub struct $stored($domain);

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $stored {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg>>::from_sql(bytes)?;
                <$domain>::parse(&text)
                    .map($stored)
                    .ok_or_else(|| format!("unknown {} {text}", stringify!($domain)).into())
            }
        }

        impl From<$stored> for $domain {
            fn from(stored: $stored) -> Self {
                stored.0
            }
        }
    };
}
pub(crate) use stored;
