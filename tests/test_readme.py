"""README keeps its contract: the two commands, and every model parameter documented."""

from __future__ import annotations

import re

from models import ConsumerSpendModel
from sim.config import Config
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert block is not None and README.index("```bash") < README.index("## ")
    lines = block.group(1).strip().splitlines()
    assert lines == [
        "python -m pip install -e . && goodwill run configs/baseline.toml",
        'python -m pip install -e ".[test]" && python -m pytest',
    ]


def _keys(model: type, prefix: str) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = getattr(annotation, "__args__", (annotation,))[0]
        key = f"{prefix}{name}"
        if isinstance(nested, type) and hasattr(nested, "model_fields"):
            is_list = getattr(annotation, "__origin__", None) is tuple
            keys += _keys(nested, f"{key}[]." if is_list else f"{key}.")
        else:
            keys.append(key)
    return keys


def test_readme_documents_every_config_key():
    keys = _keys(Config, "") + _keys(ConsumerSpendModel, "consumer.")
    missing = [k for k in dict.fromkeys(keys) if f"`{k}`" not in README]
    assert missing == []
