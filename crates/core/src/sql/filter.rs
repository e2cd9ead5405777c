//! Translation of a typed SCIM filter into a SQL condition.
//!
//! The output is plain SQL that SQLite and PostgreSQL both accept (`$N`
//! placeholders, `LIKE … ESCAPE`, `EXISTS`), so the two backends evaluate
//! filters identically. Case-insensitive attributes are matched against
//! `_ci` shadow columns that hold the value lower-cased by Rust at write
//! time, so case folding never depends on a database's collation.
//!
//! Every comparison is written to be two-valued (never SQL `NULL`), so that
//! `not` means exactly what the in-memory evaluator means by it.

use scimitar_proto::ScimError;
use scimitar_proto::filter::{CompValue, CompareOp, Filter};
use scimitar_proto::schema::{Origin, ResolvedAttr};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// Which table a filter runs against. The main query aliases it `r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
}

impl Resource {
    /// The table its rows are in.
    pub fn table(self) -> &'static str {
        match self {
            Resource::User => "users",
            Resource::Group => "groups",
        }
    }

    /// What it is called: in `resource_counts`, and when one is not found.
    pub fn name(self) -> &'static str {
        match self {
            Resource::User => "user",
            Resource::Group => "group",
        }
    }
}

/// How a SCIM attribute is stored.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A text column; `ci` when it holds a lower-cased shadow value.
    Text { col: &'static str, ci: bool },
    /// An integer column holding microseconds since the epoch.
    Time(&'static str),
    /// A boolean column, NULL when unassigned (1 or 0 on SQLite, which
    /// reads `TRUE` and `FALSE` as those).
    Flag(&'static str),
    /// A value every stored resource has, such as `emails.type` = `work`;
    /// `guard` is the condition under which the element exists at all.
    Constant {
        value: Const,
        guard: Option<&'static str>,
    },
    /// One element per membership row: evaluated inside `EXISTS`.
    Membership(Link),
}

#[derive(Debug, Clone, Copy)]
enum Const {
    Text(&'static str),
    Bool(bool),
}

/// A multi-valued attribute backed by the membership table.
#[derive(Debug, Clone, Copy)]
enum Link {
    /// `Group.members`: rows of `memberships m` joined to their user `mu`.
    Members,
    /// `User.groups`: rows of `memberships m` joined to their group `mg`.
    Groups,
}

impl Link {
    fn exists_prefix(self) -> &'static str {
        match self {
            Link::Members => {
                "EXISTS (SELECT 1 FROM memberships m JOIN users mu ON mu.id = m.user_id \
                 WHERE m.group_id = r.id AND "
            }
            Link::Groups => {
                "EXISTS (SELECT 1 FROM memberships m JOIN groups mg ON mg.id = m.group_id \
                 WHERE m.user_id = r.id AND "
            }
        }
    }

    /// The column of one element's sub-attribute.
    fn element(self, sub: &str) -> Option<Target> {
        let text = |col, ci| Some(Target::Text { col, ci });
        match (self, sub) {
            (Link::Members, "value") => text("m.user_id", false),
            (Link::Members, "display") => text("mu.display_name_ci", true),
            (Link::Members, "type") => Some(Target::Constant {
                value: Const::Text("User"),
                guard: None,
            }),
            (Link::Groups, "value") => text("m.group_id", false),
            (Link::Groups, "display") => text("mg.display_name_ci", true),
            (Link::Groups, "type") => Some(Target::Constant {
                value: Const::Text("direct"),
                guard: None,
            }),
            _ => None,
        }
    }
}

/// A SQL condition with its bind values, numbered from a given placeholder.
#[derive(Debug, Default)]
pub struct Condition {
    pub sql: String,
    pub binds: Vec<Bind>,
    next: usize,
}

/// Translates `filter` (no filter: every row) for `resource`; placeholders
/// start at `$first`.
pub fn translate(
    resource: Resource,
    filter: Option<&Filter>,
    first: usize,
) -> Result<Condition, ScimError> {
    let mut out = Condition {
        next: first,
        ..Condition::default()
    };
    match filter {
        Some(f) => out.filter(resource, None, f)?,
        None => out.sql.push_str(TRUE),
    }
    Ok(out)
}

/// The column a list is sorted by, if the attribute is sortable.
pub fn sort_column(resource: Resource, attr: &ResolvedAttr) -> Option<&'static str> {
    match target(resource, attr).ok()? {
        Target::Text { col, .. } | Target::Time(col) => Some(col),
        _ => None,
    }
}

/// The attributes a filter can name, for the error that refuses another.
fn filterable(resource: Resource) -> &'static str {
    match resource {
        Resource::User => {
            "id, externalId, userName, displayName, title, active, name.formatted, \
             name.familyName, name.givenName, name.middleName, name.honorificPrefix, \
             name.honorificSuffix, emails.value, emails.type, emails.primary, \
             phoneNumbers.value, phoneNumbers.type, phoneNumbers.primary, groups.value, \
             groups.display, meta.created, meta.lastModified, meta.resourceType"
        }
        Resource::Group => {
            "id, externalId, displayName, members.value, members.display, meta.created, \
             meta.lastModified, meta.resourceType"
        }
    }
}

/// Refuses a filter on an attribute that is not stored. Answering it with
/// "no match" instead would make an identity provider that matches on it
/// conclude the user does not exist, create a duplicate and loop on 409.
fn unfilterable(resource: Resource, attr: &ResolvedAttr) -> ScimError {
    let why = if attr.is_ignored() {
        "this service does not store it"
    } else {
        "it is not stored in a form that can be searched"
    };
    let name = match attr.origin {
        Origin::IgnoredExtension(schema) => format!("{}:{}", schema.id, attr.dotted()),
        Origin::Core => attr.dotted(),
    };
    ScimError::invalid_filter(format!(
        "the attribute '{name}' cannot be used in a filter: {why}. Attributes that can be: {}",
        filterable(resource)
    ))
}

fn target(resource: Resource, attr: &ResolvedAttr) -> Result<Target, ScimError> {
    if attr.is_ignored() {
        return Err(unfilterable(resource, attr));
    }
    let text = |col, ci| Ok(Target::Text { col, ci });
    let sub = attr.sub.map(|s| s.name);
    let found = match (resource, attr.attr.name, sub) {
        (_, "id", None) => text("r.id", false),
        (_, "externalId", None) => text("r.external_id", false),
        (_, "displayName", None) => text("r.display_name_ci", true),
        (_, "meta", Some("created")) => Ok(Target::Time("r.created")),
        (_, "meta", Some("lastModified")) => Ok(Target::Time("r.last_modified")),
        (Resource::User, "meta", Some("resourceType")) => constant(Const::Text("User"), None),
        (Resource::Group, "meta", Some("resourceType")) => constant(Const::Text("Group"), None),
        (Resource::User, "userName", None) => text("r.user_name_ci", true),
        (Resource::User, "title", None) => text("r.title_ci", true),
        (Resource::User, "active", None) => Ok(Target::Flag("r.active")),
        (Resource::User, "name", Some(part)) => match part {
            "formatted" => text("r.name_formatted_ci", true),
            "familyName" => text("r.name_family_ci", true),
            "givenName" => text("r.name_given_ci", true),
            "middleName" => text("r.name_middle_ci", true),
            "honorificPrefix" => text("r.name_prefix_ci", true),
            "honorificSuffix" => text("r.name_suffix_ci", true),
            _ => Err(()),
        },
        (Resource::User, "emails", Some("value")) => text("r.email_ci", true),
        // Stored lower-cased.
        (Resource::User, "emails", Some("type")) => text("r.email_type", true),
        (Resource::User, "emails", Some("primary")) => Ok(Target::Flag("r.email_primary")),
        (Resource::User, "phoneNumbers", Some("value")) => text("r.phone", false),
        // A number stored without a type is rendered as `work`.
        (Resource::User, "phoneNumbers", Some("type")) => text(PHONE_TYPE, true),
        (Resource::User, "phoneNumbers", Some("primary")) => {
            constant(Const::Bool(true), Some("r.phone IS NOT NULL"))
        }
        (Resource::User, "groups", Some(_)) => Ok(Target::Membership(Link::Groups)),
        (Resource::Group, "members", Some(_)) => Ok(Target::Membership(Link::Members)),
        _ => Err(()),
    };
    found.map_err(|()| unfilterable(resource, attr))
}

fn constant(value: Const, guard: Option<&'static str>) -> Result<Target, ()> {
    Ok(Target::Constant { value, guard })
}

/// `phoneNumbers.type` as clients read it.
const PHONE_TYPE: &str =
    "(CASE WHEN r.phone IS NULL THEN NULL ELSE COALESCE(r.phone_type, 'work') END)";

const TRUE: &str = "(1=1)";
const FALSE: &str = "(1=0)";

impl Condition {
    fn placeholder(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        let p = format!("${}", self.next);
        self.next += 1;
        p
    }

    /// `element`: inside `EXISTS` over `link`'s rows, sub-attributes of the
    /// multi-valued attribute name that row's columns.
    fn filter(
        &mut self,
        resource: Resource,
        element: Option<Link>,
        filter: &Filter,
    ) -> Result<(), ScimError> {
        match filter {
            Filter::And(a, b) | Filter::Or(a, b) => {
                let joiner = if matches!(filter, Filter::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                self.sql.push('(');
                self.filter(resource, element, a)?;
                self.sql.push_str(joiner);
                self.filter(resource, element, b)?;
                self.sql.push(')');
            }
            Filter::Not(inner) => {
                self.sql.push_str("(NOT ");
                self.filter(resource, element, inner)?;
                self.sql.push(')');
            }
            Filter::Present(attr) => self.leaf(resource, element, attr, None)?,
            Filter::Compare(attr, op, value) => {
                self.leaf(resource, element, attr, Some((*op, value)))?
            }
            Filter::ValuePath(attr, inner) => match (resource, attr.attr.name) {
                _ if attr.is_ignored() => return Err(unfilterable(resource, attr)),
                (Resource::Group, "members") | (Resource::User, "groups") if element.is_none() => {
                    let link = if resource == Resource::Group {
                        Link::Members
                    } else {
                        Link::Groups
                    };
                    self.sql.push_str(link.exists_prefix());
                    self.filter(resource, Some(link), inner)?;
                    self.sql.push(')');
                }
                // Every other complex attribute (emails, phoneNumbers, name,
                // meta) holds at most one element, made of the resource's
                // own columns: the element filter applies to them directly,
                // where the element exists at all. A user without a name has
                // no element for `name[not (givenName pr)]` to match.
                _ => {
                    self.sql.push('(');
                    self.complex_present(resource, element, attr)?;
                    self.sql.push_str(" AND ");
                    self.filter(resource, element, inner)?;
                    self.sql.push(')');
                }
            },
        }
        Ok(())
    }

    fn leaf(
        &mut self,
        resource: Resource,
        element: Option<Link>,
        attr: &ResolvedAttr,
        comparison: Option<(CompareOp, &CompValue)>,
    ) -> Result<(), ScimError> {
        if comparison.is_none() && attr.sub.is_none() && !attr.attr.sub_attributes.is_empty() {
            return self.complex_present(resource, element, attr);
        }
        let mut found = target(resource, attr)?;
        if let (Some(link), Target::Membership(_)) = (element, found) {
            let sub = attr.sub.map_or("value", |s| s.name);
            found = link
                .element(sub)
                .ok_or_else(|| unfilterable(resource, attr))?;
        }
        if let Target::Membership(link) = found {
            // A resource without any element has no value present, and so
            // a value different from any operand: `eq null` and `ne` hold
            // for it, which no row inside `EXISTS` can say.
            match comparison {
                Some((CompareOp::Eq, CompValue::Null)) => {
                    self.sql.push_str("(NOT ");
                    self.sql.push_str(link.exists_prefix());
                    self.leaf(resource, Some(link), attr, None)?;
                    self.sql.push_str("))");
                }
                Some((CompareOp::Ne, value)) if !matches!(value, CompValue::Null) => {
                    self.sql.push_str("(NOT ");
                    self.sql.push_str(link.exists_prefix());
                    self.sql.push_str(TRUE);
                    self.sql.push_str(") OR ");
                    self.sql.push_str(link.exists_prefix());
                    self.leaf(resource, Some(link), attr, comparison)?;
                    self.sql.push_str("))");
                }
                _ => {
                    self.sql.push_str(link.exists_prefix());
                    self.leaf(resource, Some(link), attr, comparison)?;
                    self.sql.push(')');
                }
            }
            return Ok(());
        }
        let condition = match comparison {
            None | Some((CompareOp::Ne, CompValue::Null)) => present(found),
            Some((CompareOp::Eq, CompValue::Null)) => format!("(NOT {})", present(found)),
            Some((op, value)) => self.compare(found, attr, op, value)?,
        };
        self.sql.push_str(&condition);
        Ok(())
    }

    /// `attr pr` for a whole complex attribute: some sub-attribute is present.
    fn complex_present(
        &mut self,
        resource: Resource,
        element: Option<Link>,
        attr: &ResolvedAttr,
    ) -> Result<(), ScimError> {
        let subs: Vec<ResolvedAttr> = attr
            .attr
            .sub_attributes
            .iter()
            .map(|sub| ResolvedAttr {
                sub: Some(sub),
                ..*attr
            })
            .filter(|sub| target(resource, sub).is_ok())
            .collect();
        if let Some(Target::Membership(link)) = subs.first().and_then(|s| target(resource, s).ok())
        {
            self.sql.push_str(link.exists_prefix());
            self.sql.push_str(TRUE);
            self.sql.push(')');
            return Ok(());
        }
        if subs.is_empty() {
            return Err(unfilterable(resource, attr));
        }
        self.sql.push('(');
        for (i, sub) in subs.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(" OR ");
            }
            self.leaf(resource, element, sub, None)?;
        }
        self.sql.push(')');
        Ok(())
    }

    fn compare(
        &mut self,
        found: Target,
        attr: &ResolvedAttr,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<String, ScimError> {
        let mismatch = || {
            ScimError::invalid_filter(format!(
                "the value compared with '{}' is not of its type",
                attr.dotted()
            ))
        };
        match found {
            Target::Constant { value: c, guard } => {
                let case_exact = attr.target().case_exact;
                let holds = compare_constant(c, op, value, case_exact).ok_or_else(mismatch)?;
                let ne = op == CompareOp::Ne;
                Ok(match (holds, guard) {
                    (true, None) => TRUE.to_owned(),
                    (false, None) => FALSE.to_owned(),
                    // Where the element does not exist, `ne` holds and
                    // nothing else does.
                    (true, Some(_)) if ne => TRUE.to_owned(),
                    (true, Some(guard)) => format!("({guard})"),
                    (false, Some(guard)) if ne => format!("(NOT ({guard}))"),
                    (false, Some(_)) => FALSE.to_owned(),
                })
            }
            Target::Text { col, ci } => {
                let CompValue::String(s) = value else {
                    return Err(mismatch());
                };
                let s = if ci { s.to_lowercase() } else { s.clone() };
                let (sql_op, bind) = match op {
                    CompareOp::Co => ("LIKE", format!("%{}%", escape_like(&s))),
                    CompareOp::Sw => ("LIKE", format!("{}%", escape_like(&s))),
                    CompareOp::Ew => ("LIKE", format!("%{}", escape_like(&s))),
                    _ => (sql_operator(op), s),
                };
                let p = self.placeholder(Bind::Text(bind));
                Ok(match op {
                    CompareOp::Ne => format!("({col} IS NULL OR {col} <> {p})"),
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                        format!("({col} IS NOT NULL AND {col} {sql_op} {p} ESCAPE '\\')")
                    }
                    _ => format!("({col} IS NOT NULL AND {col} {sql_op} {p})"),
                })
            }
            Target::Time(col) => {
                let CompValue::DateTime(micros) = value else {
                    return Err(mismatch());
                };
                if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                    return Err(ScimError::invalid_filter(format!(
                        "'{}' is a dateTime: use eq, ne, gt, ge, lt or le",
                        attr.dotted()
                    )));
                }
                let p = self.placeholder(Bind::Int(*micros));
                Ok(format!("({col} {} {p})", sql_operator(op)))
            }
            Target::Flag(col) => {
                let CompValue::Boolean(b) = value else {
                    return Err(mismatch());
                };
                let b = if *b { "TRUE" } else { "FALSE" };
                match op {
                    CompareOp::Eq => Ok(format!("({col} IS NOT NULL AND {col} = {b})")),
                    CompareOp::Ne => Ok(format!("({col} IS NULL OR {col} <> {b})")),
                    _ => Err(ScimError::invalid_filter(format!(
                        "'{}' is a boolean: use eq or ne",
                        attr.dotted()
                    ))),
                }
            }
            Target::Membership(_) => Err(mismatch()),
        }
    }
}

fn present(found: Target) -> String {
    match found {
        Target::Text { col, .. } => format!("({col} IS NOT NULL AND {col} <> '')"),
        Target::Time(col) | Target::Flag(col) => format!("({col} IS NOT NULL)"),
        Target::Constant { guard: Some(g), .. } => format!("({g})"),
        Target::Constant { guard: None, .. } => TRUE.to_owned(),
        Target::Membership(_) => FALSE.to_owned(),
    }
}

fn sql_operator(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "LIKE",
    }
}

fn compare_constant(
    constant: Const,
    op: CompareOp,
    value: &CompValue,
    case_exact: bool,
) -> Option<bool> {
    match (constant, value) {
        (Const::Bool(b), CompValue::Boolean(v)) => match op {
            CompareOp::Eq => Some(b == *v),
            CompareOp::Ne => Some(b != *v),
            _ => None,
        },
        (Const::Text(c), CompValue::String(v)) => {
            let (c, v) = if case_exact {
                (c.to_owned(), v.clone())
            } else {
                (c.to_lowercase(), v.to_lowercase())
            };
            Some(match op {
                CompareOp::Eq => c == v,
                CompareOp::Ne => c != v,
                CompareOp::Co => c.contains(&v),
                CompareOp::Sw => c.starts_with(&v),
                CompareOp::Ew => c.ends_with(&v),
                CompareOp::Gt => c > v,
                CompareOp::Ge => c >= v,
                CompareOp::Lt => c < v,
                CompareOp::Le => c <= v,
            })
        }
        _ => None,
    }
}

/// Escapes `LIKE` wildcards so a value matches literally.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
