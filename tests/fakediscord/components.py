"""Message components (action rows of buttons and selects) and modals, checked as
Discord checks them, and found again when a user presses one.

Sources: discord-api-docs `developers/components/reference.mdx` ("Anatomy of a
Component" custom_id, "Action Row", "Button", "String Select", "Text Input")
and `developers/interactions/receiving-and-responding.mdx` ("Modal").
"""

from __future__ import annotations

from typing import Any

from .limits import Errors, field_error

ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SELECTS = (3, 5, 6, 7, 8)  # string, user, role, mentionable, channel selects
LABEL = 18  # the modal's newer wrapper around one component
LINK_STYLE, PREMIUM_STYLE = 5, 6
ROWS_MAX = 5  # legacy messages: up to 5 action rows
BUTTONS_PER_ROW = 5  # "Up to 5 interactive button components or a single select component"
CUSTOM_ID_MAX = 100  # "Developer-defined identifier, 1-100 characters"
BUTTON_LABEL_MAX = 80  # "Text that appears on the button; max 80 characters"
SELECT_OPTIONS_MAX = 25
IS_COMPONENTS_V2 = 1 << 15
MODAL_TITLE_MAX = 45  # "Title of the popup modal, max 45 characters"
MODAL_COMPONENTS = (1, 5)  # "Between 1 and 5 (inclusive) components"


def _custom_id_error(custom_id: Any) -> Errors | None:
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
        return field_error("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {CUSTOM_ID_MAX} in length.")
    return None


def _button_errors(button: dict[str, Any]) -> Errors:
    errors: Errors = {}
    style = button.get("style")
    if style not in range(1, 7):
        errors["style"] = field_error("BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
    if style == LINK_STYLE:
        # "Link buttons must have a url, and cannot have a custom_id"
        if not button.get("url"):
            errors["url"] = field_error("BASE_TYPE_REQUIRED", "This field is required")
        if button.get("custom_id") is not None:
            errors["custom_id"] = field_error("COMPONENT_CUSTOM_ID_INVALID", "Link buttons cannot have a custom_id")
    elif style != PREMIUM_STYLE:
        # "Non-link and non-premium buttons must have a custom_id, and cannot have a url"
        if (e := _custom_id_error(button.get("custom_id"))) is not None:
            errors["custom_id"] = e
        if button.get("url") is not None:
            errors["url"] = field_error("COMPONENT_INVALID_URL", "Only link buttons have a url")
    label = button.get("label")
    if label is not None and len(str(label)) > BUTTON_LABEL_MAX:
        errors["label"] = field_error("BASE_TYPE_MAX_LENGTH", f"Must be {BUTTON_LABEL_MAX} or fewer in length.")
    if not label and not button.get("emoji") and style != PREMIUM_STYLE:
        errors["label"] = field_error("BASE_TYPE_REQUIRED", "A button needs a label or an emoji")
    return errors


def _select_errors(select: dict[str, Any]) -> Errors:
    errors: Errors = {}
    if (e := _custom_id_error(select.get("custom_id"))) is not None:
        errors["custom_id"] = e
    if select.get("type") == STRING_SELECT:
        options = select.get("options") or []
        if not 1 <= len(options) <= SELECT_OPTIONS_MAX:
            errors["options"] = field_error("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {SELECT_OPTIONS_MAX} in length.")
    return errors


def message_components_errors(components: Any, flags: int = 0) -> Errors:
    """Errors for a message's `components` (legacy layout: action rows at the top)."""
    if components is None:
        return {}
    if flags & IS_COMPONENTS_V2:
        # Honest refusal: the fake does not model the V2 layout, so it cannot vouch for one.
        return field_error("FAKE_UNSUPPORTED", "the fake Discord does not model components V2")
    if not isinstance(components, list) or len(components) > ROWS_MAX:
        return field_error("BASE_TYPE_MAX_LENGTH", f"Must be {ROWS_MAX} or fewer in length.")
    errors: Errors = {}
    seen: set[str] = set()
    for i, row in enumerate(components):
        if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
            errors[str(i)] = {"type": field_error("UNION_TYPE_CHOICES", "Top-level components must be action rows")}
            continue
        children = row.get("components") or []
        kinds = [c.get("type") for c in children]
        one: Errors = {}
        if not children:
            one["components"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        elif any(k in SELECTS for k in kinds) and len(children) != 1:
            one["components"] = field_error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A select fills its action row alone")
        elif len(children) > BUTTONS_PER_ROW:
            one["components"] = field_error("BASE_TYPE_MAX_LENGTH", f"Must be {BUTTONS_PER_ROW} or fewer in length.")
        else:
            child_errors: Errors = {}
            for j, child in enumerate(children):
                kind = child.get("type")
                if kind == BUTTON:
                    e = _button_errors(child)
                elif kind in SELECTS:
                    e = _select_errors(child)
                else:
                    e = {"type": field_error("UNION_TYPE_CHOICES", "Action rows in messages hold buttons or selects")}
                custom_id = child.get("custom_id")
                if isinstance(custom_id, str):
                    # "Multiple components on the same message must not share the same custom_id."
                    if custom_id in seen:
                        e["custom_id"] = field_error("COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
                    seen.add(custom_id)
                if e:
                    child_errors[str(j)] = e
            if child_errors:
                one["components"] = child_errors
        if one:
            errors[str(i)] = one
    return errors


def modal_errors(data: dict[str, Any]) -> Errors:
    """A MODAL (9) callback's data: custom_id, title and 1-5 components."""
    errors: Errors = {}
    if (e := _custom_id_error(data.get("custom_id"))) is not None:
        errors["custom_id"] = e
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= MODAL_TITLE_MAX:
        errors["title"] = field_error("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MODAL_TITLE_MAX} in length.")
    components = data.get("components") or []
    low, high = MODAL_COMPONENTS
    if not low <= len(components) <= high:
        errors["components"] = field_error("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
    return errors


def find(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    """The interactive component with this custom_id on a message, if any."""
    for row in components:
        for child in row.get("components") or []:
            if child.get("custom_id") == custom_id:
                return child
    return None


def modal_inputs(modal: dict[str, Any]) -> list[dict[str, Any]]:
    """The text inputs of a modal, whether in action rows (legacy) or labels."""
    found = []
    for top in modal.get("components") or []:
        if top.get("type") == ACTION_ROW:
            found += [c for c in top.get("components") or [] if c.get("type") == TEXT_INPUT]
        elif top.get("type") == LABEL and (top.get("component") or {}).get("type") == TEXT_INPUT:
            found.append(top["component"])
    return found
