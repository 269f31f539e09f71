//! What the schemes' and the parameter modules' tests share.

use std::borrow::Cow;

use crate::form::query_and_form_params;
use crate::name_order::NameOrder;
use crate::raw_params::{RawParam, raw_params};
use crate::sorted_params::sort_distinct;

/// Values with every kind of escape: valid, lone `%`, `+`, and escapes of bytes that are
/// not UTF-8 on their own.
pub(crate) const ESCAPED_VALUE: &str = "([a-z0-9~*/ :=]|%[0-9A-Fa-f]{2}|%|\\+|é)*";

/// Values as the SDKs encode them, give or take an escape of an unreserved or non-ASCII
/// byte.
pub(crate) const SDK_VALUE: &str =
    "[a-zA-Z0-9~._-]{0,3}(%[0-9A-F]{2}[a-zA-Z0-9~._-]{0,3}|%[2-7][0-9A-Fa-f][a-zA-Z0-9~._-]{0,3}){0,3}";

/// Either kind of value.
pub(crate) fn any_value() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::prop_oneof![ESCAPED_VALUE, SDK_VALUE]
}

/// The query `name=value&...` of `names` with `values`.
pub(crate) fn query_of<'n>(names: impl IntoIterator<Item = &'n String>, values: &[String]) -> String {
    let pairs: Vec<String> = names.into_iter().zip(values).map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

/// `query`'s pairs as sent and decoded, each sorted by `order`; `None` if the raw path
/// declines them. (Values that are not UTF-8 once decoded are kept: the writers must
/// agree on them too, though the verifiers refuse them first.)
#[allow(clippy::type_complexity)]
pub(crate) fn raw_and_decoded(
    query: &str,
    order: NameOrder,
) -> Option<(Vec<RawParam<'_>>, Vec<(Cow<'_, str>, Cow<'_, str>)>)> {
    let mut raw = raw_params(query, b"", order)?;
    if !sort_distinct(&mut raw, order) {
        return None;
    }
    let mut decoded = query_and_form_params(query, b"");
    decoded.sort_by(|a, b| order.cmp(&a.0, &b.0));
    Some((raw, decoded))
}

/// Either order.
pub(crate) fn any_order() -> impl proptest::strategy::Strategy<Value = NameOrder> {
    proptest::prop_oneof![
        proptest::strategy::Just(NameOrder::Bytes),
        proptest::strategy::Just(NameOrder::UnderscoreAsDot)
    ]
}
