"""Registry behaviour: names, aliases, duplicates, suggestions, kwargs checking."""

from __future__ import annotations

import pytest

from posecli.errors import BuildError, DuplicateNameError, RegistryError, UnknownNameError
from posecli.registry import Registry


class Widget:
    """A widget for tests."""

    def __init__(self, size: int, widen_factor: float = 1.0, *, colour: str = "red") -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self.size, self.widen_factor, self.colour = size, widen_factor, colour


def make_registry() -> Registry[Widget]:
    reg: Registry[Widget] = Registry("widgets")
    reg.register("widget", Widget, aliases=("Widget",), plugin="alpha")
    reg.register("lazy_widget", "tests.foundation.test_registry:Widget", plugin="beta")
    return reg


def test_get_by_name_alias_and_folded_spelling() -> None:
    reg = make_registry()
    assert reg.get("widget").factory is Widget
    assert reg.get("Widget").name == "widget"
    assert reg.get("lazy-widget").name == "lazy_widget"
    assert reg.get("LAZY_WIDGET").name == "lazy_widget"
    assert reg.names() == ["lazy_widget", "widget"]
    assert reg.names("lazy") == ["lazy_widget"]
    assert "Widget" in reg and "gadget" not in reg


def test_entry_knows_its_plugin_and_help() -> None:
    reg = make_registry()
    assert reg.get("widget").plugin == "alpha"
    assert reg.get("widget").help == "A widget for tests."


def test_lazy_factory_resolves_on_use() -> None:
    reg = make_registry()
    built = reg.build("lazy_widget", size=3)
    assert isinstance(built, Widget) and built.size == 3


def test_duplicate_name_names_both_plugins() -> None:
    reg = make_registry()
    with pytest.raises(
        DuplicateNameError,
        match="'widget' from plugin 'gamma' is already registered by plugin 'alpha'",
    ):
        reg.register("widget", Widget, plugin="gamma")
    with pytest.raises(DuplicateNameError, match="'Widget' from plugin 'gamma'.*plugin 'alpha'"):
        reg.register("other", Widget, aliases=("Widget",), plugin="gamma")
    assert reg.names() == ["lazy_widget", "widget"]  # nothing half-registered


def test_names_must_be_snake_case() -> None:
    reg = make_registry()
    with pytest.raises(RegistryError, match="snake_case"):
        reg.register("BadName", Widget, plugin="x")


def test_unknown_name_suggests_close_matches_and_the_list_command() -> None:
    reg = make_registry()
    with pytest.raises(UnknownNameError) as info:
        reg.get("widgte")
    message = str(info.value)
    assert "unknown widget 'widgte'" in message
    assert "did you mean 'widget'" in message
    assert "posecli list widgets" in message


def test_build_rejects_unknown_kwarg_with_dotted_path() -> None:
    reg = make_registry()
    with pytest.raises(
        BuildError,
        match=r"^model\.backbone\.widen_factr: unknown argument of widget 'widget'; did you mean widen_factor\?$",
    ):
        reg.build("widget", _path="model.backbone", size=1, widen_factr=2.0)


def test_build_reports_missing_argument_and_wraps_value_errors() -> None:
    reg = make_registry()
    with pytest.raises(BuildError, match=r"model\.backbone: missing argument 'size'"):
        reg.build("widget", _path="model.backbone")
    with pytest.raises(BuildError, match=r"^model\.backbone: size must be >= 0$"):
        reg.build("widget", _path="model.backbone", size=-1)


def test_build_from_table() -> None:
    reg = make_registry()
    built = reg.build_from({"name": "Widget", "size": 2, "colour": "blue"}, path="x")
    assert (built.size, built.colour) == (2, "blue")
    with pytest.raises(BuildError, match="x: missing key 'name'"):
        reg.build_from({"size": 2}, path="x")


def test_prefix_family_passes_the_suffix() -> None:
    reg: Registry[tuple[str, int]] = Registry("backbones")

    def timm_like(model_name: str, depth: int = 1) -> tuple[str, int]:
        return model_name, depth

    reg.register("timm:", timm_like, plugin="posecli")
    assert reg.build("timm:resnet18", depth=2) == ("resnet18", 2)
    with pytest.raises(BuildError, match="model.backbone.dpeth"):
        reg.build("timm:resnet18", _path="model.backbone", dpeth=2)


def test_unregister_removes_aliases() -> None:
    reg = make_registry()
    reg.unregister("widget")
    assert "Widget" not in reg
    reg.register("widget", Widget, aliases=("Widget",), plugin="delta")
    assert reg.get("Widget").plugin == "delta"
