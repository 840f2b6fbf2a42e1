import pytest

from lima_hf.errors import ConfigError
from lima_hf.registry import Registry


def test_register_get_and_lazy_entries():
    registry = Registry("widget", {"json": "json", "dumps": "json:dumps"})
    assert registry.names() == ["json", "dumps"]
    import json

    assert registry.get("json") is json and registry["dumps"] is json.dumps

    @registry.register("mine")
    def mine():
        return 1

    assert "mine" in registry and registry.get("mine") is mine and len(registry) == 3


def test_unknown_name_lists_the_choices():
    with pytest.raises(ConfigError, match=r"unknown widget 'nope' \(choose from a, b\)"):
        Registry("widget", {"a": 1, "b": 2}).get("nope")


def test_check_refuses_entries_that_break_the_contract():
    def check(name, entry):
        if not callable(entry):
            raise TypeError(f"widget {name} is not callable")

    registry = Registry("widget", {"lazy": "json:__name__"}, check=check)
    with pytest.raises(TypeError, match="not callable"):
        registry.register("bad", 3)
    with pytest.raises(TypeError, match="widget lazy is not callable"):
        registry.get("lazy")
