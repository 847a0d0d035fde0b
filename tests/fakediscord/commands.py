"""Application commands: registration checked as Discord checks it, and the
options an invocation may carry (what a Discord client would ever send).

Sources, all discord-api-docs `developers/interactions/application-commands.mdx`:
"Application Command Naming", "Application Command Structure", "Application
Command Option Structure" (and its option types and choice structure),
"Subcommands and Subcommand Groups", "Autocomplete", and the 8000-character
warning under "Slash Commands".
"""

from __future__ import annotations

import re
from typing import Any

from .limits import Errors, field_error

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
OPTION_TYPES = range(1, 12)
CHAT_INPUT = 1
OPTIONS_MAX = 25  # "Parameters for the command, max of 25"; nested options "up to 25"
CHOICES_MAX = 25  # "Choices for the user to pick from, max 25"
CHOICE_NAME_MAX = 100  # "1-100 character choice name"
CHOICE_VALUE_MAX = 100  # "Value for the choice, up to 100 characters if string"
DESCRIPTION_MAX = 100  # "1-100 character description"
LENGTH_BOUNDS = {"min_length": (0, 6000), "max_length": (1, 6000)}
COMMAND_TEXT_MAX = 8000  # combined name, description and value properties per command
# "^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$"; Python's \w is letters, digits and "_".
NAME = re.compile(r"^[-'\w]{1,32}$")
CHOICE_TYPES = (STRING, INTEGER, NUMBER)  # choices / autocomplete: "STRING, INTEGER, NUMBER"
INTEGER_SPAN = 2**53 - 1  # INTEGER: "Any integer between -2^53+1 and 2^53-1"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _name_error(name: Any) -> Errors | None:
    # "If there is a lowercase variant of any letters used, you must use those."
    if not isinstance(name, str) or not NAME.match(name) or name != name.lower():
        return field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    return None


def _description_error(description: Any) -> Errors | None:
    if not isinstance(description, str) or not 1 <= len(description) <= DESCRIPTION_MAX:
        return field_error("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {DESCRIPTION_MAX} in length.")
    return None


def _choice_value_ok(kind: int, value: Any) -> bool:
    # "Type of value depends on the option type that the choice belongs to."
    if kind == STRING:
        return isinstance(value, str) and len(value) <= CHOICE_VALUE_MAX
    if kind == INTEGER:
        return _is_int(value) and abs(value) <= INTEGER_SPAN
    return _is_number(value)


def choices_errors(kind: int, choices: list[Any]) -> Errors:
    if kind not in CHOICE_TYPES:
        return field_error("APPLICATION_COMMAND_OPTION_CHOICES_INVALID", "Only string, integer and number options take choices")
    if len(choices) > CHOICES_MAX:
        return field_error("BASE_TYPE_MAX_LENGTH", f"Must be {CHOICES_MAX} or fewer in length.")
    errors: Errors = {}
    for i, choice in enumerate(choices):
        one: Errors = {}
        name = choice.get("name") if isinstance(choice, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= CHOICE_NAME_MAX:
            one["name"] = field_error("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {CHOICE_NAME_MAX} in length.")
        if not isinstance(choice, dict) or not _choice_value_ok(kind, choice.get("value")):
            one["value"] = field_error("BASE_TYPE_BAD_TYPE", "Choice value does not fit the option type")
        if one:
            errors[str(i)] = one
    return errors


def _option_errors(option: dict[str, Any], *, depth: int) -> Errors:
    """One option's own fields; `depth` 0 is the command's own list, 1 inside a
    subcommand or group, 2 inside a grouped subcommand."""
    errors: Errors = {}
    kind = option.get("type")
    if kind not in OPTION_TYPES:
        return {"type": field_error("BASE_TYPE_CHOICES", "Value must be one of {1, 2, ..., 11}.")}
    if (e := _name_error(option.get("name"))) is not None:
        errors["name"] = e
    if (e := _description_error(option.get("description"))) is not None:
        errors["description"] = e
    nested = option.get("options") or []
    if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
        # "We support nesting one level deep within a group ... That is the only kind of nesting supported."
        if kind == SUB_COMMAND_GROUP and depth > 0 or kind == SUB_COMMAND and depth > 1:
            errors["type"] = field_error("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands nest one level deep in a group only")
        if option.get("required"):  # required: "all but SUB_COMMAND and SUB_COMMAND_GROUP"
            errors["required"] = field_error("APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Sub-commands cannot be required")
        if kind == SUB_COMMAND_GROUP and any(o.get("type") != SUB_COMMAND for o in nested):
            errors["options"] = field_error("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "A group holds only sub-commands")
        elif (e := options_errors(nested, depth=depth + 1)):
            errors["options"] = e
    elif nested:  # options?: "SUB_COMMAND, SUB_COMMAND_GROUP" only
        errors["options"] = field_error("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Only sub-commands and groups have options")
    choices = option.get("choices")
    if choices:
        if (e := choices_errors(kind, choices)):
            errors["choices"] = e
        if option.get("autocomplete"):  # "autocomplete may not be set to true if choices are present"
            errors["autocomplete"] = field_error("APPLICATION_COMMAND_AUTOCOMPLETE_INVALID", "Autocomplete cannot be used with choices")
    if option.get("autocomplete") and kind not in CHOICE_TYPES:
        errors["autocomplete"] = field_error("APPLICATION_COMMAND_AUTOCOMPLETE_INVALID", "Only string, integer and number options autocomplete")
    for key, (low, high) in LENGTH_BOUNDS.items():
        if key in option:
            if kind != STRING:
                errors[key] = field_error("BASE_TYPE_INVALID", f"{key} is only for string options")
            elif not _is_int(option[key]) or not low <= option[key] <= high:
                errors[key] = field_error("NUMBER_TYPE_MIN_MAX", f"{key} must be between {low} and {high}")
    if option.get("min_length", 0) > option.get("max_length", 6000) and kind == STRING:
        errors["min_length"] = field_error("BASE_TYPE_INVALID", "min_length is above max_length")
    for key in ("min_value", "max_value"):
        if key in option and (kind not in (INTEGER, NUMBER) or not _is_number(option[key])):
            errors[key] = field_error("BASE_TYPE_INVALID", f"{key} is only for integer and number options")
    if option.get("channel_types") and kind != CHANNEL:
        errors["channel_types"] = field_error("BASE_TYPE_INVALID", "channel_types is only for channel options")
    return errors


def options_errors(options: list[Any], *, depth: int = 0) -> Errors:
    """Errors for an options array (the command's, or a subcommand's / group's)."""
    if not isinstance(options, list):
        return field_error("BASE_TYPE_BAD_TYPE", "Must be an array")
    if len(options) > OPTIONS_MAX:
        return field_error("BASE_TYPE_MAX_LENGTH", f"Must be {OPTIONS_MAX} or fewer in length.")
    errors: Errors = {}
    kinds = [o.get("type") if isinstance(o, dict) else None for o in options]
    subs = [k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds]
    if any(subs) and not all(subs):
        # "Using subcommands or subcommand groups will make your base command unusable."
        return field_error(
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        )
    seen: set[str] = set()
    optional_seen = False
    for i, option in enumerate(options):
        if not isinstance(option, dict):
            errors[str(i)] = field_error("BASE_TYPE_BAD_TYPE", "Must be an object")
            continue
        one = _option_errors(option, depth=depth)
        name = option.get("name")
        if name in seen:  # "name must be unique within an array of application command options"
            one["name"] = field_error("APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS", "Option names must be unique")
        seen.add(name)
        if option.get("type") not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            # "Required options must be listed before optional options"
            if option.get("required") and optional_seen:
                one["required"] = field_error(
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            optional_seen = optional_seen or not option.get("required")
        if one:
            errors[str(i)] = one
    return errors


def _text_size(node: Any) -> int:
    """Characters Discord counts towards the 8000 per command: names, descriptions, values."""
    if isinstance(node, list):
        return sum(_text_size(n) for n in node)
    if not isinstance(node, dict):
        return 0
    size = sum(len(str(node[k])) for k in ("name", "description", "value") if node.get(k) is not None)
    return size + _text_size(node.get("options") or []) + _text_size(node.get("choices") or [])


def command_errors(command: dict[str, Any]) -> Errors:
    """Errors for one command of a bulk overwrite (PUT .../commands)."""
    errors: Errors = {}
    kind = command.get("type", CHAT_INPUT)
    name = command.get("name")
    if kind == CHAT_INPUT:
        if (e := _name_error(name)) is not None:
            errors["name"] = e
        if (e := _description_error(command.get("description"))) is not None:
            errors["description"] = e
        if (e := options_errors(command.get("options") or [])):
            errors["options"] = e
        if not errors and _text_size(command) > COMMAND_TEXT_MAX:
            errors["_errors"] = field_error("APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")[
                "_errors"
            ]
    elif not isinstance(name, str) or not 1 <= len(name) <= 32:  # USER and MESSAGE: any case, spaces
        errors["name"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif command.get("options"):  # "options can only be set for application commands of type CHAT_INPUT"
        errors["options"] = field_error("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Only slash commands have options")
    return errors


def duplicate_names(commands: list[dict[str, Any]]) -> Errors:
    """A bulk overwrite may not name two commands of one type alike."""
    seen: set[tuple[Any, Any]] = set()
    for i, command in enumerate(commands):
        key = (command.get("type", CHAT_INPUT), command.get("name"))
        if key in seen:
            return {str(i): {"name": field_error("APPLICATION_COMMAND_ALREADY_EXISTS", "Application command names must be unique")}}
        seen.add(key)
    return {}


# -- invocations -------------------------------------------------------------------


class Invalid(ValueError):
    """An interaction no Discord client would send for the registered command."""


def _leaf(command: dict[str, Any], options: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """(declared parameters, given parameters, path) after descending the given subcommand/group."""
    declared: list[dict[str, Any]] = list(command.get("options") or [])
    given = list(options)
    path = command["name"]
    while declared and declared[0].get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
        # A command with subcommands is invoked through exactly one of them.
        if len(given) != 1 or given[0].get("type") not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            raise Invalid(f"/{path} must be invoked through one of its sub-commands")
        chosen = next((o for o in declared if o.get("name") == given[0].get("name")), None)
        if chosen is None or chosen.get("type") != given[0].get("type"):
            raise Invalid(f"/{path} has no sub-command {given[0].get('name')!r}")
        path += " " + chosen["name"]
        declared, given = list(chosen.get("options") or []), list(given[0].get("options") or [])
    return declared, given, path


def _value_error(spec: dict[str, Any], value: Any) -> str | None:
    kind = spec["type"]
    if kind == STRING:
        if not isinstance(value, str):
            return "is not a string"
        if not spec.get("min_length", 0) <= len(value) <= spec.get("max_length", 6000):
            return f"has {len(value)} characters, outside {spec.get('min_length', 0)}..{spec.get('max_length', 6000)}"
    elif kind == INTEGER and not _is_int(value) or kind == NUMBER and not _is_number(value):
        return "is not a number of the option's type"
    elif kind == BOOLEAN and not isinstance(value, bool):
        return "is not a boolean"
    elif kind in (USER, CHANNEL, ROLE, MENTIONABLE, ATTACHMENT) and not str(value).isdigit():
        return "is not a snowflake"
    if kind in (INTEGER, NUMBER):
        if "min_value" in spec and value < spec["min_value"] or "max_value" in spec and value > spec["max_value"]:
            return f"is outside {spec.get('min_value')}..{spec.get('max_value')}"
    choices = spec.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        return "is not one of the option's choices"
    return None


def check_invocation(command: dict[str, Any], options: list[dict[str, Any]], *, autocomplete: bool = False) -> dict[str, Any] | None:
    """Raise `Invalid` unless a Discord client could send these options; return the
    focused option's declaration for an autocomplete."""
    declared, given, path = _leaf(command, options)
    by_name = {o["name"]: o for o in declared}
    focused: dict[str, Any] | None = None
    names = set()
    for option in given:
        spec = by_name.get(option.get("name"))
        if spec is None:
            raise Invalid(f"/{path} has no option {option.get('name')!r}")
        if option.get("type") != spec["type"]:
            raise Invalid(f"/{path} {spec['name']}: type {option.get('type')} given, {spec['type']} declared")
        names.add(spec["name"])
        if option.get("focused"):
            if not autocomplete or focused is not None:
                raise Invalid(f"/{path} {spec['name']}: only an autocomplete has one focused option")
            if not spec.get("autocomplete"):
                raise Invalid(f"/{path} {spec['name']}: autocomplete is not enabled for this option")
            focused = spec
            # "you may receive partial strings, but not invalid numbers": a typed prefix, unchecked;
            # a number being typed arrives as its text so far (empty, or digits).
            value = option.get("value")
            if spec["type"] == STRING and isinstance(value, str):
                continue
            if spec["type"] in (INTEGER, NUMBER) and isinstance(value, str) and re.fullmatch(r"-?[0-9]*\.?[0-9]*", value):
                continue
        if (problem := _value_error(spec, option.get("value"))) is not None:
            raise Invalid(f"/{path} {spec['name']}: {option.get('value')!r} {problem}")
    if autocomplete:
        if focused is None:
            raise Invalid(f"/{path}: an autocomplete marks one option \"focused\": true")
        # "options that are otherwise required might not be present" while typing.
        return focused
    missing = [o["name"] for o in declared if o.get("required") and o["name"] not in names]
    if missing:
        raise Invalid(f"/{path}: required option(s) missing: {', '.join(missing)}")
    return None
