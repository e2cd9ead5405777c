//! The RFC 7643 attribute model and scimitar's resource definitions.
//!
//! These static definitions are the single source of truth: `/Schemas` and
//! `/ResourceTypes` are rendered from them, and the filter parser, the PATCH
//! engine and projection all resolve names against them, so what we publish is
//! what we enforce.

use serde_json::{Value, json};

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    /// `string`: Unicode text.
    String,
    /// `boolean`: `true` or `false`.
    Boolean,
    /// `decimal`: a real number.
    Decimal,
    /// `integer`: a whole number.
    Integer,
    /// `dateTime`: an RFC 3339 instant.
    DateTime,
    /// `binary`: base64-encoded bytes.
    Binary,
    /// `reference`: a URI naming a resource or a location.
    Reference,
    /// `complex`: an object of sub-attributes.
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// `readOnly`: set by the service provider, never by the client.
    ReadOnly,
    /// `readWrite`: the client may change it at any time.
    ReadWrite,
    /// `immutable`: the client may set it once, then not change it.
    Immutable,
    /// `writeOnly`: the client may set it, it is never returned.
    WriteOnly,
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// `always`: in every response.
    Always,
    /// `never`: in no response.
    Never,
    /// `default`: unless excluded, or other attributes are asked for.
    Default,
    /// `request`: only when asked for by name.
    Request,
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// `none`: values need not be unique.
    None,
    /// `server`: unique within the SCIM endpoint or tenancy.
    Server,
    /// `global`: globally unique, such as an email address.
    Global,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute's name, as it appears in JSON (`userName`).
    pub name: &'static str,
    /// The attribute's data type.
    pub ty: AttributeType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// Text for `/Schemas`.
    pub description: &'static str,
    /// Whether a resource must have a value.
    pub required: bool,
    /// Whether string values compare case-sensitively.
    pub case_exact: bool,
    /// Whether and when a client may change the value.
    pub mutability: Mutability,
    /// When a response includes the attribute.
    pub returned: Returned,
    /// How unique values must be.
    pub uniqueness: Uniqueness,
    /// Suggested values (`work`, `mobile`, …); empty when any goes.
    pub canonical_values: &'static [&'static str],
    /// For a reference, what it may name (`User`, `Group`, `uri`).
    pub reference_types: &'static [&'static str],
    /// For a complex attribute, its sub-attributes; empty otherwise.
    pub sub_attributes: &'static [Attribute],
}

/// A schema: a URN and its attributes.
#[derive(Debug, PartialEq, Eq)]
pub struct Schema {
    /// The schema's URN.
    pub id: &'static str,
    /// The schema's name (`User`).
    pub name: &'static str,
    /// Text for `/Schemas`.
    pub description: &'static str,
    /// The top-level attributes, without the common ones.
    pub attributes: &'static [Attribute],
}

/// A resource type (RFC 7643 §6): its core schema plus the attributes every
/// resource has (`id`, `externalId`, `meta`).
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// The resource type's id in `/ResourceTypes` (`User`).
    pub id: &'static str,
    /// The resource type's name, also `meta.resourceType` (`User`).
    pub name: &'static str,
    /// The endpoint relative to the base URL (`/Users`).
    pub endpoint: &'static str,
    /// Text for `/ResourceTypes`.
    pub description: &'static str,
    /// The core schema.
    pub schema: &'static Schema,
    /// Schemas whose URN-qualified attributes are recognised and ignored:
    /// accepted from clients, never stored, never advertised as supported.
    pub ignored_extensions: &'static [&'static Schema],
}

/// The core User schema's URN (RFC 7643 §4.1).
pub const USER_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema's URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension's URN (RFC 7643 §4.3).
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const BASE: Attribute = Attribute {
    name: "",
    ty: AttributeType::String,
    multi_valued: false,
    description: "",
    required: false,
    case_exact: false,
    mutability: Mutability::ReadWrite,
    returned: Returned::Default,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    reference_types: &[],
    sub_attributes: &[],
};

const fn string(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        description,
        ..BASE
    }
}

/// `id`, `externalId` and `meta`: common to every resource (RFC 7643 §3.1).
pub static COMMON_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        name: "id",
        description: "Assigned by the service provider; unique, stable, never reassigned.",
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        uniqueness: Uniqueness::Server,
        ..BASE
    },
    Attribute {
        name: "externalId",
        description: "The identifier the provisioning client uses for this resource.",
        case_exact: true,
        ..BASE
    },
    Attribute {
        name: "meta",
        ty: AttributeType::Complex,
        description: "Resource metadata.",
        mutability: Mutability::ReadOnly,
        sub_attributes: &[
            Attribute {
                name: "resourceType",
                case_exact: true,
                mutability: Mutability::ReadOnly,
                ..BASE
            },
            Attribute {
                name: "created",
                ty: AttributeType::DateTime,
                mutability: Mutability::ReadOnly,
                ..BASE
            },
            Attribute {
                name: "lastModified",
                ty: AttributeType::DateTime,
                mutability: Mutability::ReadOnly,
                ..BASE
            },
            Attribute {
                name: "location",
                ty: AttributeType::Reference,
                case_exact: true,
                mutability: Mutability::ReadOnly,
                reference_types: &["uri"],
                ..BASE
            },
            Attribute {
                name: "version",
                case_exact: true,
                mutability: Mutability::ReadOnly,
                ..BASE
            },
        ],
        ..BASE
    },
];

/// `userName` where it is an email address (the default policy).
const USER_NAME_EMAIL: Attribute = Attribute {
    name: "userName",
    description: "Unique identifier for the user: an email address, unique across the \
                  whole service, compared case-insensitively.",
    required: true,
    uniqueness: Uniqueness::Global,
    ..BASE
};

/// `userName` where it may be any string (`userNameFormat: any`).
const USER_NAME_ANY: Attribute = Attribute {
    name: "userName",
    description: "Unique identifier for the user: any non-empty string (an employee \
                  number, a login name), unique across the whole service, compared \
                  case-insensitively.",
    required: true,
    uniqueness: Uniqueness::Global,
    ..BASE
};

const NAME: Attribute = Attribute {
    name: "name",
    ty: AttributeType::Complex,
    description: "The components of the user's real name.",
    sub_attributes: &[
        string("formatted", "The full name, formatted for display."),
        string("familyName", "The family name."),
        string("givenName", "The given name."),
        string("middleName", "The middle name(s)."),
        string("honorificPrefix", "Honorific prefix, e.g. 'Ms.'."),
        string("honorificSuffix", "Honorific suffix, e.g. 'III'."),
    ],
    ..BASE
};

const DISPLAY_NAME: Attribute = Attribute {
    name: "displayName",
    description: "The name of the user, suitable for display. Derived from 'name' \
                  when a client sends none.",
    required: true,
    ..BASE
};

const TITLE: Attribute = string("title", "The user's title, such as 'Vice President'.");

const ACTIVE: Attribute = Attribute {
    name: "active",
    ty: AttributeType::Boolean,
    description: "Always true for a stored user: setting it to false deprovisions \
                  (deletes) the user.",
    ..BASE
};

/// `emails` derived from the userName (the default policy).
const EMAILS_DERIVED: Attribute = Attribute {
    name: "emails",
    ty: AttributeType::Complex,
    multi_valued: true,
    description: "Assigned by the service: always exactly the userName as the primary \
                  work email. Values sent by clients are ignored.",
    mutability: Mutability::ReadOnly,
    sub_attributes: &[
        Attribute {
            name: "value",
            description: "Email address.",
            mutability: Mutability::ReadOnly,
            ..BASE
        },
        Attribute {
            name: "type",
            description: "Always 'work'.",
            mutability: Mutability::ReadOnly,
            canonical_values: &["work"],
            ..BASE
        },
        Attribute {
            name: "primary",
            ty: AttributeType::Boolean,
            description: "Always true.",
            mutability: Mutability::ReadOnly,
            ..BASE
        },
    ],
    ..BASE
};

/// `emails` as the client sends them (`userNameFormat: any`).
const EMAILS_KEPT: Attribute = Attribute {
    name: "emails",
    ty: AttributeType::Complex,
    multi_valued: true,
    description: "The user's email address, as the client sends it: one address is kept \
                  (the primary one, else the first), validated as an address.",
    sub_attributes: &[
        Attribute {
            name: "value",
            description: "Email address.",
            ..BASE
        },
        Attribute {
            name: "type",
            description: "Label of the address.",
            canonical_values: &["work", "home", "other"],
            ..BASE
        },
        Attribute {
            name: "primary",
            ty: AttributeType::Boolean,
            description: "Whether this is the primary address.",
            ..BASE
        },
    ],
    ..BASE
};

const PHONE_NUMBERS: Attribute = Attribute {
    name: "phoneNumbers",
    ty: AttributeType::Complex,
    multi_valued: true,
    description: "At most one phone number in E.164 form. Set at creation; a \
                  different value afterwards is refused.",
    mutability: Mutability::Immutable,
    sub_attributes: &[
        Attribute {
            name: "value",
            description: "Phone number in E.164 form, e.g. +46701234567.",
            mutability: Mutability::Immutable,
            ..BASE
        },
        Attribute {
            name: "type",
            description: "Label of the number.",
            mutability: Mutability::Immutable,
            canonical_values: &["work", "mobile", "home", "fax", "pager", "other"],
            ..BASE
        },
        Attribute {
            name: "primary",
            ty: AttributeType::Boolean,
            description: "Whether this is the primary number.",
            mutability: Mutability::Immutable,
            ..BASE
        },
    ],
    ..BASE
};

const GROUPS: Attribute = Attribute {
    name: "groups",
    ty: AttributeType::Complex,
    multi_valued: true,
    description: "The groups the user belongs to. Changed through the Group resource.",
    mutability: Mutability::ReadOnly,
    sub_attributes: &[
        Attribute {
            name: "value",
            description: "The group's id.",
            case_exact: true,
            mutability: Mutability::ReadOnly,
            ..BASE
        },
        Attribute {
            name: "$ref",
            ty: AttributeType::Reference,
            description: "The group's URI.",
            case_exact: true,
            mutability: Mutability::ReadOnly,
            reference_types: &["Group"],
            ..BASE
        },
        Attribute {
            name: "display",
            description: "The group's displayName.",
            mutability: Mutability::ReadOnly,
            ..BASE
        },
        Attribute {
            name: "type",
            description: "Always 'direct'.",
            mutability: Mutability::ReadOnly,
            canonical_values: &["direct"],
            ..BASE
        },
    ],
    ..BASE
};

/// The User schema's attributes, with the userName and emails of one
/// policy.
const fn user_attributes(user_name: Attribute, emails: Attribute) -> [Attribute; 8] {
    [
        user_name,
        NAME,
        DISPLAY_NAME,
        TITLE,
        ACTIVE,
        emails,
        PHONE_NUMBERS,
        GROUPS,
    ]
}

static USER_ATTRIBUTES: [Attribute; 8] = user_attributes(USER_NAME_EMAIL, EMAILS_DERIVED);
static USER_ANY_NAME_ATTRIBUTES: [Attribute; 8] = user_attributes(USER_NAME_ANY, EMAILS_KEPT);

/// The core User schema (RFC 7643 §4.1), as far as scimitar supports it:
/// userName is an email address and emails derive from it (the default
/// policy).
pub static USER_SCHEMA: Schema = Schema {
    id: USER_SCHEMA_URN,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRIBUTES,
};

/// The same where userName may be any string and emails are the client's
/// (`userNameFormat: any`).
pub static USER_ANY_NAME_SCHEMA: Schema = Schema {
    id: USER_SCHEMA_URN,
    name: "User",
    description: "User Account",
    attributes: &USER_ANY_NAME_ATTRIBUTES,
};

/// The enterprise User extension (RFC 7643 §4.3), recognised and ignored.
pub static ENTERPRISE_USER_SCHEMA: Schema = Schema {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise User extension: accepted from clients and ignored.",
    attributes: &[
        string("employeeNumber", "Employee number."),
        string("costCenter", "Cost center."),
        string("organization", "Organization."),
        string("division", "Division."),
        string("department", "Department."),
        Attribute {
            name: "manager",
            ty: AttributeType::Complex,
            description: "The user's manager.",
            sub_attributes: &[
                string("value", "The manager's id."),
                Attribute {
                    name: "$ref",
                    ty: AttributeType::Reference,
                    reference_types: &["User"],
                    ..BASE
                },
                Attribute {
                    name: "displayName",
                    mutability: Mutability::ReadOnly,
                    ..BASE
                },
            ],
            ..BASE
        },
    ],
};

/// The core Group schema (RFC 7643 §4.2).
pub static GROUP_SCHEMA: Schema = Schema {
    id: GROUP_SCHEMA_URN,
    name: "Group",
    description: "Group. Created by an administrator of the service (POST /Groups is \
                  refused); identity providers match it by externalId and manage its members.",
    attributes: &[
        Attribute {
            name: "displayName",
            description: "The group's name.",
            required: true,
            ..BASE
        },
        Attribute {
            name: "members",
            ty: AttributeType::Complex,
            multi_valued: true,
            description: "The group's members: users of the same tenant.",
            sub_attributes: &[
                Attribute {
                    name: "value",
                    description: "The member's user id.",
                    case_exact: true,
                    mutability: Mutability::Immutable,
                    ..BASE
                },
                Attribute {
                    name: "$ref",
                    ty: AttributeType::Reference,
                    description: "The member's URI.",
                    case_exact: true,
                    mutability: Mutability::Immutable,
                    reference_types: &["User"],
                    ..BASE
                },
                Attribute {
                    name: "display",
                    description: "The member's displayName.",
                    mutability: Mutability::ReadOnly,
                    ..BASE
                },
                Attribute {
                    name: "type",
                    description: "Always 'User'.",
                    mutability: Mutability::Immutable,
                    canonical_values: &["User"],
                    ..BASE
                },
            ],
            ..BASE
        },
    ],
};

/// The User resource type, at `/Users`.
pub static USER: ResourceType = ResourceType {
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    ignored_extensions: &[&ENTERPRISE_USER_SCHEMA],
};

/// The User resource type where userName may be any string
/// (`userNameFormat: any`): the same endpoint, with
/// [`USER_ANY_NAME_SCHEMA`].
pub static USER_ANY_NAME: ResourceType = ResourceType {
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_ANY_NAME_SCHEMA,
    ignored_extensions: &[&ENTERPRISE_USER_SCHEMA],
};

/// The Group resource type, at `/Groups`.
pub static GROUP: ResourceType = ResourceType {
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    ignored_extensions: &[],
};

/// Every resource type the service offers.
pub static RESOURCE_TYPES: &[&ResourceType] = &[&USER, &GROUP];

/// Where a resolved attribute comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The resource type's core schema or a common attribute.
    Core,
    /// A recognised extension that scimitar accepts and ignores.
    IgnoredExtension(&'static Schema),
}

/// An attribute name resolved against a resource type: the top-level
/// attribute and, optionally, one of its sub-attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedAttr {
    /// Which schema the attribute belongs to.
    pub origin: Origin,
    /// The top-level attribute.
    pub attr: &'static Attribute,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'static Attribute>,
}

impl ResolvedAttr {
    /// The attribute the path finally designates (the sub-attribute if any).
    pub fn target(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attr)
    }

    /// Canonical dotted name, e.g. `name.givenName`.
    pub fn dotted(&self) -> String {
        match self.sub {
            Some(sub) => format!("{}.{}", self.attr.name, sub.name),
            None => self.attr.name.to_owned(),
        }
    }

    /// Whether the attribute belongs to an ignored extension.
    pub fn is_ignored(&self) -> bool {
        matches!(self.origin, Origin::IgnoredExtension(_))
    }
}

/// Looks an attribute up by name, ignoring case (RFC 7643 §2.1).
pub fn find<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

impl Attribute {
    /// Looks a sub-attribute up by name, ignoring case.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

impl ResourceType {
    /// All schemas whose URN may prefix an attribute name of this type.
    fn schemas(&self) -> impl Iterator<Item = (&'static Schema, Origin)> + '_ {
        std::iter::once((self.schema, Origin::Core)).chain(
            self.ignored_extensions
                .iter()
                .map(|s| (*s, Origin::IgnoredExtension(s))),
        )
    }

    /// Splits a URN prefix off `path`: returns the schema it names and the
    /// rest of the path. `None` when `path` does not start with a known URN
    /// (a path without any URN prefix returns the core schema and `path`).
    pub fn split_urn<'p>(&self, path: &'p str) -> Option<(&'static Schema, Origin, &'p str)> {
        if !starts_with_ignore_case(path, "urn:") {
            return Some((self.schema, Origin::Core, path));
        }
        self.schemas().find_map(|(schema, origin)| {
            let rest = strip_prefix_ignore_case(path, schema.id)?;
            match rest.strip_prefix(':') {
                Some(rest) => Some((schema, origin, rest)),
                // The bare URN names the whole extension object.
                None if rest.is_empty() => Some((schema, origin, "")),
                None => None,
            }
        })
    }

    /// Resolves `attr` or `attr.sub`, optionally URN-qualified, ignoring case.
    pub fn resolve(&self, path: &str) -> Option<ResolvedAttr> {
        let (schema, origin, rest) = self.split_urn(path)?;
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        let attr = self.attribute_in(schema, origin, name)?;
        let sub = match sub {
            Some(sub) => Some(attr.sub_attribute(sub)?),
            None => None,
        };
        Some(ResolvedAttr { origin, attr, sub })
    }

    /// Resolves a top-level attribute name in `schema` (common attributes are
    /// part of the core schema).
    pub fn attribute_in(
        &self,
        schema: &'static Schema,
        origin: Origin,
        name: &str,
    ) -> Option<&'static Attribute> {
        let own = find(schema.attributes, name);
        match origin {
            Origin::Core => own.or_else(|| find(COMMON_ATTRIBUTES, name)),
            Origin::IgnoredExtension(_) => own,
        }
    }

    /// The schema URNs a resource of this type lists in `schemas`.
    pub fn schema_urns(&self) -> Vec<&'static str> {
        vec![self.schema.id]
    }

    /// The `/ResourceTypes` representation (RFC 7643 §6).
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": location},
        })
    }
}

impl Schema {
    /// The `/Schemas` representation (RFC 7643 §7).
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": location},
        })
    }
}

impl Attribute {
    /// The attribute's definition in a `/Schemas` document (RFC 7643 §7).
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "name": self.name,
            "type": match self.ty {
                AttributeType::String => "string",
                AttributeType::Boolean => "boolean",
                AttributeType::Decimal => "decimal",
                AttributeType::Integer => "integer",
                AttributeType::DateTime => "dateTime",
                AttributeType::Binary => "binary",
                AttributeType::Reference => "reference",
                AttributeType::Complex => "complex",
            },
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            },
            "uniqueness": match self.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
                Uniqueness::Global => "global",
            },
        });
        if !self.canonical_values.is_empty() {
            out["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            out["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            out["subAttributes"] = self.sub_attributes.iter().map(Attribute::to_json).collect();
        }
        out
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    starts_with_ignore_case(s, prefix).then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_ignoring_case_and_urn() {
        let a = USER.resolve("USERNAME").unwrap();
        assert_eq!(a.attr.name, "userName");
        let b = USER
            .resolve("urn:ietf:params:scim:schemas:core:2.0:User:name.GivenName")
            .unwrap();
        assert_eq!(b.dotted(), "name.givenName");
        assert!(!b.is_ignored());
        let c = USER
            .resolve("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
            .unwrap();
        assert!(c.is_ignored());
        assert_eq!(
            USER.resolve("meta.lastModified").unwrap().target().ty,
            AttributeType::DateTime
        );
        assert!(USER.resolve("nickName").is_none());
        assert!(USER.resolve("name.nope").is_none());
        assert!(USER.resolve("urn:unknown:thing:userName").is_none());
        assert!(GROUP.resolve("members.value").is_some());
        assert!(GROUP.resolve("userName").is_none());
    }

    #[test]
    fn published_schema_says_what_is_enforced() {
        let doc = USER_SCHEMA.to_json("/Schemas/x");
        let emails = doc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(emails["mutability"], "readOnly");
        let phones = doc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "phoneNumbers")
            .unwrap();
        assert_eq!(phones["mutability"], "immutable");
    }
}
