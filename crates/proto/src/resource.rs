//! Client representations of users and groups: parsing what clients send,
//! rendering what they read.
//!
//! The server stores far less than SCIM can express: a user is a userName
//! (an email address), a displayName, a name, a title, at most one phone
//! number and an externalId. Parsing therefore does two jobs at once: it
//! validates what we keep, with errors that name the attribute and the value
//! so an administrator can fix the mapping in their identity provider, and
//! it *accepts and reports* everything we do not keep (Okta's `password`,
//! Entra's enterprise extension, `emails`, unknown attributes), because
//! refusing those would break provisioning for no benefit. The names of the
//! ignored attributes go to the provisioning log.
//!
//! Rendering is the mirror image and the only place the client view is
//! built, so `emails` is always exactly the userName, `active` is what is
//! stored (absent when it is unassigned), and URLs all derive from one
//! base.
//!
//! The parsers accept their own rendering, so a PATCH can be applied to the
//! rendered view ([`crate::patch`]) and the result re-parsed here.

use serde_json::{Map, Value, json};

use crate::ScimError;
use crate::datetime;
use crate::dialect::{self, clip, get_ci, present, quote, type_name};
use crate::patch::MAX_VALUES;
use crate::schema::{self, Attribute, AttributeType, Mutability, ResourceType};

/// Longest accepted userName, in characters (the RFC 5321 path limit).
pub const MAX_USER_NAME_CHARS: usize = 254;
/// Longest accepted value of any other string attribute, in characters.
pub const MAX_STRING_CHARS: usize = 1024;
/// Fewest digits in an E.164 number (country code included). The shortest
/// numbers in service (Niue, Saint Helena) have seven.
pub const MIN_E164_DIGITS: usize = 7;
/// Most digits in an E.164 number (ITU-T E.164 §6.1).
pub const MAX_E164_DIGITS: usize = 15;

/// Most names kept in an ignored list. The list is for a person reading
/// the provisioning log; a body with thousands of junk keys must not make
/// it (or the time to build it) grow without bound.
pub const MAX_IGNORED_NOTED: usize = 100;

/// The components of a user's name (RFC 7643 §4.1.1).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Name {
    /// `formatted`: the whole name as displayed (`Ms. Barbara J Jensen, III`).
    pub formatted: Option<String>,
    /// `familyName`: the last name in most Western languages.
    pub family_name: Option<String>,
    /// `givenName`: the first name in most Western languages.
    pub given_name: Option<String>,
    /// `middleName`: the middle name or names.
    pub middle_name: Option<String>,
    /// `honorificPrefix`: a title before the name (`Ms.`).
    pub honorific_prefix: Option<String>,
    /// `honorificSuffix`: a suffix after the name (`III`).
    pub honorific_suffix: Option<String>,
}

impl Name {
    /// The parts with their SCIM names, in schema order.
    fn parts(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("formatted", &self.formatted),
            ("familyName", &self.family_name),
            ("givenName", &self.given_name),
            ("middleName", &self.middle_name),
            ("honorificPrefix", &self.honorific_prefix),
            ("honorificSuffix", &self.honorific_suffix),
        ]
    }

    fn part_mut(&mut self, scim_name: &str) -> Option<&mut Option<String>> {
        Some(match scim_name {
            "formatted" => &mut self.formatted,
            "familyName" => &mut self.family_name,
            "givenName" => &mut self.given_name,
            "middleName" => &mut self.middle_name,
            "honorificPrefix" => &mut self.honorific_prefix,
            "honorificSuffix" => &mut self.honorific_suffix,
            _ => return None,
        })
    }

    /// Whether no part is set.
    pub fn is_empty(&self) -> bool {
        self.parts().iter().all(|(_, v)| v.is_none())
    }

    /// What displayName is derived from when a client sends none:
    /// `formatted`, else "givenName familyName".
    pub fn display(&self) -> Option<String> {
        if let Some(f) = &self.formatted {
            return Some(f.clone());
        }
        let joined = [&self.given_name, &self.family_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        let joined = joined.trim();
        (!joined.is_empty()).then(|| joined.to_owned())
    }
}

/// A phone number, normalised to E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// E.164, e.g. `+46701234567`.
    pub value: String,
    /// The SCIM `type` label (`work`, `mobile`, …); rendered as `work` when
    /// absent.
    pub kind: Option<String>,
}

/// What the server stores for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAttributes {
    /// Trimmed, validated as an email address; compared case-insensitively
    /// by the server.
    pub user_name: String,
    /// The name shown for the user: as sent, else derived from `name`
    /// (see [`Name::display`]).
    pub display_name: String,
    /// The components of the user's name; possibly empty.
    pub name: Name,
    /// The user's job title.
    pub title: Option<String>,
    /// The one phone number kept.
    pub phone: Option<Phone>,
    /// The identifier the client gave the user, kept exactly as sent.
    pub external_id: Option<String>,
    /// The one email address kept: the userName itself where userNames
    /// are email addresses (the default policy, [`schema::USER`]), the
    /// client's where they may be anything ([`schema::USER_ANY_NAME`]).
    pub email: Option<Email>,
    /// `active`; `None` when the body did not have it (unassigned). What
    /// `false` does, and what an unassigned value becomes, is the tenant's
    /// deprovisioning policy: the server decides.
    pub active: Option<bool>,
}

/// An email address of a user, as `emails` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The address.
    pub value: String,
    /// Its label (`work`, `home`), lower-cased when it is a canonical one.
    pub kind: Option<String>,
    /// Whether the client marked it primary; `None` when it did not say.
    pub primary: Option<bool>,
}

impl Email {
    /// The address a userName that is an email address stands for: the
    /// primary work address.
    pub fn of_user_name(user_name: &str) -> Self {
        Email {
            value: user_name.to_owned(),
            kind: Some("work".to_owned()),
            primary: Some(true),
        }
    }
}

/// A parsed group body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInput {
    /// The group's name; required.
    pub display_name: String,
    /// The identifier the client gave the group, kept exactly as sent.
    pub external_id: Option<String>,
    /// The member user ids, duplicates collapsed, in the order sent.
    /// `None` when the body had no `members` (or `null`): the client did not
    /// send the attribute. `Some(vec![])` is an explicit empty list. On PUT
    /// (a full replacement, RFC 7644 §3.5.1) the server treats both as
    /// "no members"; the distinction is kept for the provisioning log.
    pub members: Option<Vec<String>>,
}

/// A parsed value and the attributes that were present but ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    /// The parsed value.
    pub value: T,
    /// Attribute names as the client sent them (e.g. `password`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`,
    /// `emails`), each once, at most [`MAX_IGNORED_NOTED`].
    pub ignored: Vec<String>,
}

/// Parses a user body (RFC 7643 §4.1) into what the server stores, where
/// userNames are email addresses (the default policy).
pub fn parse_user(body: &Value) -> Result<Parsed<UserAttributes>, ScimError> {
    parse_user_as(&schema::USER, body)
}

/// Parses a user body as `rt` says users are: [`schema::USER`] (userName
/// an email address, `emails` derived from it and ignored when sent) or
/// [`schema::USER_ANY_NAME`] (any userName, `emails` the client's).
pub fn parse_user_as(
    rt: &'static ResourceType,
    body: &Value,
) -> Result<Parsed<UserAttributes>, ScimError> {
    let mut fields = Fields::collect(rt, body)?;
    let user_name = match fields.string("userName")? {
        Some(u) => u,
        None => return Err(ScimError::invalid_value("userName is required")),
    };
    let email = if emails_derived(rt) {
        validate_email(&user_name)?;
        Some(Email::of_user_name(&user_name))
    } else {
        validate_any_user_name(&user_name)?;
        fields.email()?
    };
    let name = fields.name()?;
    let display_name = match fields.string("displayName")? {
        Some(d) => d,
        None => name.display().ok_or_else(|| {
            ScimError::invalid_value(
                "displayName is required: send displayName, name.formatted or \
                 name.givenName/name.familyName",
            )
        })?,
    };
    let title = fields.string("title")?;
    let external_id = fields.raw_string("externalId")?;
    let phone = fields.phone()?;
    let active = match fields.take("active") {
        None => None,
        Some(v) => Some(dialect::coerce_bool(&v).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "active must be true or false, got {}",
                describe(&v)
            ))
        })?),
    };
    Ok(Parsed {
        value: UserAttributes {
            user_name,
            display_name,
            name,
            title,
            phone,
            external_id,
            email,
            active,
        },
        ignored: fields.ignored,
    })
}

/// Parses a group body (RFC 7643 §4.2).
pub fn parse_group(body: &Value) -> Result<Parsed<GroupInput>, ScimError> {
    let mut fields = Fields::collect(&schema::GROUP, body)?;
    let display_name = fields
        .string("displayName")?
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    let external_id = fields.raw_string("externalId")?;
    let members = match fields.take("members") {
        None => None,
        Some(v) => Some(parse_member_list(&v, &mut fields.ignored)?),
    };
    Ok(Parsed {
        value: GroupInput {
            display_name,
            external_id,
            members,
        },
        ignored: fields.ignored,
    })
}

fn parse_member_list(value: &Value, ignored: &mut Vec<String>) -> Result<Vec<String>, ScimError> {
    if !value.is_array() {
        return Err(ScimError::invalid_value(format!(
            "members must be an array of {{\"value\": USER_ID}} objects, got {}",
            type_name(value)
        )));
    }
    let ids = dialect::member_ids(value).map_err(|e| member_list_error("members", &e))?;
    for id in &ids {
        check_string("members.value", id, MAX_STRING_CHARS)?;
    }
    let known = ["value", "display", "displayName", "$ref", "type"];
    for member in value.as_array().into_iter().flatten() {
        for key in member.as_object().into_iter().flat_map(Map::keys) {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                note(ignored, format!("members.{key}"));
            }
        }
    }
    Ok(ids)
}

pub(crate) fn member_list_error(attr: &str, e: &dialect::MemberListError) -> ScimError {
    match e {
        dialect::MemberListError::NoValue { index } => ScimError::invalid_value(format!(
            "{attr}[{index}] has no string \"value\": each member must be {{\"value\": USER_ID}}"
        )),
        dialect::MemberListError::NotAList => ScimError::invalid_value(format!(
            "{attr} must be an array of {{\"value\": USER_ID}} objects"
        )),
        dialect::MemberListError::TooMany { count } => too_many_members(*count),
    }
}

/// The error of a request that names more than
/// [`crate::patch::MAX_MEMBERS_PER_REQUEST`] members.
pub(crate) fn too_many_members(count: usize) -> ScimError {
    ScimError::invalid_value(format!(
        "this request names {count} members; at most {} are accepted in one request: send \
         them in several requests",
        crate::patch::MAX_MEMBERS_PER_REQUEST
    ))
}

/// Validates a userName as an email address (see [`address_problem`]).
pub fn validate_email(user_name: &str) -> Result<(), ScimError> {
    match address_problem(user_name) {
        None => Ok(()),
        Some(why) => Err(ScimError::invalid_value(format!(
            "userName {} is not an email address ({why}); map userName to an email address",
            quote(user_name)
        ))),
    }
}

/// Validates a userName that may be any string: at most
/// [`MAX_USER_NAME_CHARS`] characters (blank and control characters are
/// refused where every string is read).
fn validate_any_user_name(user_name: &str) -> Result<(), ScimError> {
    if user_name.chars().count() > MAX_USER_NAME_CHARS {
        return Err(ScimError::invalid_value(format!(
            "userName {} is longer than {MAX_USER_NAME_CHARS} characters",
            quote(user_name)
        )));
    }
    Ok(())
}

/// Why `address` is not an email address, if it is not one: pragmatic, not
/// RFC 5322. One `@`, a non-empty local part of at most 64 characters, a
/// dotted domain, no whitespace, no control characters and none of the
/// characters that only quoted local parts may contain.
fn address_problem(address: &str) -> Option<&'static str> {
    if address.chars().count() > MAX_USER_NAME_CHARS {
        return Some("longer than 254 characters");
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
    {
        return Some("contains a space or a character not allowed in addresses");
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Some("no @");
    };
    if domain.contains('@') {
        return Some("more than one @");
    }
    if local.is_empty() || local.chars().count() > 64 {
        return Some("the part before @ must have 1 to 64 characters");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some("misplaced dot before @");
    }
    if !domain.contains('.') {
        return Some("the domain has no dot");
    }
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if !labels_ok {
        return Some("the domain is malformed");
    }
    None
}

/// Normalises a phone number to E.164: spaces, dashes, dots and parentheses
/// are dropped; the result must be `+`, a first digit 1-9 and 7 to 15
/// digits in all.
pub fn normalize_e164(raw: &str) -> Result<String, ScimError> {
    let compact: String = raw
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')')))
        .collect();
    let valid = compact.strip_prefix('+').is_some_and(|digits| {
        (MIN_E164_DIGITS..=MAX_E164_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    });
    if valid {
        Ok(compact)
    } else {
        Err(ScimError::invalid_value(format!(
            "phoneNumbers value {} is not an international (E.164) number such as +46701234567",
            quote(raw)
        )))
    }
}

/// Absolute URL of the Users or Groups endpoint under `base`.
fn endpoint(base: &str, rt: &ResourceType, id: &str) -> String {
    format!("{}{}/{}", base.trim_end_matches('/'), rt.endpoint, id)
}

/// `meta` of a rendered resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Microseconds since the Unix epoch.
    pub created: i64,
    /// Microseconds since the Unix epoch.
    pub last_modified: i64,
    /// The ETag, e.g. `W/"3"`.
    pub version: String,
}

impl Meta {
    fn to_json(&self, rt: &ResourceType, location: String) -> Value {
        json!({
            "resourceType": rt.name,
            "created": datetime::format(self.created),
            "lastModified": datetime::format(self.last_modified),
            "location": location,
            "version": self.version,
        })
    }
}

/// A group a user belongs to, as listed in the user's `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The group's id (`value`).
    pub id: String,
    /// The group's displayName (`display`).
    pub display: String,
}

/// A member of a group, as listed in the group's `members`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The user's id (`value`).
    pub id: String,
    /// The user's displayName (`display`).
    pub display: String,
}

/// The client view of a user. `groups` is `None` when the caller did not
/// load them (projection excluded them, or a PATCH is about to be applied).
pub fn render_user(
    base: &str,
    id: &str,
    attrs: &UserAttributes,
    meta: &Meta,
    groups: Option<&[GroupRef]>,
) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([schema::USER_SCHEMA_URN]));
    out.insert("id".into(), json!(id));
    if let Some(e) = &attrs.external_id {
        out.insert("externalId".into(), json!(e));
    }
    out.insert("userName".into(), json!(attrs.user_name));
    let name: Map<String, Value> = attrs
        .name
        .parts()
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), json!(v))))
        .collect();
    if !name.is_empty() {
        out.insert("name".into(), Value::Object(name));
    }
    out.insert("displayName".into(), json!(attrs.display_name));
    if let Some(t) = &attrs.title {
        out.insert("title".into(), json!(t));
    }
    if let Some(active) = attrs.active {
        out.insert("active".into(), json!(active));
    }
    if let Some(email) = &attrs.email {
        let mut one = Map::new();
        one.insert("value".into(), json!(email.value));
        if let Some(kind) = &email.kind {
            one.insert("type".into(), json!(kind));
        }
        if let Some(primary) = email.primary {
            one.insert("primary".into(), json!(primary));
        }
        out.insert("emails".into(), Value::Array(vec![Value::Object(one)]));
    }
    if let Some(p) = &attrs.phone {
        out.insert(
            "phoneNumbers".into(),
            json!([{"value": p.value, "type": p.kind.as_deref().unwrap_or("work"), "primary": true}]),
        );
    }
    if let Some(groups) = groups {
        let list: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.id,
                    "$ref": endpoint(base, &schema::GROUP, &g.id),
                    "display": g.display,
                    "type": "direct",
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        meta.to_json(&schema::USER, endpoint(base, &schema::USER, id)),
    );
    Value::Object(out)
}

/// The client view of a group. `members` is `None` when the caller did not
/// load them (`excludedAttributes=members`, or a PATCH is about to be
/// applied).
pub fn render_group(
    base: &str,
    id: &str,
    display_name: &str,
    external_id: Option<&str>,
    members: Option<&[MemberRef]>,
    meta: &Meta,
) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([schema::GROUP_SCHEMA_URN]));
    out.insert("id".into(), json!(id));
    if let Some(e) = external_id {
        out.insert("externalId".into(), json!(e));
    }
    out.insert("displayName".into(), json!(display_name));
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.id,
                    "$ref": endpoint(base, &schema::USER, &m.id),
                    "display": m.display,
                    "type": "User",
                })
            })
            .collect();
        out.insert("members".into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        meta.to_json(&schema::GROUP, endpoint(base, &schema::GROUP, id)),
    );
    Value::Object(out)
}

/// A body's attributes resolved against a resource type: canonical top-level
/// names, URN prefixes and the core-URN wrapper object unfolded, dotted
/// sub-attribute keys folded into their parent.
struct Fields {
    rt: &'static ResourceType,
    values: Vec<(&'static Attribute, Value)>,
    ignored: Vec<String>,
}

impl Fields {
    fn collect(rt: &'static ResourceType, body: &Value) -> Result<Self, ScimError> {
        let Some(object) = body.as_object() else {
            return Err(ScimError::invalid_syntax(format!(
                "the request body must be a JSON object, got {}",
                type_name(body)
            )));
        };
        let mut fields = Fields {
            rt,
            values: Vec::new(),
            ignored: Vec::new(),
        };
        fields.visit(rt, object, true)?;
        Ok(fields)
    }

    fn visit(
        &mut self,
        rt: &'static ResourceType,
        object: &Map<String, Value>,
        top: bool,
    ) -> Result<(), ScimError> {
        for (key, value) in object {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if top && key.eq_ignore_ascii_case(rt.schema.id) {
                match value {
                    Value::Null => {}
                    Value::Object(inner) => self.visit(rt, inner, false)?,
                    other => {
                        return Err(ScimError::invalid_value(format!(
                            "{} must be an object of attributes, got {}",
                            rt.schema.id,
                            type_name(other)
                        )));
                    }
                }
                continue;
            }
            let resolved = rt.resolve(key).filter(|r| !r.is_ignored());
            let Some(resolved) = resolved else {
                note(&mut self.ignored, key.clone());
                continue;
            };
            if value.is_null() {
                continue;
            }
            if resolved.attr.mutability == Mutability::ReadOnly {
                note(&mut self.ignored, resolved.attr.name.to_owned());
                continue;
            }
            let value = match resolved.sub {
                // A dotted key (`name.givenName`) contributes one part.
                Some(sub) if !resolved.attr.multi_valued => json!({ sub.name: value }),
                Some(_) => {
                    note(&mut self.ignored, key.clone());
                    continue;
                }
                None => value.clone(),
            };
            self.put(resolved.attr, value)?;
        }
        Ok(())
    }

    /// Records a top-level value. A complex attribute given twice (`name`
    /// and `name.givenName`) is merged; any other attribute given twice with
    /// different values is refused.
    fn put(&mut self, attr: &'static Attribute, value: Value) -> Result<(), ScimError> {
        let Some(slot) = self.values.iter_mut().find(|(a, _)| std::ptr::eq(*a, attr)) else {
            self.values.push((attr, value));
            return Ok(());
        };
        match (&mut slot.1, value) {
            (Value::Object(old), Value::Object(new))
                if attr.ty == AttributeType::Complex && !attr.multi_valued =>
            {
                old.extend(new);
                Ok(())
            }
            (old, new) if *old == new => Ok(()),
            _ => Err(ScimError::invalid_value(format!(
                "{} is given twice with different values",
                attr.name
            ))),
        }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        let pos = self.values.iter().position(|(a, _)| a.name == name)?;
        Some(self.values.swap_remove(pos).1)
    }

    /// A trimmed, length-checked string; empty means absent.
    fn string(&mut self, name: &str) -> Result<Option<String>, ScimError> {
        let Some(v) = self.take(name) else {
            return Ok(None);
        };
        let s = expect_string(name, &v)?.trim();
        let max = if name == "userName" {
            MAX_USER_NAME_CHARS
        } else {
            MAX_STRING_CHARS
        };
        check_string(name, s, max)?;
        Ok((!s.is_empty()).then(|| s.to_owned()))
    }

    /// Like [`Fields::string`] but untrimmed: identifiers are case- and
    /// space-exact. Empty still means absent.
    fn raw_string(&mut self, name: &str) -> Result<Option<String>, ScimError> {
        let Some(v) = self.take(name) else {
            return Ok(None);
        };
        let s = expect_string(name, &v)?;
        check_string(name, s, MAX_STRING_CHARS)?;
        Ok((!s.trim().is_empty()).then(|| s.to_owned()))
    }

    fn name(&mut self) -> Result<Name, ScimError> {
        let mut name = Name::default();
        let Some(v) = self.take("name") else {
            return Ok(name);
        };
        let Some(object) = v.as_object() else {
            return Err(ScimError::invalid_value(format!(
                "name must be an object such as {{\"givenName\": …, \"familyName\": …}}, got {}",
                type_name(&v)
            )));
        };
        let name_attr = schema::find(schema::USER_SCHEMA.attributes, "name");
        for (key, part) in object {
            let sub = name_attr.and_then(|a| a.sub_attribute(key));
            let Some(slot) = sub.and_then(|s| name.part_mut(s.name)) else {
                note(&mut self.ignored, format!("name.{key}"));
                continue;
            };
            if part.is_null() {
                continue;
            }
            let label = format!("name.{}", sub.map_or("", |s| s.name));
            let s = expect_string(&label, part)?.trim();
            check_string(&label, s, MAX_STRING_CHARS)?;
            *slot = (!s.is_empty()).then(|| s.to_owned());
        }
        Ok(name)
    }

    /// An entry's `type` label of the multi-valued `attr`, in canonical
    /// case when it is one of the schema's.
    fn label(&self, attr: &str, object: &Map<String, Value>) -> Result<Option<String>, ScimError> {
        let Some(t) = present(get_ci(object, "type")) else {
            return Ok(None);
        };
        let name = format!("{attr}.type");
        let t = expect_string(&name, t)?.trim();
        check_string(&name, t, MAX_STRING_CHARS)?;
        Ok(canonical_label(self.rt, t, attr))
    }

    /// Notes the keys of an entry of `attr` that are not kept.
    fn note_unknown(&mut self, attr: &str, object: &Map<String, Value>) {
        for key in object.keys() {
            if !["value", "type", "primary", "display"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(key))
            {
                note(&mut self.ignored, format!("{attr}.{key}"));
            }
        }
    }

    fn phone(&mut self) -> Result<Option<Phone>, ScimError> {
        let Some(v) = self.take("phoneNumbers") else {
            return Ok(None);
        };
        let list = entries("phoneNumbers", &v)?;
        // Refused before any per-item work: a body of 200,000 numbers must
        // cost no more than reading it.
        if list.len() > MAX_VALUES {
            return Err(ScimError::invalid_value(format!(
                "phoneNumbers has {} entries; at most one number is supported (and at most \
                 {MAX_VALUES} entries accepted)",
                list.len()
            )));
        }
        // The same number listed twice is still one number (pairwise, but
        // over at most MAX_VALUES entries).
        let mut distinct: Vec<&Value> = Vec::new();
        for item in list {
            if !distinct.contains(&item) {
                distinct.push(item);
            }
        }
        let [item] = distinct.as_slice() else {
            if distinct.is_empty() {
                return Ok(None);
            }
            return Err(ScimError::invalid_value(format!(
                "phoneNumbers has {} numbers; at most one is supported",
                distinct.len()
            )));
        };
        let Some(object) = item.as_object() else {
            return Err(ScimError::invalid_value(format!(
                "phoneNumbers[0] must be an object such as {{\"value\": \"+46701234567\", \
                 \"type\": \"work\"}}, got {}",
                type_name(item)
            )));
        };
        let value = match present(get_ci(object, "value")) {
            Some(v) => expect_string("phoneNumbers.value", v)?,
            None => return Err(ScimError::invalid_value("phoneNumbers[0] has no value")),
        };
        check_string("phoneNumbers.value", value, MAX_STRING_CHARS)?;
        let value = normalize_e164(value)?;
        let kind = self.label("phoneNumbers", object)?;
        primary("phoneNumbers", object)?;
        self.note_unknown("phoneNumbers", object);
        Ok(Some(Phone { value, kind }))
    }

    /// The one address kept of `emails`: the primary one, else the first.
    /// The others are noted as ignored.
    fn email(&mut self) -> Result<Option<Email>, ScimError> {
        let Some(v) = self.take("emails") else {
            return Ok(None);
        };
        let list = entries("emails", &v)?;
        if list.len() > MAX_VALUES {
            return Err(ScimError::invalid_value(format!(
                "emails has {} entries; at most {MAX_VALUES} are accepted (one is kept)",
                list.len()
            )));
        }
        let mut chosen = None;
        for (i, item) in list.iter().enumerate() {
            let Some(object) = item.as_object() else {
                return Err(ScimError::invalid_value(format!(
                    "emails[{i}] must be an object such as {{\"value\": \"ann@example.com\", \
                     \"type\": \"work\"}}, got {}",
                    type_name(item)
                )));
            };
            let primary = primary("emails", object)?;
            let better = match chosen {
                None => true,
                Some((_, _, kept)) => kept != Some(true) && primary == Some(true),
            };
            if better {
                chosen = Some((i, object, primary));
            }
        }
        let Some((index, object, primary)) = chosen else {
            return Ok(None);
        };
        for i in (0..list.len()).filter(|i| *i != index) {
            note(&mut self.ignored, format!("emails[{i}]"));
        }
        self.email_entry(object, primary).map(Some)
    }

    /// The address kept, from its entry in `emails`.
    fn email_entry(
        &mut self,
        object: &Map<String, Value>,
        primary: Option<bool>,
    ) -> Result<Email, ScimError> {
        let value = match present(get_ci(object, "value")) {
            Some(v) => expect_string("emails.value", v)?.trim(),
            None => {
                return Err(ScimError::invalid_value(
                    "emails has an entry without value",
                ));
            }
        };
        check_string("emails.value", value, MAX_STRING_CHARS)?;
        if let Some(why) = address_problem(value) {
            return Err(ScimError::invalid_value(format!(
                "emails.value {} is not an email address ({why})",
                quote(value)
            )));
        }
        let kind = self.label("emails", object)?;
        self.note_unknown("emails", object);
        Ok(Email {
            value: value.to_owned(),
            kind,
            primary,
        })
    }
}

/// The entries of the multi-valued `attr` (`phoneNumbers`, `emails`),
/// nulls left out.
fn entries<'v>(attr: &str, value: &'v Value) -> Result<Vec<&'v Value>, ScimError> {
    match value {
        Value::Array(items) => Ok(items.iter().filter(|i| !i.is_null()).collect()),
        other => Err(ScimError::invalid_value(format!(
            "{attr} must be an array, got {}",
            type_name(other)
        ))),
    }
}

/// An entry's `primary`, when it has one.
fn primary(attr: &str, object: &Map<String, Value>) -> Result<Option<bool>, ScimError> {
    let Some(p) = present(get_ci(object, "primary")) else {
        return Ok(None);
    };
    dialect::coerce_bool(p).map(Some).ok_or_else(|| {
        ScimError::invalid_value(format!(
            "{attr}.primary must be true or false, got {}",
            describe(p)
        ))
    })
}

/// Whether `rt`'s users have `emails` derived from their userName (it is
/// read-only there).
fn emails_derived(rt: &ResourceType) -> bool {
    rt.resolve("emails")
        .is_some_and(|e| e.attr.mutability == Mutability::ReadOnly)
}

/// A `type` label in canonical case when it is one of the schema's
/// canonical values (`Work` → `work`); other labels are kept as sent.
fn canonical_label(rt: &ResourceType, label: &str, attr: &str) -> Option<String> {
    if label.is_empty() {
        return None;
    }
    let canonical = schema::find(rt.schema.attributes, attr)
        .and_then(|a| a.sub_attribute("type"))
        .and_then(|t| {
            t.canonical_values
                .iter()
                .find(|c| c.eq_ignore_ascii_case(label))
        });
    Some(canonical.map_or_else(|| label.to_owned(), |c| (*c).to_owned()))
}

fn expect_string<'v>(name: &str, value: &'v Value) -> Result<&'v str, ScimError> {
    value.as_str().ok_or_else(|| {
        ScimError::invalid_value(format!("{name} must be a string, got {}", describe(value)))
    })
}

/// Length and control-character check shared by every stored string:
/// control characters (NUL above all) have no place in a name and some
/// databases refuse them.
pub fn check_string(name: &str, s: &str, max: usize) -> Result<(), ScimError> {
    if s.chars().count() > max {
        return Err(ScimError::invalid_value(format!(
            "{name} is longer than {max} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(format!(
            "{name} {} contains a control character",
            quote(s)
        )));
    }
    Ok(())
}

/// A value for an error detail: strings quoted, others by type.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_owned(),
    }
}

/// Adds a name to an ignored list once, up to [`MAX_IGNORED_NOTED`] names,
/// each clipped and with control characters escaped: the list goes to the
/// provisioning log and an administrator's screen.
pub(crate) fn note(ignored: &mut Vec<String>, name: String) {
    if ignored.len() >= MAX_IGNORED_NOTED {
        return;
    }
    let name = clip(&name);
    if !ignored.contains(&name) {
        ignored.push(name);
    }
}
