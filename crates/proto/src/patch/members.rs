//! Group `members` operations as member set operations.
//!
//! The one rule that matters most: a `remove` of `members` that carries a
//! value list (Entra without `aadOptscim062020`, JumpCloud, OneLogin)
//! removes *those* members. Read literally, RFC 7644 §3.5.2.2 would remove
//! all members ("no filter specified") and the value would be ignored: that
//! reading is how groups get emptied in production. Only a `remove` of
//! `members` without any value empties the group.

use serde_json::Value;

use super::{MAX_MEMBERS_PER_REQUEST, MemberOp, PatchOpKind, PatchOutcome, Target};
use crate::ScimError;
use crate::dialect;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::resource::{MAX_STRING_CHARS, check_string, member_list_error, note, too_many_members};

pub(super) fn apply(
    op: PatchOpKind,
    target: &Target,
    value: Option<&Value>,
    path: &str,
    outcome: &mut PatchOutcome,
) -> Result<(), ScimError> {
    let value = value.filter(|v| !v.is_null());
    match (target.sub, &target.filter) {
        // `members[value eq "ID"].value` selects the same members.
        (None, _) => {}
        (Some(sub), Some(_)) if sub.name == "value" => {}
        // `display`, `$ref` and `type` are derived from the user.
        (Some(_), Some(_)) => {
            note(&mut outcome.ignored, path.to_owned());
            return Ok(());
        }
        // A whole-list `members.value` has no meaning of its own.
        (Some(sub), None) => {
            return Err(ScimError::invalid_path(format!(
                "members.{} cannot be patched on its own; use the path \"members\" with \
                 [{{\"value\": USER_ID}}] or \"members[value eq \\\"USER_ID\\\"]\"",
                sub.name
            )));
        }
    }
    if let Some(filter) = &target.filter {
        if op != PatchOpKind::Remove {
            return Err(ScimError::invalid_path(
                "members can be added or replaced only with the path \"members\" and a value \
                 list [{\"value\": USER_ID}]",
            ));
        }
        let ids = selected_ids(filter).ok_or_else(|| {
            ScimError::invalid_filter(
                "members can only be selected by value: members[value eq \"USER_ID\"], or \
                 several such comparisons joined with 'or'",
            )
        })?;
        return push(outcome, MemberOp::Remove(ids));
    }
    let ids = |v: &Value| -> Result<Vec<String>, ScimError> {
        dialect::member_ids(v).map_err(|e| member_list_error("members", &e))
    };
    let member_op = match (op, value) {
        (PatchOpKind::Add, None) => return Ok(()),
        (PatchOpKind::Add, Some(v)) => MemberOp::Add(ids(v)?),
        (PatchOpKind::Replace, None) => MemberOp::Replace(Vec::new()),
        (PatchOpKind::Replace, Some(v)) => MemberOp::Replace(ids(v)?),
        (PatchOpKind::Remove, None) => MemberOp::Replace(Vec::new()),
        // Never "remove all": only the listed members go.
        (PatchOpKind::Remove, Some(v)) => MemberOp::Remove(ids(v)?),
    };
    push(outcome, member_op)
}

fn push(outcome: &mut PatchOutcome, op: MemberOp) -> Result<(), ScimError> {
    let ids = op.ids();
    let named: usize = outcome.members.iter().map(|op| op.ids().len()).sum();
    if named + ids.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(too_many_members(named + ids.len()));
    }
    for id in ids {
        check_string("members.value", id, MAX_STRING_CHARS)?;
    }
    // An empty Add or Remove changes nothing; an empty Replace empties.
    if ids.is_empty() && !matches!(op, MemberOp::Replace(_)) {
        return Ok(());
    }
    outcome.members.push(op);
    Ok(())
}

/// The ids of `value eq "ID"` comparisons joined by `or`, or `None` when
/// the filter says anything else.
fn selected_ids(filter: &Filter) -> Option<Vec<String>> {
    let mut ids = Vec::new();
    collect(filter, &mut ids)?;
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    Some(ids)
}

fn collect(filter: &Filter, ids: &mut Vec<String>) -> Option<()> {
    match filter {
        Filter::Or(left, right) => {
            collect(left, ids)?;
            collect(right, ids)
        }
        Filter::Compare(attr, CompareOp::Eq, CompValue::String(id))
            if attr.sub.is_some_and(|s| s.name == "value") =>
        {
            ids.push(id.trim().to_owned());
            Some(())
        }
        _ => None,
    }
}
