"""Building models whose values are already typed, without validation.

`Model.model_construct` skips validation but still walks every field to fill
defaults, which costs more than validating small models. The parser's hot
path builds models from values it made itself (ints, strs, tuples of models),
so it sets the instance state directly, as model_construct does. Callers pass
every field; anything else falls back to model_construct. The property tests
re-validate parse results (`ParsedMail.model_validate(obj.model_dump())`).
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new: Final = object.__new__
# BaseModel's four slots, set through their descriptors: a third faster than
# object.__setattr__, which looks each name up through the class first.
# (Final: compiled, C statics, not a module-dict lookup each per call.)
_slots = BaseModel.__dict__
_set_dict: Final = _slots["__dict__"].__set__
_set_fields_set: Final = _slots["__pydantic_fields_set__"].__set__
_set_extra: Final = _slots["__pydantic_extra__"].__set__
_set_private: Final = _slots["__pydantic_private__"].__set__
# One "fields set" per class, shared by its instances: every field is set, the
# models are frozen, and pydantic copies the set before changing it
# (model_copy). A set per instance cost an allocation and a GC-tracked object.
_FIELDS: Final[dict[type, set[str]]] = {}


def construct(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of `cls` holding `values` (which must name every field)."""
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = set(cls.model_fields)
    if len(values) != len(fields):
        return cls.model_construct(**values)
    obj = _new(cls)
    _set_dict(obj, values)
    _set_fields_set(obj, fields)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj
