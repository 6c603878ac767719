"""Help that reads like a manual, not like Python: ``CASE``, ``PATH``, ``N`` and ``0 to 64`` where typer would
print ``{case}``, ``<path>``, ``<int range> [0<=x<=64]`` and ``<list[str]>``, flags shown as flags, and every
default said (a flag that is off says so).

One rule for every command, applied when the command tree is built (``HumanGroup``), so no command has to
remember it; a parameter given an explicit ``metavar`` keeps it."""

from __future__ import annotations

from typing import Any, get_args, get_origin

from typer.core import TyperGroup


def _metavar(param: Any) -> str:
    if param.param_type_name == "argument":
        word = (param.name or "value").upper().replace("_", "-")
    else:
        long_names = [o for o in param.opts if o.startswith("--")] or param.opts
        word = _type_word(param.type_descriptor) or long_names[0].lstrip("-").split("-")[-1].upper()
    return word + ("..." if param.nargs == -1 or getattr(param, "multiple", False) else "")


def _type_word(descriptor: Any) -> str | None:
    if descriptor.is_path or descriptor.is_file:
        return "PATH"
    annotation = descriptor.annotation
    element = get_args(annotation)[0] if get_origin(annotation) is list else annotation
    return "N" if element in (int, float) else None


def _range_words(param: Any) -> str | None:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"{low} or more"
    if high is not None:
        return f"at most {high}"
    return None


def _flag_default(param: Any) -> str:
    """``--live`` (a pair shows the spelling that is the default), or ``off``/``on`` for a lone flag.  A flag whose
    default is None (decided when the command runs) says its default in its help text instead."""
    if param.secondary_opts:
        return (param.opts if param.default else param.secondary_opts)[0]
    return "on" if param.default else "off"


def humanise(param: Any) -> None:
    """Sets the metavar, the range words and (for a flag) the default shown for one typer parameter."""
    if getattr(param, "is_flag", False):
        if param.metavar is None:
            param.metavar = ""  # a flag takes no value: no type shown
        if not param.hidden and param.name not in ("help", "version") and param.default is not None:
            default = _flag_default(param)
            param._get_default_string = lambda **_kwargs: default
            param.show_default = True
        return
    if param.metavar is None:
        param.metavar = _metavar(param)
    words = _range_words(param)
    param._get_number_range_help_str = lambda: words
    if param.param_type_name == "argument":
        usage = param.metavar if param.required else f"[{param.metavar}]"
        param._usage_display_name = lambda: usage  # typer writes a required one as {NAME}
        param.display_type_rich = lambda ctx: None  # the name says it: no <path> beside it


def _humanise_command(command: Any) -> None:
    """Every parameter of the command and its sub-commands, including those click adds late (--help)."""
    listed = command.get_params

    def humanised_params(ctx: Any) -> list[Any]:
        params = listed(ctx)
        for param in params:
            if not getattr(param, "_fieldlab_humanised", False):
                humanise(param)
                param._fieldlab_humanised = True
        return params

    command.get_params = humanised_params
    for sub in getattr(command, "commands", {}).values():
        _humanise_command(sub)


class HumanGroup(TyperGroup):
    """The top-level group: humanises the help of the whole command tree once, when typer builds it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _humanise_command(self)

    def invoke(self, ctx: Any) -> Any:
        """An error of fieldlab's own tree that no command handled ends the command in one way: its own words and
        its exit code, never a traceback; anything else is a fault of fieldlab and keeps its traceback."""
        from fieldlab.cli.common import fail
        from fieldlab.errors import FieldlabError, exit_code, message

        try:
            return super().invoke(ctx)
        except FieldlabError as exc:
            fail(message(exc), exit_code(exc))
